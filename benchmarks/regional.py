"""Regional compilation (`netdsl.compile_blocks`) against whole-model `torch.compile` on
Inception-v4 training steps: compile time (the first step, less an eager step) and the
step time after it, each variant in a fresh process, inductor on the CPU.

    PYTHONPATH=. python benchmarks/regional.py [--batch 2] [--steps 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("eager", "whole", "blocks")


def run_variant(variant: str, batch: int, steps: int) -> dict:
    import torch
    from torch._dynamo.utils import counters

    import netdsl

    torch.manual_seed(0)
    model = netdsl.build(ROOT / "specs" / "inception_v4.net").train()
    if variant == "whole":
        model.compile()
    elif variant == "blocks":
        netdsl.compile_blocks(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(batch, 3, 299, 299), torch.randint(0, 1000, (batch,))
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return {
        "first_s": times[0],
        "step_s": statistics.median(times[1:]),
        "times": times,
        "graphs": counters["stats"]["unique_graphs"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_variant(args.one, args.batch, args.steps)))
        return
    from machine import describe_machine, load_average

    report = {"machine": describe_machine(), "load_before": load_average(), "batch": args.batch, "steps": args.steps}
    for variant in VARIANTS:
        command = [sys.executable, __file__, "--one", variant, "--batch", str(args.batch), "--steps", str(args.steps)]
        out = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ).stdout
        report[variant] = json.loads(out.strip().splitlines()[-1])
        eager = report["eager"]["step_s"]
        r = report[variant]
        print(
            f"{variant}: first step {r['first_s']:.1f} s (compile ~{r['first_s'] - eager:.1f} s), "
            f"step {r['step_s']:.2f} s ({r['step_s'] / eager:.2f}x eager), {r['graphs']} graphs",
            flush=True,
        )
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
    report["load_after"] = load_average()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
