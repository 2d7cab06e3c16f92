"""Hypothesis: random corruptions of valid specs (dropped, duplicated and swapped tokens,
random bytes, truncation) only ever produce netdsl diagnostics: `netdsl.analyze` never
raises, and the CLI returns 0, 1 or 2 without a traceback."""

from __future__ import annotations

import io
import os
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netdsl
from netdsl.cli import main

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted(p for p in (ROOT / "specs").glob("*.net")) + sorted((ROOT / "docs" / "examples").glob("*.net"))
# read once: generation must not depend on files that may change while the test runs
SEED_TEXTS = {p.name: p.read_text(encoding="utf-8") for p in SEEDS}
_TOKEN = re.compile(r"\s+|#[^\n]*|[A-Za-z_0-9.]+|->|//|==|!=|<=|>=|\"[^\"\n]*\"|.", re.S)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


def tokens(text: str) -> list[str]:
    """Words, operators, strings, comments and runs of white space: joined back they
    give the text again."""
    return _TOKEN.findall(text)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of specs/ as the working directory, so that imports resolve."""
    d = tmp_path_factory.mktemp("fuzz")
    for name, text in SEED_TEXTS.items():
        (d / name).write_text(text, encoding="utf-8")
    old = os.getcwd()
    os.chdir(d)
    yield d
    os.chdir(old)


@st.composite
def corrupted(draw) -> bytes:
    toks = tokens(SEED_TEXTS[draw(st.sampled_from(sorted(SEED_TEXTS)))])
    for _ in range(draw(st.integers(1, 4))):
        toks = draw(_mutation(toks))
    data = "".join(toks).encode("utf-8")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] if draw(st.booleans()) else data
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=6)) + data[at:]
    return data


def _mutation(toks: list[str]):
    if not toks:
        return st.just(toks)
    index = st.integers(0, len(toks) - 1)

    def drop(i):
        return toks[:i] + toks[i + 1:]

    def duplicate(i):
        return toks[:i + 1] + [toks[i]] + toks[i + 1:]

    def swap(ij):
        i, j = ij
        out = list(toks)
        out[i], out[j] = out[j], out[i]
        return out

    def insert(pair):
        i, word = pair
        return toks[:i] + [word] + toks[i:]

    words = st.sampled_from(["{", "}", "(", ")", "[", "]", "|", "->", ",", "=", ":", "x", "0", "-1", "1x7",
                             "concat", "residual", "repeat", "if", "else", "input", "output", "block", "network",
                             "import", '"', "\n", "#", "1e999", "99999999999999999999", "\ufeff", "\x00", "\t"])
    return st.one_of(
        index.map(drop),
        index.map(duplicate),
        st.tuples(index, index).map(swap),
        st.tuples(st.integers(0, len(toks)), words).map(insert),
    )


def test_tokens_round_trip():
    for text in SEED_TEXTS.values():
        assert "".join(tokens(text)) == text


@FUZZ
@given(data=corrupted())
def test_analyze_never_raises(workdir, data):
    text = data.decode("utf-8", errors="replace")
    result = netdsl.analyze(text if "\n" in text else text + "\n")
    if not result.ok:
        assert result.diagnostics and all(d.message for d in result.diagnostics)
        result.report()  # rendering the diagnostics must not fail either


@FUZZ
@given(data=corrupted())
def test_cli_returns_0_1_or_2(workdir, data):
    (workdir / "fuzzed.net").write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["check", "fuzzed.net"])
    assert code in (0, 1, 2)
    assert "Traceback" not in err.getvalue()
    if code:
        assert err.getvalue().strip(), "a failure must say why"


# ---- regressions found by the fuzzer ----------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "\ufeffnetwork N() {\n input [3, 8, 8]\n}\n",  # a BOM in text handed to analyze
    "network N() {\n input [3, 8, 8]\n conv(8, 3",  # end of file inside a call
    "network N() {\n input [3, 99999999999999999999, 8]\n}\n",  # an absurd dimension
    "network N() {\n input [3, 8, 8]\n conv(8, 1e999)\n}\n",  # an infinite float
    'import "\x00common.net"\nnetwork N() {\n input [3, 8, 8]\n}\n',  # NUL in an import path (crashed resolve())
    "network N() {\n input [3, 8, 8]\n 2x x Unit(64)\n}\n",  # a repeat of an unknown op (crashed naming)
])
def test_regressions(text):
    result = netdsl.analyze(text)
    assert all(d.message for d in result.diagnostics)
    result.report()
