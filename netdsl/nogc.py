"""Pause Python's cyclic garbage collector around allocation-heavy front-end work.

Parsing and elaboration allocate hundreds of thousands of small objects that all stay
alive until the result is returned, and create no reference cycles worth collecting.
With the collector running, CPython keeps re-scanning that growing heap: on a
10,000-layer spec more than half of the parse time went to collection. Reference
counting still frees everything that dies; the collector simply runs again afterwards
(the approach mypy takes for the same reason)."""

from __future__ import annotations

import gc
from contextlib import contextmanager

__all__ = ["paused_gc"]


@contextmanager
def paused_gc():
    """Disable automatic collection inside the block (re-entrant; restores the old state)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
