"""Functions generated files call (`netdsl compile` copies those a file uses into it,
as text): the padding a `"same"` / `"valid"` conv has, a channel count rounded as
MobileNet / EfficientNet round it, the spec's `ceil` and `floor`. Real code, tested as
code (tests/test_runtime_modules.py); pure Python."""

from __future__ import annotations


def _ceil(value):
    return -int(-value // 1)


def _floor(value):
    return int(value // 1)


def _make_divisible(value, divisor=8, min_value=None, round_limit=0.9):
    """Round a channel count to a multiple of `divisor`, losing at most 10%."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < round_limit * value else rounded


def _padding(padding, kernel, dilation=1):
    """`same` pads dilation * (kernel - 1) // 2 on each side, `valid` nothing."""
    if padding == "valid":
        return 0
    if padding != "same":
        return padding
    kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
    dilation = (dilation, dilation) if isinstance(dilation, int) else dilation
    return tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
