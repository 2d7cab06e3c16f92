"""`netdsl fmt` and netdsl.fmt.format_source: one canonical layout, comments kept,
idempotent, the same tree after as before (sqlglot's identity round trip with the
comments in), over every spec of the zoo and over generated specs laid out at random."""

from __future__ import annotations

import io
import random
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netdsl.cli import main
from netdsl.diagnostics import NetdslError
from netdsl.fmt import format_source
from netdsl.fmt.tokens import tokenize
from netdsl.syntax import parse

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").rglob("*.net"))
sys.path.insert(0, str(ROOT))
from fuzz.specgen import valid_specs  # noqa: E402

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def comments(text: str) -> list[tuple[str, bool]]:
    """Every comment in order, with whether it stands on a line of its own."""
    tokens, tail = tokenize(text)
    found = []
    for tok in tokens:
        found += [(c.text, True) for c in tok.leading]
        if tok.trailing:
            found.append((tok.trailing.text, False))
    return found + [(c.text, True) for c in tail]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


# ---- the zoo ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT / "specs")))
def test_the_zoo_is_formatted(path):
    text = path.read_text(encoding="utf-8")
    assert format_source(text, str(path)) == text, f"run `netdsl fmt {path.relative_to(ROOT)}`"


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT / "specs")))
def test_a_spec_laid_out_anyhow_formats_back_to_the_zoo_text(path):
    text = path.read_text(encoding="utf-8")
    messy = _relayout(text, seed=len(text))
    assert messy != text
    assert format_source(messy, str(path)) == text


def _relayout(text: str, seed: int) -> str:
    """The same tokens, comments and blank lines, with other white space: no indentation,
    some tokens on lines of their own, doubled spaces."""
    rng = random.Random(seed)
    tokens, tail = tokenize(text)
    out = []

    def line_start(blank: bool) -> None:
        if out and not out[-1].endswith("\n"):
            out.append("\n")
        if blank:
            out.append("\n")

    for tok in tokens:
        for c in tok.leading:
            line_start(c.blank_before)
            out.append(c.text + "\n")
        if tok.blank_before:
            line_start(True)
        out.append(tok.text)
        out.append(f" {tok.trailing.text}\n" if tok.trailing else rng.choice([" ", "  ", "\n", " "]))
    for c in tail:
        line_start(c.blank_before)
        out.append(c.text + "\n")
    return "".join(out)


# ---- generated specs ---------------------------------------------------------------------------
_SEPARATORS = [" ", " ", "  ", "\n", "\n    ", "\n\n"]


@st.composite
def laid_out_specs(draw, with_comments: bool):
    """A generated spec (comments dropped), its tokens joined by random white space and,
    with `with_comments`, random comments (each ending its line)."""
    text = draw(valid_specs(sloppy=True)).text
    tokens, _ = tokenize(text)
    parts = []
    for k, tok in enumerate(tokens):
        parts.append(tok.text)
        if with_comments and draw(st.integers(0, 5)) == 0:
            parts.append(draw(st.sampled_from(["  # c", "\n# own", " #"])) + f"{k}\n")
        else:
            parts.append(draw(st.sampled_from(_SEPARATORS)))
    return text, "".join(parts)


@PROPERTY
@given(laid_out_specs(with_comments=False))
def test_white_space_does_not_matter(pair):
    text, messy = pair
    flat = " ".join(messy.split())  # no line breaks at all
    result = format_source(messy.replace("\n\n", "\n"))  # blank lines are kept (one at most), so none here
    assert result == format_source(flat)
    assert parse(result) == parse(text)


@PROPERTY
@given(laid_out_specs(with_comments=True))
def test_generated_specs_keep_their_tree_and_comments(pair):
    text, messy = pair
    result = format_source(messy)
    assert parse(result) == parse(text)
    assert [c for c, _ in comments(result)] == [c for c, _ in comments(messy)]
    own_lines = [c for c, own in comments(messy) if own]
    assert own_lines == [c for c, own in comments(result) if own and c in own_lines]  # an own-line comment stays one
    assert format_source(result) == result


# ---- the layout, case by case --------------------------------------------------------------------
MESSY = """\
# the header


import "common.net"
import "x.net"
block A(a: int = -1, b: (int, int) = (1, 2), c: [int] = [1, 2,], t: [int] = (3,),) {   # doc
  conv(a,3,stride = 2,) -> relu
  # own line

  x = conv(8, 3)   # t
  y: residual(scale=0.2) { conv(a, 1) } shortcut proj { conv(a, 1) } -> relu
  concat { | a: conv(1) -> relu
     | maxpool(3, stride=2,  # why
               padding=valid)
     | residual { conv(1) }
     }
  if a > -3 and not (b == 2) { relu } elif a { relu
  # end of body
  } else {}
  repeat(3) as i {
  }
  4 x ConvBN(1) conv(a + b * 2 // 3 % 4 - -1)
  output x, y when
     training
}
network N(a_rather_long_parameter_name_number_one_indeed: int = 1000, a_rather_long_parameter_name_number_two_indeed: int = 10) {
  input [3, 8, 8]
  conv(a_rather_long_parameter_name_number_one_indeed, 3) -> conv(a_rather_long_parameter_name_number_two_indeed) -> relu -> relu
  init conv: kaiming_normal(mode = "fan_out")
}
# the end
"""

