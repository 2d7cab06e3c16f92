"""Inference speed: netdsl optimized vs netdsl plain vs the reference eager module vs
torch.compile(reference) with inductor freezing, ONNX Runtime and OpenVINO (`--engines`: on the reference's ONNX export and on netdsl's), and the front end's speed at scale.

    .venv/bin/python benchmarks/inference.py                  # everything (slow on 2 cores)
    .venv/bin/python benchmarks/inference.py --quick          # inception_v4 only, 3 rounds
    .venv/bin/python benchmarks/inference.py --no-compile --models resnet50 --batches 8
    .venv/bin/python benchmarks/inference.py --no-models --ablation resnet50 mobilenet_v1

All variants of a model get the same weights (the reference's, seeded random, ported) and
the same input, and run in the same process, interleaved: each round runs every variant
once, in a shuffled order (seeded: the same every run), so a busy spell of the machine
hits all of them alike and no variant always runs right after the same other one (with
a rotation the cyclic order never changed, and in one ablation the variant that always
followed the reference measured ~4% slower than modules identical to it). Reported:
median seconds per batch with the interquartile range and min-max, images/s, and the
median of the per-round ratios against the reference (paired). The optimized outputs
are checked against the reference's before timing. On a CUDA machine the same variants
also run on the GPU under bf16 autocast (images/s); without one that part says so."""

from __future__ import annotations

import argparse
import atexit
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import netdsl

MODELS = {  # name -> (spec, reference constructor, resolution)
    "inception_v4": ("specs/inception_v4.net", ("timm", "inception_v4"), 299),
    "inception_resnet_v2": ("specs/inception_resnet_v2.net", ("timm", "inception_resnet_v2"), 299),
    "resnet50": ("specs/resnet50.net", ("torchvision", "resnet50"), 224),
    "mobilenet_v1": ("specs/mobilenet_v1.net", ("timm", "mobilenetv1_100"), 224),
    # issue 13 (zoob)
    "efficientnet_b0": ("specs/efficientnet_b0.net", ("torchvision", "efficientnet_b0"), 224),
    "convnext_tiny": ("specs/convnext_tiny.net", ("torchvision", "convnext_tiny"), 224),
    "regnet_y_400mf": ("specs/regnet_y_400mf.net", ("torchvision", "regnet_y_400mf"), 224),
    # issue 13 (opt)
    "mobilenet_v3_large": ("specs/mobilenet_v3_large.net", ("torchvision", "mobilenet_v3_large"), 224),
}


