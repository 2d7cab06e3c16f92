"""Pooling: maxpool, avgpool, global_avgpool, adaptive_avgpool."""

from __future__ import annotations

from .. import codes
from ..values import BOOL, PADDING, SIZE
from .base import Cost, Lowered, Op, OpParam, ShapeError, register
from .conv import padding_src, size_src
from .geometry import pair, resolve_padding, window_out
from .geometry import pair_text as _size
from .geometry import window_label as _window_label

__all__ = ["MaxPool", "AvgPool", "GlobalAvgPool", "AdaptiveAvgPool"]


def _pool_geometry(attrs: dict, shape):
    k = pair(attrs["kernel"])
    s = pair(attrs["stride"]) if attrs["stride"] is not None else k
    p = resolve_padding(attrs["padding"], k, (1, 1))
    if min(p) < 0 or p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise ShapeError(codes.BAD_PADDING, f"pool padding {_size(p)} must be between 0 and half the kernel {k[0]}x{k[1]}", "padding")
    _, h, w = shape
    ceil = attrs["ceil_mode"]
    return k, s, p, (window_out(h, k[0], s[0], p[0], 1, ceil, "height"), window_out(w, k[1], s[1], p[1], 1, ceil, "width"))


_POOL = (
    OpParam("kernel", SIZE, doc="window size", minimum=1),
    OpParam("stride", SIZE, None, "defaults to the kernel size", minimum=1),
    OpParam("padding", PADDING, "valid", "`valid` (0), `same`, an int or a pair"),
    OpParam("ceil_mode", BOOL, False, "round the output size up (Caffe-style)"),
)


class _Pool(Op):
    role = "pool"
    kind = ""
    module_class = ""

    def infer(self, attrs, inputs):
        c, _, _ = self.require_map(inputs[0], self.name)
        *_, (ho, wo) = _pool_geometry(attrs, inputs[0])
        return Cost((c, ho, wo))

    def label(self, attrs, sym):
        return _window_label(attrs, self.kind)

    def torch_module(self, a, in_channels):
        parts = [size_src(a["kernel"])]
        if not (a["stride"].known and a["stride"].value is None):
            parts.append(f"stride={size_src(a['stride'])}")
        padding = padding_src({**a, "dilation": Lowered("1", 1)})
        if padding != "0":
            parts.append(f"padding={padding}")
        for flag, default in (("ceil_mode", False), ("count_include_pad", True)):
            if flag in a and not (a[flag].known and a[flag].value is default):
                parts.append(f"{flag}={a[flag].src}")
        return f"nn.{self.module_class}({', '.join(parts)})"


@register
class MaxPool(_Pool):
    name, short, kind, module_class = "maxpool", "maxpool", "MaxPool", "MaxPool2d"
    doc = "Max pooling."
    example = "maxpool(3x3, stride=2, padding=valid)"
    params = _POOL


@register
class AvgPool(_Pool):
    name, short, kind, module_class = "avgpool", "avgpool", "Avg Pooling", "AvgPool2d"
    doc = "Average pooling."
    example = "avgpool(3, stride=1, padding=same, count_include_pad=false)"
    params = (*_POOL, OpParam("count_include_pad", BOOL, True, "count padded zeros in the average"))


@register
class GlobalAvgPool(Op):
    name, short, role = "global_avgpool", "global_pool", "pool"
    fixed_size = True
    doc = "Average over the whole feature map: C x H x W -> C x 1 x 1."
    example = "global_avgpool"

    def infer(self, attrs, inputs):
        c, _, _ = self.require_map(inputs[0], "global_avgpool")
        return Cost((c, 1, 1))

    def label(self, attrs, sym):
        return "Average Pooling"

    def torch_module(self, a, in_channels):
        return "nn.AdaptiveAvgPool2d(1)"


@register
class AdaptiveAvgPool(Op):
    name, short, role = "adaptive_avgpool", "avgpool", "pool"
    fixed_size = True
    doc = "Average into a fixed output grid, whatever the input size (PyTorch's adaptive pooling)."
    example = "adaptive_avgpool(4x4)"
    params = (OpParam("size", SIZE, doc="output height and width: `4` or `4x4`", minimum=1),)

    def infer(self, attrs, inputs):
        c, _, _ = self.require_map(inputs[0], "adaptive_avgpool")
        h, w = pair(attrs["size"])
        return Cost((c, h, w))

    def label(self, attrs, sym):
        h, w = pair(attrs["size"])
        return f"Adaptive Avg Pooling ({h}x{w})"

    def torch_module(self, a, in_channels):
        return f"nn.AdaptiveAvgPool2d({size_src(a['size'])})"
