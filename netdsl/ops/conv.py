"""Convolutions: conv, dwconv (depthwise) and sepconv (depthwise then pointwise)."""

from __future__ import annotations

from .. import codes
from ..values import BOOL, INT, PADDING, SIZE
from .base import Cost, Lowered, Op, OpParam, ShapeError, product, register, sym_or
from .geometry import pair, resolve_padding, window_out
from .geometry import pair_text as _size
from .geometry import window_label as _window_label

__all__ = ["Conv", "DepthwiseConv", "SeparableConv", "conv_geometry", "conv_call", "size_src", "padding_src"]


def conv_geometry(attrs: dict, shape) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(kernel, stride, padding, dilation, output size) of a 2-D sliding window."""
    k, s, d = pair(attrs["kernel"]), pair(attrs["stride"]), pair(attrs["dilation"])
    p = resolve_padding(attrs["padding"], k, d)
    if min(p) < 0:
        raise ShapeError(codes.BAD_VALUE, f"padding must not be negative, got {min(p)}", "padding")
    _, h, w = shape
    out = (window_out(h, k[0], s[0], p[0], d[0], axis="height"), window_out(w, k[1], s[1], p[1], d[1], axis="width"))
    return k, s, p, d, out


def size_src(a: Lowered) -> str:
    """A kernel/stride/dilation/padding argument as nn.Conv2d takes it."""
    if a.known:
        return _size(pair(a.value))
    return a.src


def padding_src(a: dict[str, Lowered]) -> str:
    pad, k = a["padding"], a["kernel"]
    d = a.get("dilation", Lowered("1", 1))
    if pad.known and not isinstance(pad.value, str):
        return _size(pair(pad.value))
    if pad.known and k.known and d.known:
        return _size(resolve_padding(pad.value, pair(k.value), pair(d.value)))
    dilation = "" if d.known and d.value == 1 else f", {d.src}"
    return f"_padding({pad.src}, {k.src}{dilation})"  # helper emitted into the generated file


def conv_call(in_ch: str, out_ch: str, a: dict[str, Lowered], groups: str = "1", pointwise: bool = False) -> str:
    """nn.Conv2d(...), leaving out arguments at PyTorch's defaults."""
    if pointwise:
        parts = [in_ch, out_ch, "1"]
    else:
        parts = [in_ch, out_ch, size_src(a["kernel"])]
        for name, default in (("stride", "1"), ("padding", "0"), ("dilation", "1")):
            src = padding_src(a) if name == "padding" else size_src(a[name])
            if src != default:
                parts.append(f"{name}={src}")
    if groups != "1":
        parts.append(f"groups={groups}")
    bias = a["bias"]
    if not (bias.known and bias.value is True):
        parts.append("bias=False" if bias.known else f"bias={bias.src}")
    return f"nn.Conv2d({', '.join(parts)})"


_WINDOW = (
    OpParam("stride", SIZE, 1, "step of the window", minimum=1),
    OpParam("padding", PADDING, "same", "`same`, `valid`, an int or a pair"),
    OpParam("dilation", SIZE, 1, "spacing of the kernel taps", minimum=1),
)


