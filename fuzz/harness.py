"""One fuzz execution: bytes -> the whole front end -> code generation.

`exercise(data)` must only ever end in one of the outcomes netdsl promises: the bytes
are rejected with diagnostics, or they check and the generated PyTorch source parses,
imports only torch and collections, and calls nothing dangerous. Anything else (an
exception escaping, a malformed diagnostic, a format round trip that changes the tree,
generated code that does not parse) is raised as :class:`Finding`.
"""

from __future__ import annotations

import ast as pyast
import os
from pathlib import Path

from netdsl.api import analyze
from netdsl.cli import graph_json
from netdsl.diagnostics import NetdslError
from netdsl.ir import Limits
from netdsl.ir.program import decode
from netdsl.syntax import parse
from netdsl.syntax.format import format_module

__all__ = ["Finding", "exercise", "check_generated", "FUZZ_LIMITS", "seed_dir"]

# Small enough that one execution stays fast; the limits themselves are under test.
FUZZ_LIMITS = Limits(max_layers=5_000, max_file_bytes=200_000)
ALLOWED_IMPORTS = {"torch", "collections"}
FORBIDDEN_CALLS = {"__import__", "eval", "exec", "open", "compile", "getattr", "setattr", "globals", "locals",
                   "vars", "breakpoint", "input"}
FORBIDDEN_NAMES = {"os", "sys", "subprocess", "builtins", "importlib", "pickle", "shutil", "socket"}


class Finding(Exception):
    """netdsl broke one of its promises on this input."""


def seed_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "specs"


def _check_diagnostics(result) -> None:
    for d in result.diagnostics:
        if not (isinstance(d.code, str) and d.code and isinstance(d.message, str) and d.message):
            raise Finding(f"malformed diagnostic {d!r}")
        if d.severity not in ("error", "warning"):
            raise Finding(f"diagnostic with severity {d.severity!r}")
    result.report()  # the renderer must cope with every span


def _check_round_trip(text: str) -> None:
    """parse -> format -> parse gives the same tree."""
    try:
        tree = parse(text, "<fuzz>", FUZZ_LIMITS.max_nesting)
    except NetdslError:
        return
    again = format_module(tree)
    try:
        back = parse(again, "<fuzz>", FUZZ_LIMITS.max_nesting * 2)
    except NetdslError as err:
        raise Finding(f"formatted text does not parse: {err}\n--- formatted ---\n{again}") from None
    if back != tree:
        raise Finding(f"format round trip changed the tree\n--- formatted ---\n{again}")


def check_generated(source: str) -> None:
    """The generated module parses, imports only torch/collections, and names no escape hatch."""
    tree = pyast.parse(source)
    for node in pyast.walk(tree):
        if isinstance(node, pyast.Import):
            mods = {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, pyast.ImportFrom):
            mods = {(node.module or "").split(".")[0]}
        else:
            mods = set()
        if mods - ALLOWED_IMPORTS:
            raise Finding(f"generated code imports {sorted(mods - ALLOWED_IMPORTS)}")
        if isinstance(node, pyast.Name) and (node.id in FORBIDDEN_CALLS or node.id in FORBIDDEN_NAMES):
            raise Finding(f"generated code names {node.id!r}")
        if isinstance(node, pyast.Attribute) and node.attr.startswith("__") and node.attr != "__init__":
            raise Finding(f"generated code uses the attribute {node.attr!r}")


def _generate(result) -> None:
    from netdsl.torch.codegen import generate  # imports torch: only for inputs that check

    try:
        code = generate(result.program, result.graph)
    except NetdslError:
        return  # a construct the back end reports it cannot lower: a diagnostic, fine
    check_generated(code.source)


def exercise(data: bytes, codegen: bool = True) -> str:
    """Run one input; return 'encoding', 'diagnostics' or 'ok'; raise Finding on a bug."""
    try:
        text = decode(data, "<fuzz>")
    except NetdslError:
        return "encoding"
    try:
        result = analyze(text + "\n", limits=FUZZ_LIMITS, root=os.getcwd())  # "\n": always spec text, never a path
        _check_diagnostics(result)
        _check_round_trip(text)
        if not result.ok:
            return "diagnostics"
        graph_json(result.graph, result.diagnostics)
        if codegen:
            _generate(result)
    except Finding:
        raise
    except Exception as err:  # noqa: BLE001 - any other exception is what we hunt
        raise Finding(f"{type(err).__name__}: {err}") from err
    return "ok"
