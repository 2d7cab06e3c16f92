"""Hypothesis profiles for the suite.

`ci` (the default): each property draws the same examples on every run
(`derandomize`), so `make test` passes or fails for the code, not for the draw, and
a failure found on one machine shows on every other. New examples are looked for on
purpose, outside the suite's budget: `make fuzz`, or the properties run again and
again with fresh random draws::

    .venv/bin/python -m pytest tests/test_codegen.py -k generated --hypothesis-profile=explore
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", database=None, print_blob=True)
settings.load_profile(os.environ.get("NETDSL_HYPOTHESIS_PROFILE", "ci"))
