"""Back-end benchmarks against timm's hand-written Inception-v4: eager forward speed,
construction time, and `netdsl compile` as a whole process."""

from __future__ import annotations

import tempfile
from pathlib import Path

from frontend import ROOT, netdsl_command
from timing import Sample, Timing, paired, process

__all__ = ["build_pair", "compile_process", "forward_pair"]

SPEC = str(ROOT / "specs" / "inception_v4.net")


def _models():
    import timm
    import torch

    import netdsl

    torch.manual_seed(0)
    reference = timm.create_model("inception_v4", pretrained=False).eval()
    ours = netdsl.build(SPEC).eval()
    netdsl.port_weights(ours, reference)  # the same numbers flow through both
    return ours, reference


def forward_pair(n: int, batch: int = 8, warmup: int = 2) -> tuple[Sample, Sample, Sample, float]:
    """Eager float32 forward, batch x 3 x 299 x 299, in eval mode without autograd,
    netdsl and timm alternating. Returns (netdsl, timm, ratios, relative difference)."""
    import torch

    ours, reference = _models()
    x = torch.randn(batch, 3, 299, 299, generator=torch.Generator().manual_seed(1))

    def run(model):
        def forward():
            with torch.inference_mode():
                return model(x)

        return forward

    with torch.inference_mode():
        a, b = ours(x), reference(x)
    difference = float((a - b).norm() / b.norm())
    return (*paired(run(ours), run(reference), n, warmup), difference)


def build_pair(n: int, warmup: int = 1, cold: bool = True) -> tuple[Sample, Sample, Sample]:
    """`netdsl.build(spec)` (parse, check, generate, exec, construct, initialise) against
    `timm.create_model("inception_v4")` (construct, initialise), alternating. `cold`:
    netdsl's in-process caches (parses, compilations) are cleared before every build, so
    each one runs the whole front end and generator; otherwise the spec is built again
    as a notebook or a sweep would (timm's model code is imported once either way)."""
    import timm
    import torch

    import netdsl
    from netdsl.torch.build import clear_cache

    def ours():
        if cold:
            clear_cache()
        torch.manual_seed(0)
        return netdsl.build(SPEC)

    def reference():
        torch.manual_seed(0)
        return timm.create_model("inception_v4", pretrained=False)

    return paired(ours, reference, n, warmup)


def compile_process(n: int) -> Timing:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "inception_v4.py"
        sample = process([*netdsl_command(), "compile", "specs/inception_v4.net", "-o", str(out)], n, cwd=str(ROOT))
        if "class InceptionV4(nn.Module)" not in out.read_text():
            raise RuntimeError("netdsl compile wrote no InceptionV4 class")
    return sample
