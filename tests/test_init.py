"""Weight initialisation: PyTorch's own by default, a scheme per layer kind with `init`.

The strongest check there is: with the same seed, a netdsl model and the reference
that the spec claims to be start from the *same tensors*, bit for bit - the default
(PyTorch's layer init, as timm's Inception models) and the `init` statements of the
ResNet and VGG specs (as torchvision re-initialises them)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from references import REFERENCES

import netdsl
from netdsl.torch.build import build, compile_spec

ROOT = Path(__file__).resolve().parents[1]
SAME_TENSORS = ["inception_v4.net", "inception_resnet_v2.net", "resnet18.net", "resnet50.net", "vgg16.net",
                "mobilenet_v3_large.net", "mobilenet_v3_small.net", "efficientnet_b0.net",  # issue 13 (zoob)
                "resnext50_32x4d.net", "wide_resnet50_2.net"]  # issue 13 (zooa)


@pytest.mark.parametrize("spec", SAME_TENSORS)
def test_same_seed_gives_the_references_initial_weights(spec):
    make, _ = REFERENCES[spec]
    torch.manual_seed(0)
    ours = list(build(ROOT / "specs" / spec).state_dict().values())
    torch.manual_seed(0)
    theirs = list(make().state_dict().values())
    assert len(ours) == len(theirs)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == b.shape and torch.equal(a, b), f"tensor {k} differs"


def test_init_statement_changes_the_weights_and_nothing_else():
    text = """network N(scheme: bool = true) {
        input [3, 16, 16]
        if scheme {
            init conv: kaiming_normal(mode="fan_out", nonlinearity="relu")
            init linear: normal(std=0.01)
        }
        conv(64, 3) -> relu -> global_avgpool -> flatten -> linear(1000)
    }"""
    torch.manual_seed(0)
    plain = build(text, scheme=False)
    torch.manual_seed(0)
    chosen = build(text)
    conv, fc = chosen.conv.weight, chosen.fc.weight
    assert not torch.equal(conv, plain.conv.weight)
    # kaiming_normal, fan_out, relu: std = sqrt(2 / (64 * 3 * 3)); normal: std 0.01
    assert conv.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.1)
    assert fc.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.count_nonzero(chosen.conv.bias) == 0 and torch.count_nonzero(chosen.fc.bias) == 0
    assert plain.conv.bias.abs().sum() > 0  # PyTorch's default draws the bias too


def test_trunc_normal_keeps_the_bias_when_asked_and_stays_in_bounds():
    text = """network N() {
        input [3, 8, 8]
        init conv: trunc_normal(std=1.0, a=-0.5, b=0.5, zero_bias=false)
        conv(256, 3)
    }"""
    model = build(text)
    assert model.conv.weight.abs().max().item() <= 0.5
    assert model.conv.bias.abs().sum() > 0


def test_generated_loop_reads_like_torchvision():
    source = compile_spec(ROOT / "specs/vgg16.net")[0].source
    start = source.index("for module in self.modules():")
    loop = source[start:source.index("def forward", start)]
    assert "if isinstance(module, nn.Conv2d):" in loop
    assert 'nn.init.kaiming_normal_(module.weight,mode="fan_out",nonlinearity="relu"' in "".join(loop.split())
    assert "elif isinstance(module, nn.Linear):" in loop
    assert "nn.init.normal_(module.weight, std=0.01)" in loop
    assert loop.count("nn.init.zeros_(module.bias)") == 2
    assert source[:start].rstrip().splitlines()[-1].endswith("specs/vgg16.net:10")  # the `init conv` line


def test_a_network_without_init_generates_no_loop():
    assert "self.modules()" not in compile_spec(ROOT / "specs/inception_v4.net")[0].source


def test_init_is_in_the_graph():
    graph = netdsl.check(ROOT / "specs/resnet50.net")
    assert graph.init["conv"]["scheme"] == "kaiming_normal"
    assert graph.init["conv"]["args"]["mode"] == "fan_out"
    assert "linear" not in graph.init


def test_fan_out_schemes_follow_tensorflows_mobilenet_counting():
    """fan_out_normal: N(0, 2 / fan_out), fan_out = kh * kw * out / groups (so a depthwise
    3x3 conv has fan_out 9); fan_out_uniform: U(+-1 / sqrt(out_features)) - timm's
    initialisation of MobileNet, written into the spec."""
    model = build(ROOT / "specs/mobilenet_v1.net")
    state = model.state_dict()
    dw = state["blocks3.5.conv_dw.weight"]  # 512 depthwise 3x3 filters: fan_out 9
    pw = state["blocks3.5.conv_pw.weight"]  # 512 -> 512 1x1: fan_out 512
    assert dw.shape == (512, 1, 3, 3) and pw.shape == (512, 512, 1, 1)
    assert dw.std().item() == pytest.approx(math.sqrt(2 / 9), rel=0.05)
    assert pw.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.05)
    fc = state["classifier.weight"]
    assert fc.abs().max().item() <= 1 / math.sqrt(1000)
    assert fc.std().item() == pytest.approx(1 / math.sqrt(3 * 1000), rel=0.05)  # uniform: bound / sqrt(3)
    assert torch.count_nonzero(state["classifier.bias"]) == 0
