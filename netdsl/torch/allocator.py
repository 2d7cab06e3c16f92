"""glibc malloc tuning for CPU inference (opt-in): `tune_allocator()`.

A batch of feature maps is tens of megabytes. glibc serves a block above its mmap
threshold (128 KiB, raised as large blocks are freed, to at most 32 MiB) with a fresh
`mmap` and gives it back with `munmap` when it is freed, and it trims the top of the heap
back to the kernel once more than the trim threshold lies free there. So every call of a
model asks the kernel again for the memory its previous call just returned, and every
page of it is a page fault (zeroed by the kernel) the first time it is written. The
deployment engines keep their own arenas; this makes glibc keep the freed memory in its
heap instead, so the next call reuses the same pages.

It changes the allocator of the whole process (every library in it, from the call on),
and the process keeps the high-water mark of its heap: memory freed after the largest
call is not returned to the system. That is why it is opt-in. Settings are process-wide
and cannot be taken back to glibc's dynamic defaults; calling it again is harmless.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys

__all__ = ["tune_allocator", "MMAP_THRESHOLD_MAX"]

# mallopt's parameter numbers (malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -2, -3, -4
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc refuses more on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_NEVER = 2**31 - 1  # mallopt takes an int: "never trim" in practice


def _libc():
    """glibc's handle on Linux, or None (musl, macOS, Windows: nothing to tune)."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return libc if hasattr(libc, "mallopt") else None


def tune_allocator(*, mmap_threshold: int = MMAP_THRESHOLD_MAX, trim_threshold: int = TRIM_NEVER,
                   mmap_max: int | None = 0) -> dict[str, int]:
    """Keep freed feature maps in glibc's heap for the next call to reuse.

    mmap_threshold: blocks at least this large get their own mmap (at most 32 MiB);
    trim_threshold: free bytes at the heap's top before glibc returns them;
    mmap_max: how many mmap'd blocks at once (0: none, so blocks above 32 MiB come from
    the heap too; None leaves glibc's default).
    Returns the settings glibc accepted, by mallopt name; {} where the C library is not
    glibc (nothing is changed there)."""
    libc = _libc()
    if libc is None:
        return {}
    wanted = {"M_MMAP_THRESHOLD": (M_MMAP_THRESHOLD, mmap_threshold),
              "M_TRIM_THRESHOLD": (M_TRIM_THRESHOLD, trim_threshold)}
    if mmap_max is not None:
        wanted["M_MMAP_MAX"] = (M_MMAP_MAX, mmap_max)
    return {name: value for name, (param, value) in wanted.items() if libc.mallopt(param, value) == 1}
