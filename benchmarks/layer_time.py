"""Where netdsl's optimized module loses to OpenVINO, layer kind by layer kind:
`python benchmarks/layer_time.py --model mobilenet_v1 --batch 8`.

The same network (netdsl's optimized module, and OpenVINO on netdsl's own ONNX export of
it, so both run the same folded graph) with the same weights and input. netdsl's time per
layer comes from `torch.profiler` (self CPU time of each op, grouped by the kind of layer
the op belongs to); OpenVINO's from its per-node performance counters (`PERF_COUNT`).
Both are summed over `--calls` calls after warm-up and reported per call, grouped as
depthwise conv, pointwise (1x1) conv and other conv (OpenVINO's other nodes too; the
profiler's per-conv time includes its own overhead, so compare the kinds' ratios rather
than their sum with the wall time). With `--layers N` also the N convs netdsl loses most
time on, conv by conv: netdsl's export names each ONNX conv after its spec layer
(`layer1.0.conv1/Conv`), which is the optimized module's attribute with dots as
underscores. Nothing is asserted; this is a measuring tool for deciding what to work on."""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from inference import MODELS
from machine import load_average
from references import randomize

import netdsl


def conv_kinds(model: torch.nn.Module) -> dict[str, str]:
    """Module attribute -> its kind: depthwise, pointwise (1x1), or other conv."""
    kinds = {}
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            if m.groups > 1 and m.groups == m.in_channels:
                kinds[name] = "depthwise conv"
            elif m.kernel_size == (1, 1):
                kinds[name] = "pointwise conv"
            else:
                kinds[name] = "other conv"
    return kinds


def netdsl_times(fast: torch.nn.Module, x: torch.Tensor, calls: int) -> tuple[dict[str, float], float]:
    """Seconds per call of each conv module (self CPU time under the profiler), and the
    wall time per call without it."""
    kinds = conv_kinds(fast)
    with torch.inference_mode():
        for _ in range(3):
            fast(x)
        start = time.perf_counter()
        for _ in range(calls):
            fast(x)
        wall = (time.perf_counter() - start) / calls
        layers: dict[str, float] = collections.defaultdict(float)
        for name, module in fast.named_modules():  # a record_function per conv, so its ops are attributed
            if name in kinds:
                module.register_forward_pre_hook(
                    lambda m, a, n=name: setattr(m, "_span", torch.profiler.record_function(f"layer:{n}").__enter__())
                )
                module.register_forward_hook(lambda m, a, o: m._span.__exit__(None, None, None))
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(calls):
                fast(x)
        for event in prof.key_averages():
            if event.key.startswith("layer:"):
                layers[event.key[len("layer:") :]] += event.cpu_time_total / 1e6 / calls
    return dict(layers), wall


def onnx_conv_kinds(path: Path) -> dict[str, str]:
    """ONNX conv node name -> its kind, as conv_kinds classifies modules."""
    import onnx

    graph = onnx.load(str(path)).graph
    inits = {i.name: list(i.dims) for i in graph.initializer}
    kinds = {}
    for node in graph.node:
        if node.op_type == "Conv":
            attrs = {a.name: a for a in node.attribute}
            group = attrs["group"].i if "group" in attrs else 1
            weight = inits.get(node.input[1], [])
            if group > 1 and len(weight) == 4 and weight[1] == 1:
                kinds[node.name] = "depthwise conv"
            elif len(weight) == 4 and weight[2:] == [1, 1]:
                kinds[node.name] = "pointwise conv"
            else:
                kinds[node.name] = "other conv"
    return kinds


def openvino_times(path: Path, x: torch.Tensor, calls: int, threads: int) -> tuple[dict[str, float], float]:
    """Seconds per call of each ONNX conv node as OpenVINO ran it (with what it fused
    into it; its other nodes under EVERYTHING_ELSE), and the wall time per call."""
    import openvino as ov

    convs = onnx_conv_kinds(path)
    core = ov.Core()
    config = {
        "INFERENCE_PRECISION_HINT": "f32",
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
        "PERF_COUNT": "YES",
    }
    request = core.compile_model(str(path), "CPU", config).create_infer_request()
    a = x.numpy()
    for _ in range(3):
        request.infer([a])
    layers: dict[str, float] = collections.defaultdict(float)
    start = time.perf_counter()
    for _ in range(calls):
        request.infer([a])
        for info in request.get_profiling_info():
            layers[_onnx_conv(info.node_name, convs)] += info.real_time.total_seconds() / calls
    wall = (time.perf_counter() - start) / calls
    return dict(layers), wall


EVERYTHING_ELSE = "everything else"


