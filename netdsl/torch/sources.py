"""Python definitions copied into generated files: the modules some ops lower to
(:mod:`.runtime`, named by the ops' `runtime` trait). Read as text, never imported: they
import torch, and `netdsl compile` does not need it."""

from __future__ import annotations

import ast as pyast
from functools import cache
from pathlib import Path

from ..ops import op_of

__all__ = ["definitions", "runtime_sources", "runtime_used"]


@cache
def definitions(path: Path) -> dict[str, str]:
    """The source of each top-level definition (class, function, assignment but
    `__all__`) of a Python file, by name, in the file's order."""
    text = path.read_text(encoding="utf-8")
    out = {}
    for node in pyast.parse(text).body:
        if isinstance(node, (pyast.ClassDef, pyast.FunctionDef)):
            out[node.name] = pyast.get_source_segment(text, node)
        elif isinstance(node, pyast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], pyast.Name):
            if node.targets[0].id != "__all__":
                out[node.targets[0].id] = pyast.get_source_segment(text, node)
    return out


def runtime_sources(ops) -> list[str]:
    """The definitions of :mod:`.runtime` the given ops (by name) lower to, in the file's order."""
    wanted = {name for op in ops for name in op_of(op).runtime}
    return [src for name, src in definitions(Path(__file__).with_name("runtime.py")).items() if name in wanted]


def runtime_used(code: str) -> list[str]:
    """The definitions of :mod:`.runtime` that generated `code` calls (`LayerNorm2d(`)."""
    return [src for name, src in definitions(Path(__file__).with_name("runtime.py")).items() if f"{name}(" in code]
