"""What a box says and how it looks: block titles, paper-style op labels, box styles."""

from __future__ import annotations

import re

from ..ir.graph import Node
from ..ops import OPS
from ..ops.base import sym_or
from ..ops.layers import Activation
from ..ops.merge import describe_shape

__all__ = ["block_title", "op_label", "input_label", "category", "same_name", "PRINCIPAL_OPS", "DECORATION_OPS"]

# A block made of one of these plus only decorations is drawn as that one op ("Conv").
PRINCIPAL_OPS = frozenset({"conv", "dwconv", "sepconv", "linear"})
DECORATION_OPS = frozenset({"batchnorm", "lrn", "relu", "relu6", "sigmoid", "tanh", "identity"})

_CATEGORIES = {
    "conv": "conv", "dwconv": "conv", "sepconv": "conv",
    "maxpool": "pool", "avgpool": "pool", "global_avgpool": "pool",
    "concat": "merge", "add": "merge", "scale": "merge",
    "batchnorm": "norm", "lrn": "norm",
    "linear": "dense", "dropout": "dense", "flatten": "dense", "softmax": "dense",
    "input": "io",
}
_PLAIN_ACTIVATIONS = frozenset({"softmax", "identity"})


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
    """The paper's label of one op: `3x3 Conv (192 stride 2 V)`, `Filter concat`, `+`."""
    op = OPS[node.op]
    sym = node.sym if symbolic else {}
    text = op.label(node.attrs, sym)
    if isinstance(op, Activation) and node.op not in _PLAIN_ACTIVATIONS:
        text += " activation"
    if node.op == "add" and scale is not None:
        factor = sym_or(scale.attrs, scale.sym if symbolic else {}, "factor")
        text += f" (x{factor})" if factor[:1].isdigit() else f" (x {factor})"
    return text


def input_label(shape) -> str:
    return f"Input ({describe_shape(shape)})"


def category(op: str) -> str:
    """Style class of an op's box."""
    if op in _CATEGORIES:
        return _CATEGORIES[op]
    return "act" if isinstance(OPS.get(op), Activation) else "other"
