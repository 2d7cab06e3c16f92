"""Ops that join or scale tensors: concat, add, scale."""

from __future__ import annotations

from .. import codes
from ..values import FLOAT
from .base import Cost, Op, OpParam, ShapeError, product, register

__all__ = ["Concat", "Add", "Scale", "LayerScale", "Multiply", "describe_shape"]


def describe_shape(shape) -> str:
    """Shapes as the papers print them: `35x35x384` (H x W x C), or `1000`."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}x{w}x{c}"
    return str(shape[0])


@register
class Concat(Op):
    name, short, multi_input, role, drawn_into = "concat", "concat", True, "merge", "concat"
    doc = "Concatenate along channels; inputs must agree in height and width."
    example = "concat(a, b)"
    construct = "concat { | ... | ... }"

    def infer(self, attrs, inputs):
        first = inputs[0]
        for i, other in enumerate(inputs[1:], start=2):
            if len(other) != len(first):
                raise ShapeError(codes.SHAPE_MISMATCH, "concat inputs mix feature maps and flat vectors")
            for axis, name in ((1, "height"), (2, "width")):
                if len(first) == 3 and other[axis] != first[axis]:
                    raise ShapeError(codes.SHAPE_MISMATCH, f"inputs disagree in {name}: {first[axis]} (input 1) vs {other[axis]} (input {i})")
        return Cost((sum(s[0] for s in inputs), *first[1:]))

    def label(self, attrs, sym):
        return "Filter concat"

    def torch_expr(self, a, inputs):
        return f"torch.cat([{', '.join(inputs)}], 1)"

    def out_channels(self, a, inputs):
        return " + ".join(inputs)


@register
class Add(Op):
    name, short, multi_input, role, inplace_merge = "add", "add", True, "merge", True
    doc = "Elementwise sum; all inputs must have the same shape."
    example = "add(a, b)"

    def infer(self, attrs, inputs):
        first = inputs[0]
        for other in inputs[1:]:
            if other != first:
                if len(other) == len(first) == 3 and other[1:] == first[1:]:
                    raise ShapeError(codes.RESIDUAL_MISMATCH, f"sum of {first[0]} and {other[0]} channels; the inputs must have the same channels")
                raise ShapeError(codes.RESIDUAL_MISMATCH, f"sum of a {describe_shape(first)} and a {describe_shape(other)} tensor; the inputs must have the same shape")
        return Cost(first)

    def label(self, attrs, sym):
        return "+"

    def torch_expr(self, a, inputs):
        # the optimizer's passes may ask for the sum in place (into input k) and scaled
        alpha = f", alpha={a['alpha'].src}" if "alpha" in a else ""
        if "inplace" in a:
            k = a["inplace"].value
            return f"{inputs[k]}.add_({inputs[1 - k]}{alpha})"
        if alpha:
            return f"torch.add({inputs[0]}, {inputs[1]}{alpha})"
        return " + ".join(inputs)


@register
class Scale(Op):
    name, short, role, drawn_into = "scale", "scale", "merge", "add"  # drawn in the `+` box it feeds
    doc = "Multiply by a constant (the residual scaling of Inception-ResNet)."
    example = "scale(0.17)"
    params = (OpParam("factor", FLOAT, doc="the constant"),)

    def label(self, attrs, sym):
        return f"x{attrs['factor']:g}"

    def torch_expr(self, a, inputs):
        return product(inputs[0], "*", a["factor"].src)


@register
class LayerScale(Op):
    name, short = "layer_scale", "layer_scale"
    module_reads_channels = True
    role, stateful, fresh_output = "merge", True, True
    runtime = ("LayerScale2d",)
    doc = "Multiply each channel by a learned factor that starts at `init` (ConvNeXt's layer scale)."
    example = "layer_scale(1e-6)"
    params = (OpParam("init", FLOAT, 1e-6, "the factors' initial value"),)

    def infer(self, attrs, inputs):
        self.require_map(inputs[0], "layer_scale")
        return Cost(inputs[0], inputs[0][0])

    def label(self, attrs, sym):
        return "Layer scale"

    def torch_module(self, a, in_channels):
        init = a["init"]
        return f"LayerScale2d({in_channels})" if init.known and init.value == 1e-6 else f"LayerScale2d({in_channels}, {init.src})"


@register
class Multiply(Op):
    name, short, multi_input, role, inplace_merge = "mul", "mul", True, "merge", True
    doc = ("Channel-wise product: a C x H x W map times C x H x W or C x 1 x 1 gates (squeeze-excitation: "
           "`mul(x, g)` with `g = x -> global_avgpool -> ... -> sigmoid`).")
    example = "mul(a, b)"

    def infer(self, attrs, inputs):
        first = inputs[0]
        for i, other in enumerate(inputs[1:], start=2):
            if len(other) != len(first) or other[0] != first[0]:
                raise ShapeError(codes.GATE_MISMATCH, f"product of a {describe_shape(first)} and a {describe_shape(other)} "
                                 f"tensor (input {i}); the channels must be equal")
            if len(first) == 3 and other[1:] not in (first[1:], (1, 1)):
                raise ShapeError(codes.GATE_MISMATCH, f"input {i} is {describe_shape(other)}: a gate is 1x1 or "
                                 f"{first[1]}x{first[2]}, the size of the map")
        return Cost(first)

    def label(self, attrs, sym):
        return "x"

    def torch_expr(self, a, inputs):
        if "inplace" in a and len(inputs) == 2:  # the optimizer's mark_inplace: into input k (a map, not a gate)
            k = a["inplace"].value
            return f"{inputs[k]}.mul_({inputs[1 - k]})"
        return " * ".join(inputs)
