"""Sliding-window arithmetic shared by convolutions and pools (PyTorch's rules), and how
they write a window (`3x3 Conv (stride 2 V)`, `(1, 3)`)."""

from __future__ import annotations

from .. import codes
from .base import ShapeError

__all__ = ["pair", "pair_text", "resolve_padding", "window_label", "window_out"]


def pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def resolve_padding(padding, kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    """`same` pads d*(k-1)/2 on each side (symmetric, as the reference models do);
    `valid` pads nothing; an int or pair is taken as written."""
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        spans = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if any(s % 2 for s in spans):
            raise ShapeError(
                codes.BAD_PADDING,
                f"padding=same needs an odd kernel; {kernel[0]}x{kernel[1]} would pad unevenly (write the padding explicitly)",
                "padding",
            )
        return (spans[0] // 2, spans[1] // 2)
    return pair(padding)


def window_out(size: int, kernel: int, stride: int, pad: int, dilation: int = 1, ceil_mode: bool = False,
               axis: str = "height") -> int:
    reach = dilation * (kernel - 1) + 1
    if reach > size + 2 * pad:
        raise ShapeError(
            codes.KERNEL_TOO_LARGE,
            f"kernel reaches {reach} pixels but its input is only {size}"
            + (f" (+{2 * pad} padding)" if pad else "") + f" in {axis}",
            "kernel",
        )
    span = size + 2 * pad - reach
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1  # PyTorch: the last window must start inside the input or left padding
    return out


def pair_text(v: tuple[int, int]) -> str:
    """A size pair as source and messages write it: `3`, or `(1, 3)` when the sides differ."""
    return str(v[0]) if v[0] == v[1] else repr(v)


def window_label(attrs: dict, kind: str, extra: str = "", sym: dict | None = None) -> str:
    """The diagram label of a sliding window: `3x3 Conv (stride 2 V)`."""
    k = pair(attrs["kernel"])
    bits = [extra] if extra else []
    s = pair(attrs["stride"]) if attrs.get("stride") is not None else k
    if s != (1, 1):
        bits.append(f"stride {s[0]}" if s[0] == s[1] else f"stride {s[0]}x{s[1]}")
    if attrs.get("padding") == "valid":
        bits.append("V")
    return f"{k[0]}x{k[1]} {kind}" + (f" ({' '.join(bits)})" if bits else "")