@register
class Conv(Op):
    name, short = "conv", "conv"
    module_reads_channels = True
    role, principal, stateful, fresh_output, folds_batchnorm, conv2d = "conv", True, True, True, True, True
    init_kind, torch_class, width_param = "conv", "nn.Conv2d", ("filters", "filters")
    doc = "2-D convolution; input channels are inferred."
    example = "conv(64, 3x3, stride=2, padding=valid, bias=false)"
    params = (
        OpParam("filters", INT, doc="output channels", minimum=1),
        OpParam("kernel", SIZE, doc="`3`, `1x7` or `(1, 7)`", minimum=1),
        *_WINDOW,
        OpParam("groups", INT, 1, "channel groups (AlexNet's two towers: 2)", minimum=1),
        OpParam("bias", BOOL, True, "add a learned bias"),
    )

    def infer(self, attrs, inputs):
        c, _, _ = self.require_map(inputs[0], "conv")
        k, _, _, _, (ho, wo) = conv_geometry(attrs, inputs[0])
        f, g = attrs["filters"], attrs["groups"]
        if c % g or f % g:
            raise ShapeError(codes.BAD_GROUPS, f"groups={g} must divide both the {c} input channels and the {f} filters", "groups")
        weights = f * (c // g) * k[0] * k[1]
        return Cost((f, ho, wo), weights + (f if attrs["bias"] else 0), weights * ho * wo)

    def label(self, attrs, sym):
        extra = sym_or(attrs, sym, "filters")
        if attrs["groups"] != 1:
            extra += f" groups {attrs['groups']}"
        return _window_label(attrs, "Conv", extra)

    def torch_module(self, a, in_channels):
        return conv_call(in_channels, a["filters"].src, a, a["groups"].src)

    def out_channels(self, a, inputs):
        return a["filters"].src


@register
class DepthwiseConv(Op):
    name, short = "dwconv", "dwconv"
    module_reads_channels = True
    role, principal, stateful, fresh_output, folds_batchnorm, conv2d = "conv", True, True, True, True, True
    init_kind, torch_class = "conv", "nn.Conv2d"
    doc = "Depthwise convolution: one filter (or `multiplier` filters) per input channel."
    example = "dwconv(3x3, stride=2)"
    params = (
        OpParam("kernel", SIZE, doc="`3` or `1x7`", minimum=1),
        *_WINDOW,
        OpParam("multiplier", INT, 1, "filters per input channel", minimum=1),
        OpParam("bias", BOOL, True, "add a learned bias"),
    )

    def infer(self, attrs, inputs):
        c, _, _ = self.require_map(inputs[0], "dwconv")
        k, _, _, _, (ho, wo) = conv_geometry(attrs, inputs[0])
        f = c * attrs["multiplier"]
        weights = f * k[0] * k[1]
        return Cost((f, ho, wo), weights + (f if attrs["bias"] else 0), weights * ho * wo)

    def label(self, attrs, sym):
        return _window_label(attrs, "Conv dw")

    def torch_module(self, a, in_channels):
        return conv_call(in_channels, self.out_channels(a, [in_channels]), a, in_channels)

    def out_channels(self, a, inputs):
        m = a["multiplier"]
        return inputs[0] if m.known and m.value == 1 else product(inputs[0], "*", m.src)


@register
class SeparableConv(Op):
    name, short = "sepconv", "sepconv"
    module_reads_channels = True
    role, principal, stateful, fresh_output = "conv", True, True, True
    init_kind, torch_class, width_param = "conv", "nn.Conv2d", ("filters", "filters")
    init_weight = False  # two convs (depthwise, pointwise): no one weight for `init NAME:`
    doc = "Depthwise separable convolution (Xception): a depthwise conv, then a 1x1 conv."
    example = "sepconv(128, 3x3)"
    params = (
        OpParam("filters", INT, doc="output channels of the pointwise conv", minimum=1),
        OpParam("kernel", SIZE, doc="depthwise kernel", minimum=1),
        *_WINDOW,
        OpParam("bias", BOOL, False, "biases on both convs"),
    )

    def infer(self, attrs, inputs):
        c, _, _ = self.require_map(inputs[0], "sepconv")
        k, _, _, _, (ho, wo) = conv_geometry(attrs, inputs[0])
        f, b = attrs["filters"], attrs["bias"]
        dw, pw = c * k[0] * k[1], c * f
        return Cost((f, ho, wo), dw + pw + (c + f if b else 0), (dw + pw) * ho * wo)

    def label(self, attrs, sym):
        return _window_label(attrs, "SepConv", sym_or(attrs, sym, "filters"))

    def torch_module(self, a, in_channels):
        dw = conv_call(in_channels, in_channels, a, in_channels)
        pw = conv_call(in_channels, a["filters"].src, a, pointwise=True)
        return f"nn.Sequential({dw}, {pw})"

    def out_channels(self, a, inputs):
        return a["filters"].src
