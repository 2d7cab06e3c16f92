"""What a box says and how it looks: block titles, paper-style op labels, box styles."""

from __future__ import annotations

import re

from ..ir.graph import Node
from ..ops.base import op_of, sym_or
from ..ops.merge import describe_shape

__all__ = ["block_title", "op_label", "input_label", "category", "same_name"]


def block_title(name: str) -> str:
    """`InceptionA` -> `Inception-A`, `ReductionB` -> `Reduction-B`, `Stem` -> `Stem`:
    a trailing single capital (a variant letter) gets a hyphen, as the papers write it."""
    return re.sub(r"(?<=[a-z0-9])([A-Z][0-9]*)$", r"-\1", name)


def same_name(block: str, wanted: str) -> bool:
    """`--block Reduction_A`, `reduction-a` and `ReductionA` all name block ReductionA."""
    return _squash(block) == _squash(wanted)


def _squash(name: str) -> str:
    return re.sub(r"[-_\s]", "", name).lower()


def op_label(node: Node, symbolic: bool, scale: Node | None = None) -> str:
    """The paper's label of one op: `3x3 Conv (192 stride 2 V)`, `Filter concat`, `+`;
    with `scale`, the residual scale folded into a sum's box: `+ (x0.17)`."""
    text = op_of(node.op).diagram_label(node.attrs, node.sym if symbolic else {})
    if scale is not None:
        factor = sym_or(scale.attrs, scale.sym if symbolic else {}, "factor")
        text += f" (x{factor})" if factor[:1].isdigit() else f" (x {factor})"
    return text


def input_label(shape) -> str:
    return f"Input ({describe_shape(shape)})"


def category(op: str) -> str:
    """Style class of an op's box: its role."""
    return op_of(op).role or "other"
