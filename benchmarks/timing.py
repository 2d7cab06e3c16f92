"""Repeated and paired timings, summarised by median and spread (no means: one slow
run from a busy machine should not move the headline number)."""

from __future__ import annotations

import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Sample", "Timing", "paired", "process", "repeat"]


@dataclass
class Sample:
    """Times (seconds, or ratios) of repeated runs of one thing."""

    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def quartiles(self) -> tuple[float, float]:
        if len(self.values) < 2:
            return self.values[0], self.values[0]
        q1, _, q3 = statistics.quantiles(self.values, n=4, method="inclusive")
        return q1, q3

    def describe(self, unit: str = "s", digits: int = 3) -> str:
        """`0.412 s (IQR 0.405-0.420, min 0.398, max 0.455, n=15)`; unit "x" for ratios."""
        q1, q3 = self.quartiles
        f = f"{{:.{digits}f}}"
        return (
            f"{f.format(self.median)} {unit} (IQR {f.format(q1)}-{f.format(q3)}, min {f.format(min(self.values))}, "
            f"max {f.format(max(self.values))}, n={len(self.values)})"
        ).replace(" (", "(" if not unit else " (", 1)

    def to_json(self) -> dict:
        q1, q3 = self.quartiles
        return {
            "median": self.median,
            "q1": q1,
            "q3": q3,
            "min": min(self.values),
            "max": max(self.values),
            "n": len(self.values),
            "values": self.values,
        }


@dataclass
class Timing:
    """Wall-clock times and the CPU time spent in the same runs. On a busy machine the
    wall clock also counts waiting for a core; CPU time (user + system) does not, so it
    is the steadier figure for single-threaded work such as the front end."""

    wall: Sample
    cpu: Sample

    @property
    def median(self) -> float:
        return self.wall.median

    def describe(self, digits: int = 3) -> str:
        return f"wall {self.wall.describe('s', digits)}; CPU {self.cpu.describe('s', digits)}"

    def to_json(self) -> dict:
        return {"wall": self.wall.to_json(), "cpu": self.cpu.to_json()}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def repeat(fn: Callable[[], object], n: int, warmup: int = 1) -> Timing:
    """Wall and CPU time of this process's runs of fn (CPU time counts all its threads)."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(n):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - wall0)
        cpu.append(time.process_time() - cpu0)
    return Timing(Sample(wall), Sample(cpu))


def paired(a: Callable[[], object], b: Callable[[], object], n: int, warmup: int = 1) -> tuple[Sample, Sample, Sample]:
    """Run a and b alternately (a, b, a, b, ...) so that both see the same machine state;
    returns the times of a, of b, and the per-pair ratios a/b."""
    for _ in range(warmup):
        a()
        b()
    ta, tb = [], []
    for _ in range(n):
        ta.append(timed(a))
        tb.append(timed(b))
    return Sample(ta), Sample(tb), Sample([x / y for x, y in zip(ta, tb)])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process(argv: list[str], n: int, warmup: int = 1, cwd: str | None = None, env: dict | None = None) -> Timing:
    """Wall and CPU time of a whole process (interpreter start-up included); it must succeed.
    `env`: the child's whole environment (None: this process's)."""

    def run():
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited with {done.returncode}:\n{done.stderr}")

    for _ in range(warmup):
        run()
    wall, cpu = [], []
    for _ in range(n):
        cpu0, wall0 = _children_cpu(), time.perf_counter()
        run()
        wall.append(time.perf_counter() - wall0)
        cpu.append(_children_cpu() - cpu0)
    return Timing(Sample(wall), Sample(cpu))
