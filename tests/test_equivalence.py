"""The proof: every zoo spec with a PyTorch reference is that network. Same parameter
count; after porting the weights of a seeded, randomly initialised reference, the same
outputs (relative error <= 1e-5, float32) on random input, auxiliary heads included."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from references import REFERENCES, randomize

import netdsl
from netdsl.api import load_spec
from netdsl.torch.port import port_weights

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5

# reference outputs in training mode, by the spec's output names
AUX_ORDER = {
    "googlenet.net": lambda out: {"logits": out[0], "aux1": out[2], "aux2": out[1]},  # torchvision: (logits, aux2, aux1)
    "inception_v3.net": lambda out: {"logits": out[0], "aux_logits": out[1]},
}
ISSUE_COUNTS = {  # the parameter counts issue 4 states for each reference
    "alexnet.net": 61_100_840, "vgg16.net": 138_357_544, "vgg19.net": 143_667_240, "googlenet.net": 13_004_888,
    "bn_inception.net": 11_295_240, "inception_v3.net": 27_161_264, "inception_v4.net": 42_679_816,
    "inception_resnet_v1.net": 23_482_624, "inception_resnet_v2.net": 55_843_464, "resnet18.net": 11_689_512,
    "resnet34.net": 21_797_672, "resnet50.net": 25_557_032, "resnet101.net": 44_549_160,
    "resnet152.net": 60_192_808, "xception.net": 22_855_952, "mobilenet_v1.net": 4_231_976,
    # issue 13 (zoob): torchvision's weight metadata
    "mobilenet_v3_large.net": 5_483_032, "mobilenet_v3_small.net": 2_542_856, "efficientnet_b0.net": 5_288_548,
    # issue 13 (zooa): torchvision's / timm's counts
    "resnext50_32x4d.net": 25_028_904, "wide_resnet50_2.net": 68_883_240,
}


def rel_err(a, b) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.fixture(scope="module", params=sorted(REFERENCES), ids=str)
def pair(request):
    spec = request.param
    make, resolution = REFERENCES[spec]
    torch.manual_seed(0)
    reference = randomize(make(), seed=1)
    ours = netdsl.build(ROOT / "specs" / spec, **sized(spec, resolution))
    return spec, ours, reference, resolution


def sized(spec: str, resolution: int) -> dict:
    """The `resolution` network parameter where the spec has one (a small input keeps the
    size-agnostic networks affordable), else nothing: the spec's own input size."""
    params = load_spec(ROOT / "specs" / spec).network.params
    return {"resolution": resolution} if any(p.name == "resolution" for p in params) else {}


def test_parameter_count_equals_reference(pair):
    spec, ours, reference, _ = pair
    count = sum(p.numel() for p in ours.parameters())
    assert count == sum(p.numel() for p in reference.parameters()) == ISSUE_COUNTS[spec]
    assert netdsl.check(ROOT / "specs" / spec).total_params == count


def test_outputs_equal_reference_after_porting(pair):
    spec, ours, reference, resolution = pair
    port_weights(ours, reference)
    x = torch.randn(2, 3, resolution, resolution, generator=torch.Generator().manual_seed(2))
    ours.eval()
    reference.eval()
    with torch.no_grad():
        got, want = ours(x), reference(x)
    assert rel_err(got, want) <= TOLERANCE
    if spec in AUX_ORDER:  # auxiliary heads: training mode, dropout off so that both sides are deterministic
        for model in (ours, reference):
            model.train()
            for m in model.modules():
                if isinstance(m, torch.nn.Dropout):
                    m.eval()
        with torch.no_grad():
            got_all, want_all = ours(x), AUX_ORDER[spec](reference(x))
        names = [o.name for o in ours.netdsl_graph.outputs]
        assert len(got_all) == len(names) == len(want_all)
        for name, tensor in zip(names, got_all):
            assert rel_err(tensor, want_all[name]) <= TOLERANCE, name
