"""netdsl on a GPU: does the optimized module run there with the right numbers, and how
fast is it next to the reference eager module and `torch.compile(mode="max-autotune")`?

    python benchmarks/gpu.py                          # all models, batches 1 32 256 (< 8 min on a large GPU)
    python benchmarks/gpu.py --models resnet50 --batches 32 --no-compile
    python benchmarks/gpu.py --device cpu --models resnet50 --batches 1 --resolution 64 --rounds 1 --no-compile

On a machine without CUDA it says so and exits 0 (`--device cpu` runs the same code on
the CPU, which is how the test suite keeps this script working).

For each model, all variants hold the same weights (the reference's, seeded random,
ported into netdsl's module) and see the same input:

1. correctness on the device: the optimized module's output against the reference's
   in float32 (TF32 off, relative error <= 1e-4), under bf16 autocast (<= 5e-2) and
   under fp16 autocast (<= 1e-2), each against the float32 reference;
2. speed, in images/s (median over rounds, CUDA events around each call, warm-up
   first, variants interleaved in a shuffled order each round): netdsl plain, netdsl
   optimized, netdsl optimized in channels_last, the reference eager and
   `torch.compile(reference, mode="max-autotune")`, in float32 (cuDNN's defaults, TF32
   convolutions allowed as PyTorch ships) and at the largest batch also under bf16
   autocast. Compiling is the slow part: a time budget (`--budget`) leaves it out, with
   a note, once the run would not finish in time.

The Markdown table goes to stdout and, with `-o`, to a file (docs/performance-gpu.md)."""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from inference import MODELS, reference, rel_err  # the same models, weights and error measure as the CPU benchmark

# the models (and the modern ones whose specs exist)
GPU_MODELS = ("inception_v4", "inception_resnet_v2", "resnet50", "mobilenet_v1", "efficientnet_b0", "convnext_tiny")
TOLERANCE = {"float32": 1e-4, "bfloat16": 5e-2, "float16": 1e-2}