CANONICAL = """\
# the header

import "common.net"
import "x.net"

block A(a: int = -1, b: (int, int) = (1, 2), c: [int] = [1, 2], t: [int] = (3,)) {  # doc
    conv(a, 3, stride=2) -> relu
    # own line

    x = conv(8, 3)  # t
    y: residual(scale=0.2) {
        conv(a, 1)
    } shortcut proj {
        conv(a, 1)
    } -> relu
    concat {
        | a: conv(1) -> relu
        | maxpool(
            3,
            stride=2,  # why
            padding=valid,
        )
        | residual {
            conv(1)
        }
    }
    if a > -3 and not (b == 2) {
        relu
    } elif a {
        relu
        # end of body
    } else {}
    repeat(3) as i {}
    4 x ConvBN(1)
    conv(a + b * 2 // 3 % 4 - -1)
    output x, y when training
}

network N(
    a_rather_long_parameter_name_number_one_indeed: int = 1000,
    a_rather_long_parameter_name_number_two_indeed: int = 10,
) {
    input [3, 8, 8]
    conv(a_rather_long_parameter_name_number_one_indeed, 3)
        -> conv(a_rather_long_parameter_name_number_two_indeed)
        -> relu
        -> relu
    init conv: kaiming_normal(mode="fan_out")
}
# the end
"""


def test_every_construct_has_one_layout():
    assert format_source(MESSY) == CANONICAL
    assert format_source(CANONICAL) == CANONICAL


def test_trailing_comments_of_consecutive_lines_share_a_column():
    text = "network N() {\n    input [3, 8, 8]\n    conv(8, 3) # a\n    relu # b\n\n    relu # c\n}\n"
    assert format_source(text) == (
        "network N() {\n    input [3, 8, 8]\n    conv(8, 3)  # a\n    relu        # b\n\n    relu  # c\n}\n"
    )


def test_a_comment_inside_an_expression_splits_the_line_there():
    text = "network N() {\n    input [3, 8, 8]\n    conv(8 + # eight\n 1, 3)\n}\n"
    result = format_source(text)
    assert (
        result
        == "network N() {\n    input [3, 8, 8]\n    conv(\n        8 +  # eight\n            1,\n        3,\n    )\n}\n"
    )
    assert format_source(result) == result


def test_a_file_of_comments_only_and_an_empty_file():
    assert format_source("") == ""
    assert format_source("\n\n# only\n\n\n# comments   \n") == "# only\n\n# comments\n"


def test_a_syntax_error_is_the_parser_s_diagnostic():
    with pytest.raises(NetdslError) as info:
        format_source("network N() {\n    conv(8 3)\n}\n", "bad.net")
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "syntax" and str(diagnostic.span) == "bad.net:2:12"


# ---- the command ------------------------------------------------------------------------------------
UGLY = "network N() { input [3, 8, 8]\n  conv(8,3) }\n"
PRETTY = "network N() {\n    input [3, 8, 8]\n    conv(8, 3)\n}\n"


def test_fmt_rewrites_files_and_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.net").write_text(UGLY)
    (tmp_path / "lib" / "b.net").write_text(PRETTY)
    (tmp_path / "lib" / "notes.txt").write_text(UGLY)
    status, out, err = run("fmt", "lib")
    assert status == 0 and out == ""
    assert "1 file reformatted, 1 file left unchanged" in err
    assert (tmp_path / "lib" / "a.net").read_text() == PRETTY
    assert (tmp_path / "lib" / "notes.txt").read_text() == UGLY  # only .net files


def test_fmt_check_lists_what_would_change_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.net").write_text(UGLY)
    (tmp_path / "b.net").write_text(PRETTY)
    status, out, err = run("fmt", "--check", "a.net", "b.net")
    assert status == 1 and out == "would reformat a.net\n"
    assert (tmp_path / "a.net").read_text() == UGLY
    assert run("fmt", "--check", "b.net")[0] == 0


def test_fmt_diff_prints_a_unified_diff(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.net").write_text(UGLY)
    status, out, _ = run("fmt", "--diff", "a.net")
    assert status == 1 and out.startswith("--- a.net\n+++ a.net\n")
    assert "-network N() { input [3, 8, 8]\n" in out and "+    conv(8, 3)\n" in out
    assert (tmp_path / "a.net").read_text() == UGLY


def test_fmt_leaves_a_file_with_a_syntax_error_and_goes_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.net").write_text("network N() {\n    conv(8 3)\n}\n")
    (tmp_path / "good.net").write_text(UGLY)
    status, _, err = run("fmt", "bad.net", "good.net")
    assert status == 1 and "bad.net:2:12: error:" in err and "[syntax]" in err
    assert (tmp_path / "good.net").read_text() == PRETTY
    assert (tmp_path / "bad.net").read_text() == "network N() {\n    conv(8 3)\n}\n"


def test_fmt_of_a_missing_path_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = run("fmt", "nope.net")
    assert status == 2 and "nope.net" in err and "[io]" in err


def test_fmt_reads_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(UGLY))
    assert run("fmt", "-") == (0, PRETTY, "")


def test_a_byte_order_mark_and_crlf_line_ends_are_not_kept():
    assert format_source("\ufeffnetwork N() { input [3, 8, 8] }\r\n# c\r\n") == (
        "network N() {\n    input [3, 8, 8]\n}\n# c\n"
    )


def test_a_keyword_used_as_a_name_is_formatted_as_the_parser_reads_it():
    """`block = ...` after a residual parses (the parser reads the keyword as a name);
    the formatter's token stream must read it so too (it failed with UnexpectedToken)."""
    text = ("network N() {\n    input [3, 8, 8]\n    residual {\n        conv(3, 1)\n    }\n"
            "    block = conv(4, 1)\n    block -> relu\n}\n")
    messy = " ".join(text.split())
    assert format_source(messy) == format_source(text)
    assert parse(format_source(messy)) == parse(text)