def _onnx_conv(name: str, convs: dict[str, str]) -> str:
    """OpenVINO names a fused node after the ONNX node it started from (`.../Conv`), plus
    what it absorbed; the longest ONNX conv name it begins with."""
    for onnx_name in sorted(convs, key=len, reverse=True):
        if name == onnx_name or name.startswith(onnx_name):
            return onnx_name
    return EVERYTHING_ELSE


def module_name(onnx_name: str) -> str:
    """The optimized module's attribute for netdsl's exported conv node: the layer name
    before `/Conv`, dots as underscores (`layer1.0.conv1/Conv` -> `layer1_0_conv1`)."""
    return onnx_name.split("/")[0].replace(".", "_")


def by_kind(layers: dict[str, float], kinds: dict[str, str]) -> dict[str, float]:
    totals: dict[str, float] = collections.defaultdict(float)
    for layer, seconds in layers.items():
        totals[kinds.get(layer, EVERYTHING_ELSE)] += seconds
    return dict(totals)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenet_v1", choices=sorted(MODELS))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--layers", type=int, default=0, help="also list the N convs netdsl loses most time on")
    args = parser.parse_args(argv)
    spec, _, size = MODELS[args.model]
    torch.manual_seed(0)
    plain = randomize(netdsl.build(ROOT / spec)).eval()
    fast = netdsl.optimize(plain, "inference")
    x = torch.randn(args.batch, 3, size, size, generator=torch.Generator().manual_seed(1))
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "netdsl.onnx"
        netdsl.export_onnx(plain, path)
        convs = onnx_conv_kinds(path)
        before = load_average()
        ov, ov_wall = openvino_times(path, x, args.calls, threads)
        nd, nd_wall = netdsl_times(fast, x, args.calls)
        ov2, ov_wall2 = openvino_times(path, x, args.calls, threads)
    ov = {k: (ov.get(k, 0.0) + ov2.get(k, 0.0)) / 2 for k in set(ov) | set(ov2)}
    print(
        f"- {args.model}, batch {args.batch}, {threads} threads, {args.calls} calls each; torch {torch.__version__}; "
        f"load average {before} -> {load_average()}"
    )
    print(
        f"- wall per call: netdsl optimized {nd_wall * 1e3:.1f} ms, OpenVINO {ov_wall * 1e3:.1f} / {ov_wall2 * 1e3:.1f} ms "
        "(before / after netdsl's; counters on)\n"
    )
    nd_kinds, ov_kinds = by_kind(nd, conv_kinds(fast)), by_kind(ov, convs)
    print("| layer kind | netdsl optimized, ms per call | OpenVINO (netdsl's export), ms per call | ratio |")
    print("|---|---|---|---|")
    for kind in ("depthwise conv", "pointwise conv", "other conv", EVERYTHING_ELSE):  # netdsl: convs only
        if kind not in nd_kinds:
            print(f"| {kind} | - | {ov_kinds.get(kind, 0.0) * 1e3:.1f} | - |")
            continue
        a, b = nd_kinds[kind] * 1e3, ov_kinds.get(kind, 0.0) * 1e3
        print(f"| {kind} | {a:.1f} | {b:.1f} | {a / b:.2f}x |" if b else f"| {kind} | {a:.1f} | {b:.1f} | - |")
    if args.layers:
        print_layers(nd, ov, convs, fast, args.layers)
    return 0


def print_layers(nd: dict[str, float], ov: dict[str, float], convs: dict[str, str], fast, count: int) -> None:
    """The convs with the largest netdsl - OpenVINO difference, with their shapes."""
    modules = dict(fast.named_modules())
    rows = []
    for onnx_name, kind in convs.items():
        attr = module_name(onnx_name)
        if attr in nd and onnx_name in ov:
            rows.append((nd[attr] - ov[onnx_name], attr, kind, nd[attr], ov[onnx_name]))
    unmatched = set(nd) - {module_name(n) for n in convs}
    print(f"\n{len(rows)} convs matched by name ({len(unmatched)} of netdsl's not: {sorted(unmatched)[:5]})\n")
    print("| conv | kind | in -> out, kernel, stride | netdsl ms | OpenVINO ms | difference |")
    print("|---|---|---|---|---|---|")
    for diff, attr, kind, a, b in sorted(rows, reverse=True)[:count]:
        m = modules[attr]
        shape = f"{m.in_channels} -> {m.out_channels}, {m.kernel_size[0]}x{m.kernel_size[1]}, {m.stride[0]}"
        print(f"| {attr} | {kind} | {shape} | {a * 1e3:.2f} | {b * 1e3:.2f} | {diff * 1e3:+.2f} |")
    total = sum(r[0] for r in rows)
    print(f"\nsum of differences over matched convs: {total * 1e3:+.1f} ms per call")


if __name__ == "__main__":
    sys.exit(main())
