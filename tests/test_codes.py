"""The diagnostic codes (after mypy's ErrorCode): netdsl/codes.py is the source of truth.

Every code is declared once there, with its description and whether it is a usage
error; every call site uses the constant; docs/errors.md lists exactly the registered
codes, in the same order, each with the registry's description and an example that
produces it with the exit status the code's property gives."""

from __future__ import annotations

import ast as pyast
import copy
import io
import json
import pickle
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from netdsl import codes
from netdsl.cli import main
from netdsl.codes import EXIT_SPEC, EXIT_USAGE, REGISTRY, ErrorCode
from netdsl.diagnostics import Diagnostic, Span, exit_status

ROOT = Path(__file__).resolve().parents[1]
ERRORS_DOC = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
# `## \`code\``, its description (up to the example), the example
SECTIONS = {code: (" ".join(description.split()), example) for code, description, example in
            re.findall(r"^## `([^`]+)`\n(.*?)^```net\n(.*?)^```", ERRORS_DOC, re.M | re.S)}
HEADINGS = re.findall(r"^## `([^`]+)`", ERRORS_DOC, re.M)
HEADLINE = re.compile(r"^(\S[^\n]*:\d+:\d+|netdsl): (?:error|warning): [^\n]+ \[([a-z-]+)\]$", re.M)
# the calls that take a code first: Reporter.error/warning, Elaborator.fail, the error types
TAKES_A_CODE = {"error", "warning", "fail", "Diagnostic", "ShapeError", "EvalError"}


# ---- the registry ---------------------------------------------------------------------------
def test_every_constant_is_registered_under_its_own_name():
    constants = {name: value for name, value in vars(codes).items() if isinstance(value, ErrorCode)}
    assert list(constants.values()) == list(REGISTRY.values())
    for name, code in constants.items():
        assert name == code.upper().replace("-", "_"), name
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", code) and code.description.endswith("."), code
        assert name in codes.__all__


def test_a_code_is_its_string_everywhere_diagnostics_go():
    code = codes.BAD_VALUE
    assert code == "bad-value" and hash(code) == hash("bad-value") and f"[{code}]" == "[bad-value]"
    assert json.dumps(Diagnostic(code, "m", None).to_json()["code"]) == '"bad-value"'
    assert pickle.loads(pickle.dumps(code)) is code and copy.deepcopy(code) is code
    with pytest.raises(ValueError, match="declared twice"):
        ErrorCode("bad-value", "again.")


def test_exit_status_is_a_property_of_the_code():
    usage = sorted(c for c in REGISTRY.values() if c.usage)
    assert usage == ["bad-set", "io", "unknown-parameter"]
    span = Span("x.net", 1, 1)
    for code in REGISTRY.values():
        assert Diagnostic(code, "m", span).exit_status == EXIT_SPEC  # it points into a spec
        assert Diagnostic(code, "m", None).exit_status == (EXIT_USAGE if code.usage else EXIT_SPEC)
    assert exit_status([Diagnostic(codes.LIMIT, "m", None), Diagnostic(codes.IO, "m", None)]) == EXIT_USAGE
    assert exit_status([Diagnostic(codes.IO, "m", span)]) == EXIT_SPEC
    assert exit_status([]) == 0


def _string_codes(source: str, name: str) -> list[str]:
    """`name:line` of every call that spells its code as a string, and of every
    comparison of a `.code` with a string."""
    found = []
    for node in pyast.walk(pyast.parse(source)):
        if isinstance(node, pyast.Call):
            func = node.func.attr if isinstance(node.func, pyast.Attribute) else getattr(node.func, "id", None)
            first = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "code"), None)
            if func in TAKES_A_CODE and isinstance(first, pyast.Constant) and isinstance(first.value, str):
                found.append(f"{name}:{node.lineno}: {func}({first.value!r}, ...)")
        elif isinstance(node, pyast.Compare) and isinstance(node.left, pyast.Attribute) and node.left.attr == "code":
            if any(isinstance(c, pyast.Constant) and isinstance(c.value, str)
                   for comparator in node.comparators for c in pyast.walk(comparator)):
                found.append(f"{name}:{node.lineno}: .code compared with a string")
    return found


