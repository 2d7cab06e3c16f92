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
from netdsl.torch.port import port_weights

ROOT = Path(__file__).resolve().parents[1]
SAME_TENSORS = ["inception_v4.net", "inception_resnet_v2.net", "resnet18.net", "resnet50.net", "vgg16.net",
                "shufflenet_v2_x1_0.net", "mobilenet_v2.net", "resnext50_32x4d.net", "wide_resnet50_2.net",
                "mobilenet_v3_large.net", "mobilenet_v3_small.net", "efficientnet_b0.net",
                "regnet_y_400mf.net"]  # issue 13 (zoob)
# the same tensors, but torchvision lists them in another order or shape (ConvNeXt's
# layer scale before its block, its 1x1 convs as linear layers): paired by port_weights
PAIRED_BY_PORT = ["convnext_tiny.net"]


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


@pytest.mark.parametrize("spec", PAIRED_BY_PORT)
def test_same_seed_gives_the_references_initial_weights_paired_by_structure(spec):
    make, resolution = REFERENCES[spec]
    torch.manual_seed(0)
    ours = build(ROOT / "specs" / spec)
    initial = {k: v.clone() for k, v in ours.state_dict().items()}
    torch.manual_seed(0)
    theirs = make()
    state = theirs.state_dict()
    mapping = port_weights(ours, theirs, example=torch.zeros(1, 3, resolution, resolution))
    assert len(mapping) == len(initial) == len(state)
    for key, their_key in mapping.items():
        assert torch.equal(initial[key], state[their_key].reshape(initial[key].shape)), key


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


def test_seresnet50_starts_as_timm_s_but_for_the_gate_biases_of_each_stage_s_first_block():
    """timm's scheme as the spec's `init` writes it (kaiming_normal fan_out, the last batch
    norm of each branch zeroed by `init *.bn3: zeros`): the same tensors under the same
    seed, except the squeeze-excitation biases of each stage's first block, which timm
    draws after its shortcut conv (it builds the shortcut first) - the same distribution,
    PyTorch's U(+-1 / sqrt(fan_in))."""
    make, _ = REFERENCES["seresnet50.net"]
    torch.manual_seed(0)
    ours = build(ROOT / "specs/seresnet50.net").state_dict()
    torch.manual_seed(0)
    theirs = dict(zip(ours, make().state_dict().values()))  # by position: timm says downsample.0
    assert len(theirs) == len(ours)
    redrawn = {f"layer{s}.0.se.fc{j}.bias" for s in range(1, 5) for j in (1, 2)}
    assert {k for k in ours if not torch.equal(ours[k], theirs[k])} == redrawn
    zeroed = [k for k in ours if k.endswith("bn3.weight")]
    assert len(zeroed) == 16 and all(torch.count_nonzero(ours[k]) == 0 for k in zeroed)
    for k in redrawn:
        fan_in = ours[k.replace("bias", "weight")][0].numel()
        for bias in (ours[k], theirs[k]):
            assert bias.abs().max() <= 1 / math.sqrt(fan_in) and bias.std() > 0.3 / math.sqrt(fan_in)


def test_densenet121_starts_as_torchvisions_but_for_the_classifiers_draw():
    """torchvision's scheme as the spec's `init` writes it: the same tensors under the same
    seed, except the classifier's weight, which torchvision keeps from the Linear's own
    initialisation (drawn before its conv loop) and the spec draws again, after the convs,
    from the same distribution: kaiming_uniform with a = sqrt(5), U(+-1 / sqrt(1024))."""
    make, _ = REFERENCES["densenet121.net"]
    torch.manual_seed(0)
    ours = build(ROOT / "specs/densenet121.net").state_dict()
    torch.manual_seed(0)
    theirs = dict(zip(ours, make().state_dict().values()))
    assert len(theirs) == len(ours)
    assert {k for k in ours if not torch.equal(ours[k], theirs[k])} == {"classifier.weight"}
    for weight in (ours["classifier.weight"], theirs["classifier.weight"]):
        assert weight.abs().max() <= 1 / math.sqrt(1024)
        assert weight.std().item() == pytest.approx(1 / math.sqrt(3 * 1024), rel=0.02)
    assert torch.count_nonzero(ours["classifier.bias"]) == 0


def test_squeezenet1_1_starts_as_torchvisions_but_for_the_final_conv_s_draw():
    """torchvision's scheme as the spec's `init` writes it: the same tensors under the same
    seed (kaiming_uniform, zero biases), except the final conv's weight: both draw it from
    normal(0, 0.01) (`init final_conv: ...`), the spec after drawing the kind's scheme for
    it first, so the numbers differ."""
    make, _ = REFERENCES["squeezenet1_1.net"]
    torch.manual_seed(0)
    ours = build(ROOT / "specs/squeezenet1_1.net").state_dict()
    torch.manual_seed(0)
    theirs = dict(zip(ours, make().state_dict().values()))
    assert len(theirs) == len(ours)
    assert {k for k in ours if not torch.equal(ours[k], theirs[k])} == {"final_conv.weight"}
    for weight in (ours["final_conv.weight"], theirs["final_conv.weight"]):
        assert weight.mean().abs().item() < 0.001 and weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert all(torch.count_nonzero(t) == 0 for k, t in ours.items() if k.endswith(".bias"))