def reference(kind: str, name: str) -> torch.nn.Module:
    """The reference module with seeded random weights everywhere (batch-norm statistics
    and the classifier included: a default-initialised head can make every output equal)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from references import randomize

    torch.manual_seed(0)
    if kind == "timm":
        import timm

        return randomize(timm.create_model(name, pretrained=False))
    import torchvision

    return randomize(getattr(torchvision.models, name)(weights=None))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def spread(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f}"
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return f"{statistics.median(values):.3f} (IQR {q1:.3f}-{q3:.3f}, {min(values):.3f}-{max(values):.3f})"


def rel_err(a, b) -> float:
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def variants(name: str, with_compile: bool, engines: bool = False) -> tuple[dict, dict]:
    """name -> callable, and the warm-up seconds of each."""
    spec, (kind, ref_name), _ = MODELS[name]
    ref = reference(kind, ref_name).eval()
    plain, t_build = timed(lambda: netdsl.build(ROOT / spec))
    _, t_port = timed(lambda: netdsl.port_weights(plain, ref))
    plain.eval()
    fast, t_opt = timed(lambda: netdsl.optimize(plain, "inference"))
    found = {"reference eager": ref, "netdsl plain": plain, "netdsl optimized": fast}
    warm = {"netdsl build": t_build, "netdsl port_weights": t_port, "netdsl optimize": t_opt}
    if with_compile:
        found["torch.compile(reference, freezing)"] = _frozen(ref)
    if engines:
        found.update(engine_variants(name, ref, plain, warm))
    return found, warm


def _frozen(model):
    """torch.compile with inductor's freezing (weights as constants, folded into the
    kernels), the setting PyTorch recommends for CPU inference."""
    import torch._inductor.config as inductor

    inductor.freezing = True
    return torch.compile(model)


def engine_variants(name: str, ref, plain, warm: dict) -> dict:
    """ONNX Runtime and OpenVINO, each on the reference's own ONNX export and on
    netdsl's (`netdsl.export_onnx`: the optimized graph), with the thread count torch has."""
    import warnings

    tmp = Path(tempfile.mkdtemp(prefix="netdsl-bench-onnx-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    size = MODELS[name][2]
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        _, warm["reference ONNX export"] = timed(lambda: torch.onnx.export(
            ref, (torch.randn(2, 3, size, size),), tmp / "reference.onnx", dynamo=True, verbose=False,
            input_names=["input"], dynamic_shapes=({0: torch.export.Dim("batch")},)))
        _, warm["netdsl export_onnx"] = timed(lambda: netdsl.export_onnx(plain, tmp / "netdsl.onnx"))
    threads = torch.get_num_threads()
    out = {}
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    for which in ("reference", "netdsl"):
        session = ort.InferenceSession(str(tmp / f"{which}.onnx"), opts, providers=["CPUExecutionProvider"])
        out[f"ORT ({which} export)"] = _onnx_callable(lambda a, s=session: s.run(None, {"input": a})[0])
    try:
        import openvino as ov
    except ImportError:
        return out
    core = ov.Core()
    config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    for which in ("reference", "netdsl"):
        compiled = core.compile_model(str(tmp / f"{which}.onnx"), "CPU", config)
        request = compiled.create_infer_request()
        out[f"OpenVINO ({which} export)"] = _onnx_callable(lambda a, r=request: next(iter(r.infer([a]).values())))
    return out


def _onnx_callable(run):
    """An engine as a callable on torch tensors (the conversions are views, no copies)."""
    return lambda x: torch.from_numpy(run(x.numpy()))


def ceiling_gflops(batch: int) -> float:
    """The machine's measured limit: the best GFLOP/s of a few large oneDNN convolutions
    (3x3 at 14-56 px and 128-512 channels, a 1x1 on 1024) at this batch (at least 8) and
    thread count, best of three each. It is a lower bound of the true limit: an engine
    with other kernels (Winograd, other blockings) can go past it."""
    best = 0.0
    shapes = ((128, 3, 56), (256, 3, 28), (512, 3, 14), (1024, 1, 14))
    with torch.inference_mode():
        for channels, k, size in shapes:
            conv = torch.nn.Conv2d(channels, channels, k, padding=k // 2, bias=False).eval()
            x = torch.randn(max(batch, 8), channels, size, size)
            flops = 2 * channels * channels * k * k * size * size * x.shape[0]
            conv(x)
            best = max(best, flops / min(timed(lambda c=conv, x=x: c(x))[1] for _ in range(3)) / 1e9)
    return best


def check_outputs(found: dict, x) -> dict[str, float]:
    """Every variant's relative output error against the reference eager module."""
    with torch.inference_mode():
        want = found["reference eager"](x)
        return {n: rel_err(f(x), want) for n, f in found.items() if n != "reference eager"}


def interleaved(found: dict, x, rounds: int, pause: float = 0.0) -> dict[str, list[float]]:
    """Each round calls every variant once, in a seeded shuffled order, each after
    `pause` seconds of idle: ONNX Runtime's worker threads spin after a call (and torch's
    OpenMP threads briefly too), taking the cores from whatever runs next - measured on
    2 cores, netdsl's mobilenet_v1 at batch 8 took 1.3x longer right after an ORT call
    than after its own or after an idle pause."""
    names = list(found)
    times: dict[str, list[float]] = {n: [] for n in names}
    with torch.inference_mode():
        for r in range(rounds):
            order = random.Random(r).sample(names, len(names))
            for n in order:
                model = found[n]
                if pause:
                    time.sleep(pause)
                start = time.perf_counter()
                model(x)
                times[n].append(time.perf_counter() - start)
    return times


COMPILED = "torch.compile(reference, freezing)"


def compile_warmup(found: dict, x) -> float | None:
    if COMPILED not in found:
        return None
    with torch.inference_mode():
        _, t = timed(lambda: found[COMPILED](x))
    return t


def cpu_table(name: str, batch: int, times: dict, errors: dict, warm: dict, gflop: float, ceiling: float) -> list[str]:
    ref = times["reference eager"]
    lines = [f"### {name}, batch {batch}, float32, CPU", "",
             f"{gflop:.1f} GFLOP per batch; the machine's ceiling (the best of a few large oneDNN convs, same threads; a lower bound): "
             f"{ceiling:.0f} GFLOP/s", "",
             "| variant | s / batch: median (IQR, min-max) | images/s | GFLOP/s (% of ceiling) | "
             "paired speedup vs reference eager | output error |",
             "|---|---|---|---|---|---|"]
    for n, ts in times.items():
        ratios = [r / t for r, t in zip(ref, ts)]
        rate = gflop / statistics.median(ts)
        err = f"{errors[n]:.1e}" if n in errors else "-"
        lines.append(f"| {n} | {spread(ts)} | {batch / statistics.median(ts):.2f} | {rate:.0f} ({rate / ceiling:.0%}) | "
                     f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) | {err} |")
    lines += ["", "warm-up (s): " + ", ".join(f"{k} {v:.2f}" for k, v in warm.items()), ""]
    return lines


def cuda_lines(found: dict, x, rounds: int) -> list[str]:
    if not torch.cuda.is_available():
        return ["(no CUDA device: the bf16 autocast GPU runs were skipped)", ""]
    x = x.cuda()
    lines = ["| variant (CUDA, bf16 autocast) | images/s |", "|---|---|"]
    for n, model in found.items():
        model = model.cuda()
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            model(x)
            torch.cuda.synchronize()
            ts = []
            for _ in range(rounds):
                start = time.perf_counter()
                model(x)
                torch.cuda.synchronize()
                ts.append(time.perf_counter() - start)
        lines.append(f"| {n} | {x.shape[0] / statistics.median(ts):.1f} |")
        model.cpu()
    return [*lines, ""]


def bench_model(
    name: str, batches: list[int], rounds: int, with_compile: bool, engines: bool = False, pause: float = 0.0
) -> list[str]:
    found, warm = variants(name, with_compile, engines)
    macs = netdsl.check(ROOT / MODELS[name][0]).total_macs
    lines = []
    for batch in batches:
        x = torch.randn(batch, 3, MODELS[name][2], MODELS[name][2], generator=torch.Generator().manual_seed(batch))
        with torch.inference_mode():  # its first call at a shape packs its weights for that shape
            _, first = timed(lambda x=x: found["netdsl optimized"](x))
        errors = check_outputs(found, x)
        w = {**warm, "netdsl optimized first call": first}
        t = compile_warmup(found, x)
        if t is not None:
            w["torch.compile first call"] = t
        times = interleaved(found, x, rounds, pause)
        lines += cpu_table(name, batch, times, errors, w, 2 * macs * batch / 1e9, ceiling_gflops(batch))
        print("\n".join(lines[-len(times) - 8:]), flush=True)
        if with_compile:  # recompile per input shape, as a user would see it
            torch._dynamo.reset()
    lines += cuda_lines(found, torch.randn(8, 3, MODELS[name][2], MODELS[name][2]), rounds)
    return lines


def ablation_lines(name: str, batch: int, rounds: int) -> list[str]:
    """What each pass is worth: the optimized module with one pass left out at a time."""
    from netdsl.optimizer import PASS_NAMES

    found, _ = variants(name, False)
    plain = found["netdsl plain"]
    runs = {"reference eager": found["reference eager"], "all passes": found["netdsl optimized"]}
    runs.update({f"without {p}": netdsl.optimize(plain, skip=[p]) for p in PASS_NAMES})
    x = torch.randn(batch, 3, MODELS[name][2], MODELS[name][2])
    times = interleaved(runs, x, rounds)
    full = times["all passes"]
    lines = [f"### Passes, one left out at a time ({name}, batch {batch})", "",
             "| variant | s / batch | paired time vs all passes |", "|---|---|---|"]
    for n, ts in times.items():
        lines.append(f"| {n} | {spread(ts)} | {statistics.median([t / f for t, f in zip(ts, full)]):.2f}x |")
    print("\n".join(lines), flush=True)
    return [*lines, ""]


# ---- the front end at scale ------------------------------------------------------------
def synthetic_spec(layers: int) -> str:
    """A network of `layers` layers: conv -> batchnorm -> relu units, written out line by line."""
    units = layers // 3
    body = "\n".join(f"    u{i}: Unit()" for i in range(units))
    return ("block Unit() {\n    conv(8, 3, bias=false)\n    batchnorm\n    relu\n}\n\n"
            f"network Synthetic() {{\n    input [8, 16, 16]\n{body}\n}}\n")


def front_end_lines(sizes: list[int]) -> list[str]:
    lines = ["| layers | `netdsl check` (whole process) | in-process `netdsl.check` | per layer |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"synthetic_{n}.net"
            path.write_text(synthetic_spec(n))
            command = [sys.executable, "-m", "netdsl", "check", str(path)]
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
            t_proc = time.perf_counter() - start
            start = time.perf_counter()
            graph = netdsl.check(path)
            t_in = time.perf_counter() - start
            count = len(graph.nodes) - 1
            lines.append(f"| {count:,} | {t_proc:.2f} s | {t_in:.2f} s | {t_in / count * 1e6:.0f} µs |")
            print(lines[-1], flush=True)
    return [*lines, ""]


def machine_lines() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    import timm
    import torchvision

    return [(f"- machine: {cpu}, {os.cpu_count()} CPUs, vector ISA {torch.backends.cpu.get_cpu_capability()}, "
             f"torch threads {torch.get_num_threads()}, load average at start {load[0]:.1f}"),
            (f"- python {platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
             f"timm {timm.__version__}, CUDA available: {torch.cuda.is_available()}"), ""]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--pause", type=float, default=0.25,
                   help="idle seconds before each timed call (other variants' spinning threads go quiet); 0: none")
    p.add_argument("--no-compile", action="store_true", help="leave out torch.compile(reference) (minutes per model)")
    p.add_argument("--engines", action="store_true",
                   help="add ONNX Runtime and OpenVINO, on the reference's ONNX export and on netdsl's")
    p.add_argument("--quick", action="store_true", help="inception_v4 only, 3 rounds, front end up to 10k layers")
    p.add_argument("--front-end", nargs="*", type=int, default=None, help="layer counts (default 1000 10000 100000)")
    p.add_argument("--no-models", action="store_true", help="only the front-end timings")
    p.add_argument("--ablation", nargs="*", choices=list(MODELS), default=None,
                   help="also time these models (default inception_v4), batch 8, with each pass left out")
    p.add_argument("-o", "--output", help="also write the Markdown results here")
    p.add_argument("--warm-compile-cache", action="store_true",
                   help="let torch.compile reuse its on-disk cache from earlier runs (default: a fresh one, so that "
                        "its warm-up is what a first use costs)")
    p.add_argument("--tune-allocator", action="store_true",
                   help="netdsl.tune_allocator() first, for every torch variant in the process (reference, netdsl, "
                        "compile) alike; the engines keep their own arenas either way")
    args = p.parse_args(argv)
    tuned = netdsl.tune_allocator() if args.tune_allocator else None
    if not args.warm_compile_cache:
        cache = tempfile.mkdtemp(prefix="netdsl-bench-inductor-")
        atexit.register(shutil.rmtree, cache, ignore_errors=True)
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
    if args.quick:
        args.models, args.rounds = ["inception_v4"], 3
    sizes = args.front_end if args.front_end is not None else ([1000, 10000] if args.quick else [1000, 10000, 100000])
    allocator = "untouched glibc defaults" if tuned is None else f"tune_allocator: {tuned or 'not glibc, nothing set'}"
    lines = ["## Machine", "", *machine_lines()[:-1], f"- allocator: {allocator}",
             f"- {args.pause} s idle before each timed call", "", "## Inference", ""]
    if not args.no_models:
        for name in args.models:
            lines += bench_model(name, args.batches, args.rounds, not args.no_compile, args.engines, args.pause)
    for name in args.ablation or ([] if args.ablation is None else ["inception_v4"]):
        lines += ablation_lines(name, 8, args.rounds)
    if sizes:  # `--front-end` with no sizes: none
        lines += ["## Front end at scale", "", *front_end_lines(sizes)]
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