def test_every_call_site_uses_a_constant():
    found = [hit for path in sorted((ROOT / "netdsl").rglob("*.py"))
             for hit in _string_codes(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert not found, "use the constant of netdsl.codes:\n" + "\n".join(found)


def test_the_call_site_check_sees_a_bare_string():
    source = 'reporter.error("bad-value", "m", None)\nraise ShapeError(\n  "x", "m")\nif d.code in ("io",): pass\n'
    assert _string_codes(source, "bad.py") == ["bad.py:1: error('bad-value', ...)", "bad.py:2: ShapeError('x', ...)",
                                               "bad.py:4: .code compared with a string"]


# ---- docs/errors.md ---------------------------------------------------------------------------
def test_errors_doc_lists_exactly_the_registered_codes_in_order():
    assert len(HEADINGS) == len(set(HEADINGS)), "a code is documented twice"
    assert HEADINGS == list(REGISTRY), (f"not documented: {sorted(set(REGISTRY) - set(HEADINGS))}; "
                                        f"not registered: {sorted(set(HEADINGS) - set(REGISTRY))}")
    assert list(SECTIONS) == HEADINGS, "every code has a ```net example"


@pytest.mark.parametrize("code", list(REGISTRY))
def test_errors_doc_describes_the_code_as_the_registry_does(code):
    description, _ = SECTIONS[code]
    assert description == REGISTRY[code].description
    assert ("exit 2" in description) == REGISTRY[code].usage  # a usage code says when it exits 2


def cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("code", list(REGISTRY))
def test_errors_doc_example_produces_its_code(code, tmp_path, monkeypatch):
    text = SECTIONS[code][1]
    directives = dict(re.findall(r"^# (with|command|nest|bytes): (.*)$", text, re.M))
    if "nest" in directives:
        n = int(directives["nest"])
        text = text.replace("NEST", "[" * n + "8" + "]" * n)
    (tmp_path / "root").mkdir()
    spec = tmp_path / "root" / "example.net"
    spec.write_bytes(text.encode() + bytes.fromhex(directives.get("bytes", "")))
    monkeypatch.chdir(tmp_path / "root")
    rc, _, err = cli(directives.get("command", "check"), spec, *directives.get("with", "").split())
    where = [w for w, c in HEADLINE.findall(err) if c == code]
    assert where, err
    if REGISTRY[code].warning:  # a warning: exit 0, and 1 with --warnings-as-errors
        assert rc == 0 and ": warning: " in err, err
        rc, _, err = cli(directives.get("command", "check"), spec, *directives.get("with", "").split(),
                         "--warnings-as-errors")
        assert rc == EXIT_SPEC and f"[{code}]" in err and ": error: " in err, err
        return
    # a usage code without a position is about the command line: exit 2; anything else: exit 1
    assert rc == (EXIT_USAGE if REGISTRY[code].usage and where[0] == "netdsl" else EXIT_SPEC), err


# ---- one exit rule for every command ----------------------------------------------------------
COMMANDS = (("check",), ("summary",), ("render", "-o", "out.svg"), ("compile",), ("port", "ckpt.pt", "-o", "out.st"))
CASES = {  # the spec, extra arguments -> the exit status of every command
    "missing-file": ("no/such.net", (), EXIT_USAGE),  # [io] about the command line
    "missing-import": ("imports.net", (), EXIT_SPEC),  # [io] with a position in the spec
    "bad-set": ("ok.net", ("--set", "width=1.5"), EXIT_USAGE),
    "unknown-set": ("ok.net", ("--set", "nope=1"), EXIT_USAGE),
    "spec-error": ("bad.net", (), EXIT_SPEC),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_command_exits_as_the_codes_say(command, case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.net").write_text("network N(width: int = 8) {\n    input [3, 8, 8]\n    conv(width, 3)\n}\n")
    (tmp_path / "imports.net").write_text('import "missing.net"\nnetwork N() { input [3, 8, 8] }\n')
    (tmp_path / "bad.net").write_text("network N() {\n    input [3, 8, 8]\n    conv(8, 0)\n}\n")
    if command[0] == "port":
        import torch

        torch.save({}, tmp_path / "ckpt.pt")
    spec, extra, expected = CASES[case]
    name, *rest = command
    rc, _, err = cli(name, spec, *rest, *extra)
    assert rc == expected, err
