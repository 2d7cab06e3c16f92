"""What glibc malloc tuning (`netdsl.tune_allocator`) buys each torch variant: page faults
and seconds per call, paired and interleaved across processes.

    .venv/bin/python benchmarks/allocator.py --models mobilenet_v1 resnet50 --batch 8 --rounds 15

The allocator's settings are process-wide and cannot be undone, so each setting lives in
its own worker process that builds the same variants (benchmarks/inference.py: seeded
reference eager, netdsl optimized, torch.compile with freezing). The parent sends one call
at a time to one worker, in a shuffled order per round over every (setting, variant) pair,
so only one process runs at a time and a busy spell of the machine hits all alike.
Reported: median seconds and minor page faults (getrusage, every thread) per call, with the
IQR, and the median of the per-round ratios against the same variant untuned."""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {  # name -> tune_allocator keywords (None: untouched glibc)
    "glibc default": None,
    "threshold 32 MiB, no trim": {"mmap_max": None},
    "no mmap, no trim": {"mmap_max": 0},
}


def worker(setting: str, model: str, batch: int, with_compile: bool) -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import torch
    from inference import MODELS, variants

    import netdsl

    kwargs = SETTINGS[setting]
    applied = netdsl.tune_allocator(**kwargs) if kwargs is not None else {}
    found, _ = variants(model, with_compile)
    found.pop("netdsl plain")
    size = MODELS[model][2]
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(batch))
    with torch.inference_mode():
        want = found["reference eager"](x)
        errors = {}
        for name, f in found.items():
            for _ in range(3):  # packing, compiling, the allocator's first high-water mark
                out = f(x)
            errors[name] = ((out - want).norm() / want.norm()).item()
        print(json.dumps({"variants": list(found), "applied": applied, "errors": errors}), flush=True)
        for line in sys.stdin:
            f = found[line.strip()]
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            f(x)
            seconds = time.perf_counter() - start
            print(json.dumps([seconds, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before]), flush=True)


def spread(values) -> str:
    q1, med, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return f"{statistics.median(values):.4g} ({q1:.4g}-{q3:.4g})"


def measure(model: str, batch: int, rounds: int, with_compile: bool) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {s: subprocess.Popen([sys.executable, __file__, "--worker", s, model, str(batch), str(int(with_compile))],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for s in SETTINGS}
    heads = {s: json.loads(p.stdout.readline()) for s, p in procs.items()}
    names = heads["glibc default"]["variants"]
    pairs = [(s, n) for s in SETTINGS for n in names]
    got = {pair: [] for pair in pairs}
    for r in range(rounds):
        for s, n in random.Random(r).sample(pairs, len(pairs)):
            procs[s].stdin.write(n + "\n")
            procs[s].stdin.flush()
            got[(s, n)].append(json.loads(procs[s].stdout.readline()))
    for p in procs.values():
        p.stdin.close()
        p.wait()
    lines = [f"### {model}, batch {batch}, {rounds} rounds, load average at end {os.getloadavg()[0]:.1f}", "",
             "| variant | allocator | minor faults / call: median (IQR) | s / call: median (IQR) | "
             "paired time vs untuned (min-max) | output error |", "|---|---|---|---|---|---|"]
    for n in names:
        base = [t for t, _ in got[("glibc default", n)]]
        for s in SETTINGS:
            ts, fs = [t for t, _ in got[(s, n)]], [f for _, f in got[(s, n)]]
            ratios = [t / b for t, b in zip(ts, base)]
            lines.append(f"| {n} | {s} | {spread(fs)} | {spread(ts)} | {statistics.median(ratios):.3f} "
                         f"({min(ratios):.2f}-{max(ratios):.2f}) | {heads[s]['errors'][n]:.1e} |")
    lines += ["", "applied: " + "; ".join(f"{s}: {heads[s]['applied']}" for s in SETTINGS), ""]
    print("\n".join(lines), flush=True)
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    p.add_argument("--models", nargs="+", default=["mobilenet_v1"])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--no-compile", action="store_true")
    args = p.parse_args(argv)
    if args.worker:
        setting, model, batch, with_compile = args.worker
        worker(setting, model, int(batch), bool(int(with_compile)))
        return 0
    print(f"load average at start {os.getloadavg()[0]:.1f}", flush=True)
    for model in args.models:
        measure(model, args.batch, args.rounds, not args.no_compile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
