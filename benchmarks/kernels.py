"""Single kernels, not whole networks: is what torch's oneDNN runs for netdsl's optimized
modules slower than what OpenVINO runs, kernel for kernel? `python benchmarks/kernels.py`
(all three), or `--only stack depthwise swish`.

- `stack`: four ResNet-50 bottlenecks without batch norm (1x1 -> 3x3 -> 1x1, ReLUs, the
  residual sum) per stage width, as netdsl's optimized module runs them (NHWC, prepacked
  weights, the ReLU and the sum as oneDNN post-ops, the sum in place or not; and the sum
  as a separate in-place add) against OpenVINO on the same block's ONNX export, so that
  OpenVINO's own layout changes at the ends are a small share; `--pause` idle seconds
  before each call, so that OpenVINO's spinning threads go quiet (the other two run
  back to back: after an idle pause a millisecond kernel's time varied 3x);
- `depthwise`: MobileNet's 3x3 depthwise convs (+ReLU) in the three layouts torch's
  oneDNN takes: NHWC (what netdsl runs), NCHW, and oneDNN's blocked layout
  (`to_mkldnn()` tensors, `torch.mkldnn_convolution`);
- `swish`: EfficientNet-B0's convs followed by SiLU, the SiLU as oneDNN's "swish" post-op
  or as a separate in-place `silu`.

Same seeded weights and inputs for every variant, 2 threads (torch's setting), one call
at a time in shuffled interleaved rounds, medians with the interquartile range. Every
variant's output is checked against the first one's. Nothing is asserted; a measuring
tool for deciding what to work on (docs/performance-inference.md)."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import load_average
from timing import Sample

ONEDNN = torch.ops.mkldnn
STAGES = ((256, 64, 56), (512, 128, 28), (1024, 256, 14), (2048, 512, 7))  # (width, bottleneck width, size)
DEPTHWISE = ((32, 112, 1), (64, 112, 2), (128, 56, 1), (128, 56, 2), (256, 28, 1), (256, 28, 2), (512, 14, 1),
             (512, 14, 2), (1024, 7, 1))  # (channels, size, stride)
SWISH = ((16, 96, 112, 1), (24, 144, 56, 1), (40, 240, 28, 1), (80, 480, 14, 1), (112, 672, 14, 1),
         (192, 1152, 7, 1), (96, 96, 112, 3), (144, 144, 56, 3))  # (in, out, size, kernel: 3 = depthwise)


def interleaved(variants: dict[str, Callable[[], object]], rounds: int, pause: float) -> dict[str, Sample]:
    for _ in range(3):
        for fn in variants.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    for _ in range(rounds):
        random.shuffle(order)
        for name in order:
            time.sleep(pause)
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)
    return {name: Sample(values) for name, values in times.items()}


def dense(y) -> torch.Tensor:
    if not isinstance(y, torch.Tensor) and hasattr(y, "values"):  # OpenVINO's results
        y = next(iter(y.values()))
    if not isinstance(y, torch.Tensor):
        y = torch.from_numpy(y)
    return y.to_dense() if y.is_mkldnn else y


def report(label: str, variants: dict[str, Callable[[], object]], rounds: int, pause: float) -> None:
    outputs = {name: dense(fn()) for name, fn in variants.items()}
    first = next(iter(outputs.values()))
    errors = {name: ((y - first).norm() / first.norm()).item() for name, y in outputs.items()}
    samples = interleaved(variants, rounds, pause)
    base = samples[next(iter(samples))].median
    cells = [f"{s.median * 1e3:.2f} ({s.quartiles[0] * 1e3:.2f}-{s.quartiles[1] * 1e3:.2f}), {base / s.median:.2f}x"
             for s in samples.values()]
    print(f"| {label} | " + " | ".join(cells) + f" | {max(errors.values()):.1e} |", flush=True)


def header(names: list[str]) -> None:
    print(f"\nms per call (IQR), speed-up over {names[0]}:\n")
    print(f"| shape | {' | '.join(names)} | max rel. error |")
    print("|---" * (len(names) + 2) + "|")


def packed(conv: torch.nn.Conv2d, shape: list[int]) -> tuple:
    pad = [conv.kernel_size[0] // 2] * 2
    weight = ONEDNN._reorder_convolution_weight(conv.weight, pad, list(conv.stride), [1, 1], conv.groups, shape)
    return weight, conv.bias, pad, list(conv.stride), [1, 1], conv.groups


class Bottlenecks(torch.nn.Module):
    def __init__(self, wide: int, narrow: int, blocks: int = 4):
        super().__init__()
        self.convs = torch.nn.ModuleList()
        for _ in range(blocks):
            self.convs.extend([torch.nn.Conv2d(wide, narrow, 1), torch.nn.Conv2d(narrow, narrow, 3, padding=1),
                               torch.nn.Conv2d(narrow, wide, 1)])
        for p in self.parameters():
            p.data.mul_(0.3)  # outputs stay of order 1 over the stack

    def forward(self, x):
        for k in range(0, len(self.convs), 3):
            a, b, c = self.convs[k:k + 3]
            x = torch.relu(c(torch.relu(b(torch.relu(a(x))))) + x)
        return x


def openvino(model: torch.nn.Module, x: torch.Tensor, tmp: Path) -> Callable[[], object]:
    import openvino as ov

    path = tmp / f"{id(model)}.onnx"
    torch.onnx.export(model, (x,), path, dynamo=True, verbose=False, input_names=["input"])
    config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": torch.get_num_threads(),
              "PERFORMANCE_HINT": "LATENCY"}
    request = ov.Core().compile_model(str(path), "CPU", config).create_infer_request()
    a = x.numpy()
    return lambda: request.infer([a])


def stack(batch: int, rounds: int, pause: float, tmp: Path) -> None:
    header(["netdsl (sum in place)", "sum not in place", "sum as a separate add", "OpenVINO"])
    for wide, narrow, size in STAGES:
        model = Bottlenecks(wide, narrow).eval()
        x = torch.randn(batch, wide, size, size, generator=torch.Generator().manual_seed(0))
        nhwc = x.contiguous(memory_format=torch.channels_last)
        shapes = [[batch, c.in_channels, size, size] for c in model.convs]
        args = [packed(c, s) for c, s in zip(model.convs, shapes)]

        def run(sum_kind: str, args=args, nhwc=nhwc):
            y = nhwc.clone()
            for k in range(0, len(args), 3):
                t = ONEDNN._convolution_pointwise(y, *args[k], "relu", [], "")
                t = ONEDNN._convolution_pointwise(t, *args[k + 1], "relu", [], "")
                if sum_kind == "in place":
                    y = ONEDNN._convolution_pointwise_.binary(y, t, *args[k + 2], "add", None, "relu", [], None)
                elif sum_kind == "fused":
                    y = ONEDNN._convolution_pointwise.binary(t, y, *args[k + 2], "add", None, "relu", [], None)
                else:
                    y = torch.relu_(ONEDNN._convolution_pointwise(t, *args[k + 2], "none", [], "").add_(y))
            return y

        variants = {"in place": lambda r=run: r("in place"), "fused": lambda r=run: r("fused"),
                    "separate": lambda r=run: r("separate"), "OpenVINO": openvino(model, x, tmp)}
        report(f"{wide}/{narrow} @{size}, 4 blocks", variants, rounds, pause)


def depthwise(batch: int, rounds: int, pause: float) -> None:
    header(["NHWC (netdsl)", "NCHW", "oneDNN blocked"])
    for channels, size, stride in DEPTHWISE:
        conv = torch.nn.Conv2d(channels, channels, 3, stride, 1, groups=channels)
        x = torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(0))
        nhwc, blocked = x.contiguous(memory_format=torch.channels_last), x.to_mkldnn()
        args = packed(conv, list(x.shape))
        plain = (conv.weight, *args[1:])
        weight = torch._C._nn.mkldnn_reorder_conv2d_weight(conv.weight.to_mkldnn(), *args[2:], list(x.shape))
        variants = {
            "NHWC": lambda a=args, x=nhwc: ONEDNN._convolution_pointwise(x, *a, "relu", [], ""),
            "NCHW": lambda a=plain, x=x: ONEDNN._convolution_pointwise(x, *a, "relu", [], ""),
            "blocked": lambda a=args, w=weight, x=blocked: torch.relu_(torch.mkldnn_convolution(x, w, *a[1:])),
        }
        report(f"{channels} @{size}, stride {stride}", variants, rounds, pause)


def swish(batch: int, rounds: int, pause: float) -> None:
    header(["conv, then in-place silu (netdsl)", "swish post-op"])
    for cin, cout, size, kernel in SWISH:
        groups = cin if kernel == 3 else 1
        conv = torch.nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups)
        x = torch.randn(batch, cin, size, size, generator=torch.Generator().manual_seed(0))
        x = x.contiguous(memory_format=torch.channels_last)
        args = packed(conv, list(x.shape))
        variants = {
            "separate": lambda a=args, x=x: torch.nn.functional.silu(
                ONEDNN._convolution_pointwise(x, *a, "none", [], ""), inplace=True),
            "fused": lambda a=args, x=x: ONEDNN._convolution_pointwise(x, *a, "swish", [], ""),
        }
        kind = "depthwise 3x3" if kernel == 3 else "1x1"
        report(f"{kind} {cin} -> {cout} @{size}", variants, rounds, pause)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=("stack", "depthwise", "swish"),
                        default=("stack", "depthwise", "swish"))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--pause", type=float, default=0.05)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    print(f"- batch {args.batch}, {torch.get_num_threads()} threads, {args.rounds} rounds, torch {torch.__version__}; "
          f"load average {load_average()}")
    with torch.no_grad(), tempfile.TemporaryDirectory() as tmp:
        if "stack" in args.only:
            stack(args.batch, args.rounds, args.pause, Path(tmp))
        if "depthwise" in args.only:
            depthwise(args.batch, args.rounds, 0.0)
        if "swish" in args.only:
            swish(args.batch, args.rounds, 0.0)
    print(f"\n- load average at the end {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
