"""Front-end benchmarks: `netdsl check` as a whole process, and how checking scales with
the number of layers (a generated chain of convolutions)."""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

from timing import Timing, process, repeat

__all__ = ["chain_scaling", "chain_spec", "check_fresh", "check_process", "netdsl_command", "python_startup"]

ROOT = Path(__file__).resolve().parent.parent


def netdsl_command() -> list[str]:
    """The installed `netdsl` console script next to this interpreter, else `python -m netdsl`."""
    script = Path(sys.executable).parent / "netdsl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "netdsl"]


def check_process(n: int) -> Timing:
    return process([*netdsl_command(), "check", "specs/inception_v4.net"], n, cwd=str(ROOT))


def python_startup(n: int) -> Timing:
    """The floor under every whole-process number: an interpreter that does nothing."""
    return process([sys.executable, "-c", "pass"], n)


def chain_spec(layers: int, written_out: bool = True) -> str:
    """A network of `layers` 3x3 convolutions, 16 -> 16 channels on a 32x32 map. Written
    out, one line per layer (parser + elaborator + shape inference all scale), or as one
    `repeat` (the elaborator and shape inference scale, the parser does not)."""
    head = f"# {layers:,} convolutions\nnetwork Chain{layers}() {{\n    input [16, 32, 32]\n"
    if written_out:
        body = "".join(f"    c{k}: conv(16, 3, padding=same)\n" for k in range(layers))
    else:
        body = f"    repeat({layers}) {{ conv(16, 3, padding=same) }}\n"
    return head + body + "}\n"


def check_fresh(spec: str, layers: int = 0) -> None:
    """`netdsl.check(spec)` (a path or spec text) with the parse cache cleared first; the
    graph must have at least `layers` nodes."""
    import netdsl
    from netdsl.syntax.parser import clear_cache

    clear_cache()  # every run parses: the in-process parse cache would hide the parser
    graph = netdsl.check(spec)
    if len(graph.nodes) < layers:
        raise RuntimeError(f"expected {layers} layers, the graph has {len(graph.nodes)}")


def chain_scaling(sizes: list[int], runs: dict[int, int], written_out: bool = True) -> dict[int, Timing]:
    """In-process `netdsl.check` of each chain (spec text -> shape-checked graph)."""
    out = {}
    for size in sizes:
        text = chain_spec(size, written_out)
        n = runs.get(size, 1)
        out[size] = repeat(functools.partial(check_fresh, text, size), n, warmup=1 if n > 1 else 0)
    return out


def timed_import() -> float:
    """Seconds to import the front end in this process (0 if already imported)."""
    start = time.perf_counter()
    import netdsl  # noqa: F401

    return time.perf_counter() - start
