"""Stochastic depth in the zoo specs of issue 13: the per-block drop rates derived in the
spec from the global block index are torchvision's, block by block, and in training the
spec's module draws the same random numbers as torchvision's: with the same seed, the
same weights and the same input, the training-mode outputs are equal."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from references import randomize

import netdsl
from netdsl.torch.port import port_weights

ROOT = Path(__file__).resolve().parents[1]
# spec -> a drop probability given to both sides (a network parameter and torchvision's argument)
SCHEDULED = {
    "efficientnet_b0.net": {"stochastic_depth_prob": 0.5},
}


def drop_rates(model: torch.nn.Module) -> list[float]:
    return [m.p for m in model.modules() if type(m).__name__ == "DropPath"]


def reference_rates(model: torch.nn.Module) -> list[float]:
    """torchvision's StochasticDepth of every block whose residual is used."""
    return [
        m.stochastic_depth.p
        for m in model.modules()
        if hasattr(m, "stochastic_depth") and getattr(m, "use_res_connect", True)
    ]


def _tv_with(spec: str, **kwargs):
    import torchvision

    name = spec.removesuffix(".net")
    return getattr(torchvision.models, name)(weights=None, **kwargs)


@pytest.mark.parametrize("spec", sorted(SCHEDULED))
def test_drop_rates_are_the_references(spec):
    params = SCHEDULED[spec]
    ours, theirs = netdsl.build(ROOT / "specs" / spec, **params), _tv_with(spec, **params)
    assert drop_rates(ours) == reference_rates(theirs)
    assert len(set(drop_rates(ours))) > 3  # linear in the global index, not one rate


def test_efficientnet_rates_follow_depth_scaling():
    """B4 (depth_mult 1.8): ceil(1.8 n) blocks a stage, the index counted over all stages."""
    params = {"width_mult": 1.4, "depth_mult": 1.8}
    ours = netdsl.build(ROOT / "specs/efficientnet_b0.net", **params)
    theirs = _tv_with("efficientnet_b4")
    assert drop_rates(ours) == reference_rates(theirs)
    assert len(drop_rates(ours)) == 32 - 7  # 32 blocks, the first of each of the 7 stages without residual


@pytest.mark.parametrize("spec", sorted(SCHEDULED))
def test_training_outputs_equal_the_reference_under_the_same_seed(spec):
    params = SCHEDULED[spec]
    ours = netdsl.build(ROOT / "specs" / spec, **params)
    theirs = randomize(_tv_with(spec, **params), seed=1)
    port_weights(ours, theirs)
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    ours.train()
    theirs.train()
    outs = []
    for model, seed in ((ours, 3), (theirs, 3), (theirs, 4)):
        torch.manual_seed(seed)
        outs.append(model(x).detach())
    got, want, other_seed = outs
    assert ((got - want).norm() / want.norm()).item() <= 1e-5
    assert ((other_seed - want).norm() / want.norm()).item() > 1e-2  # the draws matter
