"""Data-driven diagnostic tests in the style of mypy's `check-*.test` files.

Each `tests/diagnostics/*.test` file holds cases:

    [case name]            (optionally `[case name exit=2]`; the default exit code is 1)
    <main.net: a spec>
    [file other.net]       (optional: more files next to main.net, e.g. for imports)
    <text>
    [set]                  (optional: `--set` overrides, one NAME=VALUE a line)
    <alpha=0.5>
    [out]
    <every line `netdsl check main.net` prints to stderr, except the quoted source
     lines under a diagnostic and the shape table>

Lines starting with `--` outside a case are comments. Each case runs the real CLI
(`netdsl.cli.main`) in a temporary directory, so paths print as a user sees them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from netdsl.cli import main

DATA = Path(__file__).resolve().parent / "diagnostics"
_HEADER = re.compile(r"^\[(case|file|set|out)(?: ([^\]]*))?\]\s*$")


@dataclass
class Case:
    name: str
    exit_code: int
    files: dict[str, str] = field(default_factory=dict)
    sets: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)


def _sections(text: str):
    """(kind, argument, lines) for every bracketed section of a .test file."""
    current = None
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            if current:
                yield current
            current = (m.group(1), m.group(2), [])
        elif current is not None:
            current[2].append(line)
        elif line.strip() and not line.startswith("--"):
            raise ValueError(f"text outside a case: {line!r}")
    if current:
        yield current


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def parse_cases(path: Path) -> list[Case]:
    cases: list[Case] = []
    for kind, arg, lines in _sections(path.read_text(encoding="utf-8")):
        if kind == "case":
            name, _, code = (arg or "").partition(" exit=")
            cases.append(Case(name.strip(), int(code or 1), {"main.net": "\n".join(lines) + "\n"}))
        elif kind == "file":
            cases[-1].files[arg.strip()] = "\n".join(lines) + "\n"
        elif kind == "set":
            cases[-1].sets += [ln.strip() for ln in lines if ln.strip()]
        else:
            cases[-1].expected = _trim(lines)
    return cases


def _all_cases():
    for path in sorted(DATA.glob("*.test")):
        for case in parse_cases(path):
            yield pytest.param(case, id=f"{path.stem}::{case.name}")


def reported_lines(stderr: str) -> list[str]:
    """Diagnostic headlines and notes; not the quoted source and caret lines (indented)
    nor the table of shapes printed after them."""
    lines = stderr.split("\nshapes up to the first failing layer:")[0].splitlines()
    return [ln for ln in lines if ln.strip() and not ln.startswith(" ")]


def run_case(case: Case, tmp_path: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    for name, text in case.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    argv = ["check", "main.net"] + [a for s in case.sets for a in ("--set", s)]
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("case", list(_all_cases()))
def test_diagnostic_case(case: Case, tmp_path, monkeypatch, capsys):
    code, stdout, stderr = run_case(case, tmp_path, monkeypatch, capsys)
    assert "Traceback" not in stderr
    assert reported_lines(stderr) == case.expected
    assert code == case.exit_code
    if code != 0:
        assert stdout == ""


# ---- the command line around the diagnostics --------------------------------------------------
GOOD = "network Tiny() {\n    input [3, 16, 16]\n    conv(8, 3) -> relu\n}\n"
TWO_MISTAKES = "network Tiny() {\n    input [3, 16, 16]\n    conv(8, 3, strid=2)\n    relu(1)\n}\n"


def _run(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse rejects the command line itself
        code = exit_.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "Traceback" not in out.out
    return code, out.out, out.err


def test_exit_code_0_for_a_good_spec(tmp_path, monkeypatch, capsys):
    (tmp_path / "tiny.net").write_text(GOOD)
    code, out, err = _run(tmp_path, monkeypatch, capsys, ["check", "tiny.net"])
    assert code == 0 and err == ""
    assert out.startswith("Tiny: input 16x16x3 -> out 16x16x8;")


def test_exit_code_1_and_every_error_for_a_bad_spec(tmp_path, monkeypatch, capsys):
    (tmp_path / "bad.net").write_text(TWO_MISTAKES)
    code, out, err = _run(tmp_path, monkeypatch, capsys, ["check", "bad.net"])
    assert code == 1 and out == ""
    assert [ln.split(": error:")[0] for ln in reported_lines(err)] == ["bad.net:3:16", "bad.net:4:10"]


def test_exit_code_2_for_a_missing_file(tmp_path, monkeypatch, capsys):
    code, out, err = _run(tmp_path, monkeypatch, capsys, ["check", "missing.net"])
    assert code == 2
    assert err.strip() == "netdsl: error: cannot read missing.net: no such file [io]"


def test_exit_code_2_for_a_directory(tmp_path, monkeypatch, capsys):
    (tmp_path / "specs").mkdir()
    code, _, err = _run(tmp_path, monkeypatch, capsys, ["check", "specs"])
    assert code == 2 and "it is a directory" in err


def test_exit_code_2_for_a_malformed_set(tmp_path, monkeypatch, capsys):
    (tmp_path / "tiny.net").write_text(GOOD)
    code, _, err = _run(tmp_path, monkeypatch, capsys, ["check", "tiny.net", "--set", "novalue"])
    assert code == 2 and err.startswith("netdsl: error:")


def test_the_source_line_is_quoted_with_a_caret_under_the_mistake(tmp_path, monkeypatch, capsys):
    (tmp_path / "bad.net").write_text(TWO_MISTAKES)
    _, _, err = _run(tmp_path, monkeypatch, capsys, ["check", "bad.net"])
    lines = err.splitlines()
    assert lines[:3] == [
        "bad.net:3:16: error: 'conv' has no parameter 'strid'; did you mean 'stride'? [unknown-parameter]",
        "    3 |     conv(8, 3, strid=2)",
        "      |                ^~~~~~~",
    ]


def test_syntax_errors_quote_the_source_line_too(tmp_path, monkeypatch, capsys):
    (tmp_path / "bad.net").write_text("network N() {\n    conv(8 3)\n}\n")
    code, _, err = _run(tmp_path, monkeypatch, capsys, ["check", "bad.net"])
    assert code == 1
    assert err.splitlines()[1:3] == ["    2 |     conv(8 3)", "      |            ^"]


def test_invalid_utf8_is_a_diagnostic(tmp_path, monkeypatch, capsys):
    (tmp_path / "bin.net").write_bytes(b"network N() {\n  input [3, 8, 8] \xff\n}\n")
    code, _, err = _run(tmp_path, monkeypatch, capsys, ["check", "bin.net"])
    assert code == 1
    assert err.splitlines()[0] == "bin.net:2:19: error: the file is not valid UTF-8: byte 0xff at offset 32 [encoding]"


def test_json_output_carries_the_diagnostics(tmp_path, monkeypatch, capsys):
    import json

    (tmp_path / "bad.net").write_text(TWO_MISTAKES)
    code, out, _ = _run(tmp_path, monkeypatch, capsys, ["check", "bad.net", "--json"])
    doc = json.loads(out)
    assert code == 1
    assert [(d["span"], d["code"]) for d in doc["diagnostics"]] == [
        ("bad.net:3:16", "unknown-parameter"), ("bad.net:4:10", "too-many-arguments")]


def test_analyze_collects_both_errors_without_raising():
    import netdsl

    result = netdsl.analyze(TWO_MISTAKES)
    assert not result.ok
    assert [d.code for d in result.diagnostics] == ["unknown-parameter", "too-many-arguments"]
