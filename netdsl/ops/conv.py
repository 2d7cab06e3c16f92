"""Convolutions: conv, dwconv (depthwise) and sepconv (depthwise then pointwise)."""

from __future__ import annotations

from ..values import BOOL, INT, PADDING, SIZE
from .base import Cost, Op, OpParam, ShapeError, register, sym_or
from .geometry import pair, resolve_padding, window_out

__all__ = ["Conv", "DepthwiseConv", "SeparableConv", "conv_geometry", "conv_args"]


def _positive(attrs: dict, *names: str) -> None:
    for name in names:
        for v in pair(attrs[name]) if not isinstance(attrs[name], bool) else ():
            if v < 1:
                raise ShapeError("bad-value", f"{name} must be at least 1, got {v}", name)


def conv_geometry(attrs: dict, shape) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(kernel, stride, padding, dilation, output size) of a 2-D sliding window."""
    _positive(attrs, "kernel", "stride", "dilation")
    k, s, d = pair(attrs["kernel"]), pair(attrs["stride"]), pair(attrs["dilation"])
    p = resolve_padding(attrs["padding"], k, d)
    if min(p) < 0:
        raise ShapeError("bad-value", f"padding must not be negative, got {min(p)}", "padding")
    _, h, w = shape
    out = (window_out(h, k[0], s[0], p[0], d[0], axis="height"), window_out(w, k[1], s[1], p[1], d[1], axis="width"))
    return k, s, p, d, out


def _size(v: tuple[int, int]) -> str:
    return str(v[0]) if v[0] == v[1] else repr(v)


def conv_args(in_ch: int, out_ch: int, k, s, p, d, groups: int, bias: bool) -> str:
    """Arguments of nn.Conv2d, leaving out those at PyTorch's defaults."""
    parts = [str(in_ch), str(out_ch), _size(k)]
    if s != (1, 1):
        parts.append(f"stride={_size(s)}")
    if p != (0, 0):
        parts.append(f"padding={_size(p)}")
    if d != (1, 1):
        parts.append(f"dilation={_size(d)}")
    if groups != 1:
        parts.append(f"groups={groups}")
    if not bias:
        parts.append("bias=False")
    return ", ".join(parts)


def _window_label(attrs: dict, kind: str, extra: str = "", sym: dict | None = None) -> str:
    k = pair(attrs["kernel"])
    bits = [extra] if extra else []
    s = pair(attrs["stride"]) if attrs.get("stride") is not None else k
    if s != (1, 1):
        bits.append(f"stride {s[0]}" if s[0] == s[1] else f"stride {s[0]}x{s[1]}")
    if attrs.get("padding") == "valid":
        bits.append("V")
    return f"{k[0]}x{k[1]} {kind}" + (f" ({' '.join(bits)})" if bits else "")


_WINDOW = (
    OpParam("stride", SIZE, 1, "step of the window"),
    OpParam("padding", PADDING, "same", "`same`, `valid`, an int or a pair"),
    OpParam("dilation", SIZE, 1, "spacing of the kernel taps"),
)


@register
class Conv(Op):
    name, short = "conv", "conv"
    doc = "2-D convolution; input channels are inferred."
    example = "conv(64, 3x3, stride=2, padding=valid, bias=false)"
    params = (
        OpParam("filters", INT, doc="output channels"),
        OpParam("kernel", SIZE, doc="`3`, `1x7` or `(1, 7)`"),
        *_WINDOW,
        OpParam("groups", INT, 1, "channel groups (AlexNet's two towers: 2)"),
        OpParam("bias", BOOL, True, "add a learned bias"),
    )

    def infer(self, attrs, inputs):
        c, _, _ = self.require_map(inputs[0], "conv")
        k, _, _, _, (ho, wo) = conv_geometry(attrs, inputs[0])
        f, g = attrs["filters"], attrs["groups"]
        _positive(attrs, "filters", "groups")
        if c % g or f % g:
            raise ShapeError("bad-groups", f"groups={g} must divide both the {c} input channels and the {f} filters", "groups")
        weights = f * (c // g) * k[0] * k[1]
        return Cost((f, ho, wo), weights + (f if attrs["bias"] else 0), weights * ho * wo)

    def label(self, attrs, sym):
        extra = sym_or(attrs, sym, "filters")
        if attrs["groups"] != 1:
            extra += f" groups {attrs['groups']}"
        return _window_label(attrs, "Conv", extra)

    def module(self, attrs, inputs):
        k, s, p, d, _ = conv_geometry(attrs, inputs[0])
        return f"nn.Conv2d({conv_args(inputs[0][0], attrs['filters'], k, s, p, d, attrs['groups'], attrs['bias'])})"


@register
class DepthwiseConv(Op):
    name, short = "dwconv", "dwconv"
    doc = "Depthwise convolution: one filter (or `multiplier` filters) per input channel."
    example = "dwconv(3x3, stride=2)"
    params = (
        OpParam("kernel", SIZE, doc="`3` or `1x7`"),
        *_WINDOW,
        OpParam("multiplier", INT, 1, "filters per input channel"),
        OpParam("bias", BOOL, True, "add a learned bias"),
    )

    def infer(self, attrs, inputs):
        c, _, _ = self.require_map(inputs[0], "dwconv")
        k, _, _, _, (ho, wo) = conv_geometry(attrs, inputs[0])
        _positive(attrs, "multiplier")
        f = c * attrs["multiplier"]
        weights = f * k[0] * k[1]
        return Cost((f, ho, wo), weights + (f if attrs["bias"] else 0), weights * ho * wo)

    def label(self, attrs, sym):
        return _window_label(attrs, "Conv dw")

    def module(self, attrs, inputs):
        c = inputs[0][0]
        k, s, p, d, _ = conv_geometry(attrs, inputs[0])
        return f"nn.Conv2d({conv_args(c, c * attrs['multiplier'], k, s, p, d, c, attrs['bias'])})"


@register
class SeparableConv(Op):
    name, short = "sepconv", "sepconv"
    doc = "Depthwise separable convolution (Xception): a depthwise conv, then a 1x1 conv."
    example = "sepconv(128, 3x3)"
    params = (
        OpParam("filters", INT, doc="output channels of the pointwise conv"),
        OpParam("kernel", SIZE, doc="depthwise kernel"),
        *_WINDOW,
        OpParam("bias", BOOL, False, "biases on both convs"),
    )

    def infer(self, attrs, inputs):
        c, _, _ = self.require_map(inputs[0], "sepconv")
        k, _, _, _, (ho, wo) = conv_geometry(attrs, inputs[0])
        _positive(attrs, "filters")
        f, b = attrs["filters"], attrs["bias"]
        dw, pw = c * k[0] * k[1], c * f
        return Cost((f, ho, wo), dw + pw + (c + f if b else 0), (dw + pw) * ho * wo)

    def label(self, attrs, sym):
        return _window_label(attrs, "SepConv", sym_or(attrs, sym, "filters"))

    def module(self, attrs, inputs):
        c = inputs[0][0]
        k, s, p, d, _ = conv_geometry(attrs, inputs[0])
        dw = conv_args(c, c, k, s, p, d, c, attrs["bias"])
        pw = conv_args(c, attrs["filters"], (1, 1), (1, 1), (0, 0), (1, 1), 1, attrs["bias"])
        return f"nn.Sequential(nn.Conv2d({dw}), nn.Conv2d({pw}))"
