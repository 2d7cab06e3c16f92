"""Activation checkpointing by block: peak training memory and step time with and without
(`netdsl.build(spec, checkpoint="blocks")`), and how close the summary's activation-memory
column predicts both.

Each variant runs in a fresh process: build the model, allocate every gradient, read the
resident set (the baseline: weights, gradients, momentum, the batch), then train `--steps`
SGD steps; the activation peak is the resident high-water mark (VmHWM) minus that
baseline, so it holds what the steps allocated on top of the weights. The step time is
the median of the steps after the first (the first alone with --steps 1).

    PYTHONPATH=. python benchmarks/checkpoint.py [--steps 3] [--batch 16] [--json out.json]
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
SPECS = {"resnet50": 224, "inception_v4": 299}


def _status(field: str) -> int:
    """A /proc/self/status memory field in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def run_variant(spec: str, checkpoint: str | None, batch: int, steps: int) -> dict:
    """In this (fresh) process: one variant's baseline, peak and step times."""
    import torch

    import netdsl

    torch.manual_seed(0)
    model = netdsl.build(ROOT / "specs" / f"{spec}.net", checkpoint=checkpoint).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    size = SPECS[spec]
    x, y = torch.randn(batch, 3, size, size), torch.randint(0, 1000, (batch,))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
        optimizer.state[p]["momentum_buffer"] = torch.zeros_like(p)
    baseline = _status("VmRSS")
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=False)
        out = model(x)
        outputs = out if isinstance(out, tuple) else (out,)
        loss = sum(torch.nn.functional.cross_entropy(o, y) for o in outputs)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return {
        "baseline": baseline,
        "peak": _status("VmHWM"),
        "activations": _status("VmHWM") - baseline,
        "step_s": statistics.median(times[1:] or times),
        "times": times,
    }


def predicted(spec: str, batch: int) -> dict:
    """The summary's activation memory (every node's output once, float32) for the whole
    network, and what checkpointing every outermost block keeps: the nodes outside
    blocks, each block's output, and the largest block's insides (recomputed one block
    at a time in the backward pass)."""
    import netdsl
    from netdsl.summary.rows import counted_nodes, tensor_bytes

    graph = netdsl.check(ROOT / "specs" / f"{spec}.net")
    outside, blocks = 0, {}
    for node in counted_nodes(graph, training=True):
        chain = [f for f in graph.frame_chain(node.frame) if f.kind == "block"]
        if chain:
            block = blocks.setdefault(chain[-1].id, [0, 0])
            block[0] += tensor_bytes(node.shape)
            block[1] = tensor_bytes(node.shape)  # the last node's output: the block's output
        else:
            outside += tensor_bytes(node.shape)
    whole = outside + sum(inside for inside, _ in blocks.values())
    kept = outside + sum(output for _, output in blocks.values()) + max(inside for inside, _ in blocks.values())
    return {"plain": whole * batch, "checkpointed": kept * batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", nargs=2, metavar=("SPEC", "CHECKPOINT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        spec, checkpoint = args.one
        print(json.dumps(run_variant(spec, None if checkpoint == "none" else checkpoint, args.batch, args.steps)))
        return
    from machine import describe_machine, load_average

    report = {
        "machine": describe_machine(),
        "load_before": load_average(),
        "batch": args.batch,
        "steps": args.steps,
        "specs": {},
    }
    for spec in SPECS:
        result = {"predicted": predicted(spec, args.batch)}
        for checkpoint in ("none", "blocks"):
            command = [
                sys.executable,
                __file__,
                "--one",
                spec,
                checkpoint,
                "--steps",
                str(args.steps),
                "--batch",
                str(args.batch),
            ]
            out = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ).stdout
            result[checkpoint] = json.loads(out.strip().splitlines()[-1])
        report["specs"][spec] = result
        print_spec(spec, result)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
    report["load_after"] = load_average()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps({"machine": report["machine"], "load": [report["load_before"], report["load_after"]]}))


def print_spec(spec: str, r: dict) -> None:
    plain, ckpt, pred = r["none"], r["blocks"], r["predicted"]
    mb = lambda b: f"{b / 1e6:,.0f} MB"
    print(
        f"{spec}: activations {mb(plain['activations'])} -> {mb(ckpt['activations'])} "
        f"({ckpt['activations'] / plain['activations']:.0%}), step {plain['step_s']:.2f} s -> {ckpt['step_s']:.2f} s "
        f"({ckpt['step_s'] / plain['step_s']:.2f}x); predicted {mb(pred['plain'])} -> {mb(pred['checkpointed'])} "
        f"({pred['checkpointed'] / pred['plain']:.0%})",
        flush=True,
    )


if __name__ == "__main__":
    main()
