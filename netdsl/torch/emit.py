"""What both code generators (`torch/codegen.py`, the plain module; `optimizer/flat.py`,
the optimized one) share: the names Python and every generated file already bind, the
rule that makes a layer's name an attribute, and the result type.

Pure Python: `netdsl compile` writes a file without importing torch."""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Container
from dataclasses import dataclass

from ..ir.naming import reserved_label

__all__ = ["BUILTINS", "FILE_NAMES", "KEYWORDS", "GeneratedCode", "attribute_name"]

KEYWORDS = frozenset(keyword.kwlist)
BUILTINS = frozenset(dir(builtins))
# the names a generated file binds at module level or in every method: its imports and `self`
FILE_NAMES = frozenset({"self", "torch", "nn", "math", "fnmatch", "OrderedDict"})


@dataclass(frozen=True)
class GeneratedCode:
    """A generated module: its source, the network's class name in it, and the spec file
    it was written from (the name it is executed under, for tracebacks)."""

    source: str
    class_name: str
    filename: str


def attribute_name(layer: str, taken: Container[str], reserved: Container[str] = KEYWORDS) -> str:
    """A module attribute for the layer named `layer` (`stem.conv` -> `stem_conv`): an
    identifier that is no keyword, no name torch.nn.Module reserves and none in
    `reserved`, made unique against `taken` (`_2`, `_3`, ...)."""
    base = layer.replace(".", "_")
    if base in KEYWORDS or base in reserved or reserved_label(base) or not base.isidentifier():
        base += "_"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name