class Clock:
    """Seconds of one call: CUDA events on a GPU, perf_counter on the CPU."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def time(self, fn) -> float:
        if not self.cuda:
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        fn()
        end.record()
        end.synchronize()
        return begin.elapsed_time(end) / 1000


def build_variants(name: str, device: torch.device, resolution: int | None):
    import netdsl

    spec, (kind, ref_name), default = MODELS[name]
    size = resolution or default
    params = {"resolution": size} if resolution else {}
    ref = reference(kind, ref_name).eval()
    plain = netdsl.build(ROOT / spec, **params)
    netdsl.port_weights(plain, ref)
    plain.eval()
    fast = netdsl.optimize(plain, "inference")
    fast_nhwc = netdsl.optimize(plain, "inference")
    variants = {"reference eager": ref, "netdsl plain": plain, "netdsl optimized": fast,
                "netdsl optimized, channels_last": fast_nhwc}
    for model in variants.values():
        model.to(device)
    fast_nhwc.to(memory_format=torch.channels_last)
    return variants, size


def correctness_lines(variants: dict, x) -> list[str]:
    """The optimized module against the float32 reference, in each precision."""
    ref, fast = variants["reference eager"], variants["netdsl optimized"]
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    lines = []
    try:
        with torch.inference_mode():
            want = ref(x).float()
            for dtype in TOLERANCE:
                if dtype == "float32":
                    got = fast(x)
                else:
                    if x.device.type == "cpu" and dtype == "float16":
                        continue  # CPU autocast is bf16 only
                    with torch.autocast(x.device.type, dtype=getattr(torch, dtype)):
                        got = fast(x)
                err = rel_err(got, want)
                verdict = "ok" if err <= TOLERANCE[dtype] else f"FAILS (> {TOLERANCE[dtype]:.0e})"
                lines.append(f"optimized vs float32 reference, {dtype}: relative error {err:.1e} {verdict}")
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    return lines


def throughput(variants: dict, x, rounds: int, clock: Clock, autocast: torch.dtype | None) -> dict[str, float]:
    """images/s of each variant: median over interleaved, shuffled rounds."""
    names = list(variants)
    inputs = {n: x.contiguous(memory_format=torch.channels_last) if "channels_last" in n else x for n in names}
    times: dict[str, list[float]] = {n: [] for n in names}
    ctx = (lambda: torch.autocast(x.device.type, dtype=autocast)) if autocast else None
    with torch.inference_mode():
        for n in names:  # warm-up: cuDNN's algorithm search, lazy packing, compilation
            for _ in range(3):
                with ctx() if ctx else _null():
                    variants[n](inputs[n])
        clock.sync()
        for r in range(rounds):
            for n in random.Random(r).sample(names, len(names)):
                with ctx() if ctx else _null():
                    times[n].append(clock.time(lambda n=n: variants[n](inputs[n])))
    return {n: x.shape[0] / statistics.median(ts) for n, ts in times.items()}


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def compiled(ref, x, mode: str) -> tuple[torch.nn.Module, float]:
    model = torch.compile(ref, mode=mode)
    start = time.perf_counter()
    with torch.inference_mode():
        model(x)
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    return model, time.perf_counter() - start


def bench_model(name: str, args, device: torch.device, clock: Clock, deadline: float) -> list[str]:
    variants, size = build_variants(name, device, args.resolution)
    lines = [f"### {name} ({size}x{size})", ""]
    gen = torch.Generator().manual_seed(0)
    probe = torch.randn(min(args.batches), 3, size, size, generator=gen).to(device)
    lines += [*correctness_lines(variants, probe), ""]
    header = "| batch | precision | " + " | ".join(list(variants) + ["torch.compile(reference, max-autotune)"]) + " |"
    lines += [header, "|" + "---|" * (len(variants) + 3)]
    notes = []
    for batch in args.batches:
        x = torch.randn(batch, 3, size, size, generator=gen).to(device)
        precisions = [None, torch.bfloat16] if batch == max(args.batches) else [None]
        for autocast in precisions:
            runs = dict(variants)
            if not args.no_compile and autocast is None:
                if time.monotonic() < deadline:
                    try:
                        runs["compiled"], warm = compiled(variants["reference eager"], x, args.compile_mode)
                        notes.append(f"torch.compile warm-up at batch {batch}: {warm:.1f} s")
                    except Exception as exc:  # a peer failing is a result, not a crash
                        notes.append(f"torch.compile failed at batch {batch}: {type(exc).__name__}: {exc}"[:300])
                else:
                    notes.append(f"torch.compile left out at batch {batch}: time budget spent")
            ips = throughput(runs, x, args.rounds, clock, autocast)
            cells = [_rate(ips[n]) for n in variants] + [_rate(ips["compiled"]) if "compiled" in ips else "-"]
            precision = "bf16 autocast" if autocast else "float32"
            lines.append(f"| {batch} | {precision} | " + " | ".join(cells) + " |")
            if "compiled" in runs:
                torch._dynamo.reset()
    return [*lines, "", *notes, ""]


def machine_lines(device: torch.device) -> list[str]:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU"
    import timm
    import torchvision

    return [f"- device: {name}; host: {os.cpu_count()} CPUs",
            f"- python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}, "
            f"cuDNN {torch.backends.cudnn.version()}), torchvision {torchvision.__version__}, timm {timm.__version__}",
            "- images/s: median of interleaved rounds; same seeded weights and inputs for every variant", ""]


def _rate(images_per_s: float) -> str:
    """images/s for the table: whole numbers, but never a rate that rounds to 0 (a slow CPU run)."""
    return f"{images_per_s:,.0f}" if images_per_s >= 10 else f"{images_per_s:.2g}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(GPU_MODELS))
    p.add_argument("--batches", nargs="+", type=int, default=[1, 32, 256])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--resolution", type=int, default=None, help="input size (default: each model's own)")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--no-compile", action="store_true", help="leave out torch.compile(reference)")
    p.add_argument("--compile-mode", default="max-autotune")
    p.add_argument("--budget", type=float, default=420, help="seconds after which no new compilation starts")
    p.add_argument("-o", "--output", help="also write the Markdown results here")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no GPU: CUDA is not available on this machine, nothing was measured "
              "(run with --device cpu to exercise the script on the CPU)")
        return 0
    device = torch.device(args.device)
    models = args.models
    deadline = time.monotonic() + args.budget
    lines = ["## Machine", "", *machine_lines(device), "## Images/s", ""]
    print("\n".join(lines), flush=True)
    for name in models:
        try:
            part = bench_model(name, args, device, Clock(device), deadline)
        except Exception as exc:  # report and go on: one broken model must not hide the others
            part = [f"### {name}", "", f"FAILED: {type(exc).__name__}: {exc}"[:500], ""]
        print("\n".join(part), flush=True)
        lines += part
    text = "\n".join(lines)
    if args.output:
        Path(args.output).write_text(text + "\n")
    failed = any("FAILED" in ln or "FAILS" in ln for ln in lines)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
