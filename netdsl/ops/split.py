"""Channel split: one of `parts` equal, contiguous groups of the channels (ShuffleNetV2's
`x.chunk(2, dim=1)`), a view of its input."""

from __future__ import annotations

from .. import codes
from ..values import INT
from .base import Cost, Op, OpParam, ShapeError, product, register, sym_or

__all__ = ["Split"]


@register
class Split(Op):
    name, short, role, view = "split", "split", "merge", True
    doc = (
        "Channel group `index` (0 first) of `parts` equal, contiguous groups: `split(2, 0)` is the first half "
        "of the channels (ShuffleNetV2); a view, no copy."
    )
    example = "split(2, 1)"
    params = (
        OpParam("parts", INT, doc="how many equal groups the channels form", minimum=1),
        OpParam("index", INT, doc="which group (0 first)", minimum=0),
    )

    def infer(self, attrs, inputs):
        c = inputs[0][0]
        parts, index = attrs["parts"], attrs["index"]
        if c % parts:
            raise ShapeError(codes.SPLIT_INDIVISIBLE, f"{c} channels do not split into {parts} equal parts", "parts")
        if index >= parts:
            raise ShapeError(
                codes.BAD_VALUE, f"index={index} names no part: there are {parts} (0 to {parts - 1})", "index"
            )
        return Cost((c // parts, *inputs[0][1:]))

    def label(self, attrs, sym):
        written = sym.get("index", "")
        index = f"{written} + 1" if written and not written.isdigit() else attrs["index"] + 1  # counted from 1
        return f"Channel split ({index} of {sym_or(attrs, sym, 'parts')})"

    def torch_expr(self, a, inputs):
        return f"{inputs[0]}.chunk({a['parts'].src}, 1)[{a['index'].src}]"

    def out_channels(self, a, inputs):
        return product(inputs[0], "//", a["parts"].src)
