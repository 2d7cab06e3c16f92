"""Repeated and paired timings, summarised by median and spread (no means: one slow
run from a busy machine should not move the headline number)."""

from __future__ import annotations

import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import Callable

__all__ = ["Sample", "repeat", "paired", "process"]


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
        return (f"{f.format(self.median)} {unit} (IQR {f.format(q1)}-{f.format(q3)}, min {f.format(min(self.values))}, "
                f"max {f.format(max(self.values))}, n={len(self.values)})").replace(" (", "(" if not unit else " (", 1)

    def to_json(self) -> dict:
        q1, q3 = self.quartiles
        return {"median": self.median, "q1": q1, "q3": q3, "min": min(self.values), "max": max(self.values),
                "n": len(self.values), "values": self.values}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def repeat(fn: Callable[[], object], n: int, warmup: int = 1) -> Sample:
    for _ in range(warmup):
        fn()
    return Sample([timed(fn) for _ in range(n)])


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


def process(argv: list[str], n: int, warmup: int = 1, cwd: str | None = None) -> Sample:
    """Wall time of a whole process (interpreter start-up included); it must succeed."""
    def run():
        done = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited with {done.returncode}:\n{done.stderr}")

    return repeat(run, n, warmup)
