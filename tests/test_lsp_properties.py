"""The language server's position features over generated specs: hover, go-to-definition
and completion at the start and end of every word of specs drawn from the grammar, of
specs whose shapes disagree, and of mutated ones, answer without raising (the server
would send an error for each), with a hover that has text, a definition that is a file
location and a completion list. Called in process: tests/test_lsp.py drives the server."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp

from netdsl import api
from netdsl.lsp import features

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fuzz.specgen import mutated_specs, valid_specs  # noqa: E402

TEXTS = st.one_of(
    valid_specs(alternatives=True).map(lambda s: s.text),
    valid_specs(sloppy=True).map(lambda s: s.text),
    mutated_specs().map(lambda b: b.decode("utf-8", "replace")),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_every_position_of_a_generated_spec_has_an_answer(tmp_path_factory, text):
    path = str(tmp_path_factory.getbasetemp() / "main.net")
    index = features.Index(path, text, api.analyze(text, file=path))
    features.diagnostics(index)
    for line, content in enumerate(text.split("\n")):
        for word in re.finditer(r"\w+|[(,=:]", content):
            for column in (word.start(), word.end()):
                at = lsp.Position(line, column)
                hover = features.hover(index, at)
                assert hover is None or hover.contents.value.strip()  # nothing, or something to read
                found = features.definition(index, at)
                assert found is None or all(loc.uri.startswith("file://") for loc in _locations(found))
                assert isinstance(features.completion(index, text, at, index.program), lsp.CompletionList)


def _locations(found) -> list:
    return found if isinstance(found, list) else [found]
