"""netdsl summary / compare and docs/case-studies.md.

MACs are checked against fvcore (conv + linear only) on PyTorch reference models built
here; receptive fields against hand arithmetic and against autograd on the same layers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from torch import nn

import netdsl
from netdsl import casestudies
from netdsl.cli import main
from netdsl.summary import summarize

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
sys.path.insert(0, str(ROOT))
from fuzz.specgen import valid_specs  # noqa: E402


# -- MACs against fvcore ---------------------------------------------------------------------
def fvcore_macs(model: nn.Module, input_shape) -> int:
    """fvcore's count with only convolutions and fully connected layers (its "flops" are MACs)."""
    from fvcore.nn import FlopCountAnalysis

    model.eval()
    analysis = FlopCountAnalysis(model, torch.zeros(1, *input_shape))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return sum(v for op, v in analysis.by_operator().items() if op in ("conv", "linear", "addmm", "matmul"))


def _timm(name: str):
    import timm

    return lambda: timm.create_model(name, pretrained=False)


def _torchvision(name: str, **kwargs):
    import torchvision

    return lambda: getattr(torchvision.models, name)(weights=None, **kwargs)


# spec (relative to specs/) -> the PyTorch model it describes
REFERENCES = {
    "inception_v4.net": _timm("inception_v4"),
    "inception_resnet_v2.net": _timm("inception_resnet_v2"),
    "mobilenet_v1.net": _timm("mobilenetv1_100"),
    "studies/mobilenet_conv.net": _timm("mobilenetv1_100"),
    "resnet18.net": _torchvision("resnet18"),
    "resnet34.net": _torchvision("resnet34"),
    "resnet50.net": _torchvision("resnet50"),
    "resnet101.net": _torchvision("resnet101"),
    "resnet152.net": _torchvision("resnet152"),
    "alexnet.net": _torchvision("alexnet"),
    "vgg16.net": _torchvision("vgg16"),
    "vgg19.net": _torchvision("vgg19"),
    "googlenet.net": _torchvision("googlenet", aux_logits=False, init_weights=False),
    "inception_v3.net": _torchvision("inception_v3", aux_logits=False, init_weights=False),
    # issue 13 (zooa)
    "densenet121.net": _torchvision("densenet121"),
    "mobilenet_v2.net": _torchvision("mobilenet_v2"),
    "resnext50_32x4d.net": _torchvision("resnext50_32x4d"),
    "seresnet50.net": _timm("seresnet50"),
    "squeezenet1_1.net": _torchvision("squeezenet1_1"),
    "wide_resnet50_2.net": _torchvision("wide_resnet50_2"),
    # issue 13 (zoob): the squeeze-excitation gates' 1x1 convs are counted on both sides
    "mobilenet_v3_large.net": _torchvision("mobilenet_v3_large"),
    "mobilenet_v3_small.net": _torchvision("mobilenet_v3_small"),
    "efficientnet_b0.net": _torchvision("efficientnet_b0"),
    "convnext_tiny.net": _torchvision("convnext_tiny"),  # its 1x1 convs are torchvision's channels-last linears
    "regnet_y_400mf.net": _torchvision("regnet_y_400mf"),
}
# fvcore's conv+linear counts as the issue quotes them (a check on the harness itself)
QUOTED = {"inception_v4.net": 12_253_974_624, "resnet50.net": 4_089_184_256, "mobilenet_v1.net": 568_740_352,
          "studies/mobilenet_conv.net": 568_740_352}


@pytest.mark.parametrize("spec", [s for s in REFERENCES if (SPECS / s).exists()])
def test_macs_equal_fvcore_on_the_reference_model(spec):
    summary = summarize(netdsl.check(SPECS / spec))
    expected = fvcore_macs(REFERENCES[spec](), summary.input_shape)
    if spec in QUOTED:
        assert expected == QUOTED[spec]
    assert summary.total.macs == expected


GROUPED = """
network Grouped() {
    input [16, 20, 20]
    conv(32, 3, groups=4)
    dwconv(3, stride=2)
    dwconv(5, multiplier=2, dilation=2)
    sepconv(48, 3)
    conv(24, 1x3, padding=(0, 1), groups=8, bias=false)
    global_avgpool -> flatten -> linear(10)
}
"""


def _grouped_reference() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(16, 32, 3, padding=1, groups=4),
        nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=32),
        nn.Conv2d(32, 64, 5, padding=4, dilation=2, groups=32),
        nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False), nn.Conv2d(64, 48, 1, bias=False),
        nn.Conv2d(48, 24, (1, 3), padding=(0, 1), groups=8, bias=False),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 10))


def test_grouped_and_depthwise_convolutions_match_fvcore_and_pytorch_parameters():
    summary = summarize(netdsl.check(GROUPED))
    model = _grouped_reference()
    assert summary.total.macs == fvcore_macs(model, (16, 20, 20))
    assert summary.total.params == sum(p.numel() for p in model.parameters())
    assert model(torch.zeros(1, 16, 20, 20)).shape == (1, 10)


# MobileNet v1 body (paper, Table 1): (filters, stride) of the 13 layers after the first conv
MOBILENET_LAYERS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1)]


def _conv_bn_relu(cin, cout, k, s=1, groups=1):
    return [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def _mobilenet(separable: bool) -> nn.Sequential:
    layers, c = _conv_bn_relu(3, 32, 3, 2), 32
    for f, s in MOBILENET_LAYERS:
        layers += (_conv_bn_relu(c, c, 3, s, groups=c) + _conv_bn_relu(c, f, 1)) if separable else _conv_bn_relu(c, f, 3, s)
        c = f
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000))


@pytest.mark.parametrize("separable", [True, False])
def test_mobilenet_study_matches_a_torch_mobilenet_of_either_kind(separable):
    graph = netdsl.check(SPECS / "studies/mobilenet_conv.net", {"separable": separable})
    model = _mobilenet(separable)
    summary = summarize(graph)
    assert summary.total.macs == fvcore_macs(model, (3, 224, 224))
    assert summary.total.params == sum(p.numel() for p in model.parameters())
    # the paper's Table 4: 569M vs 4866M mult-adds, 4.2M vs 29.3M parameters
    assert round(summary.total.params / 1e5) == (42 if separable else 293)
    assert abs(summary.total.macs / 1e6 - (569 if separable else 4866)) < 2


# -- receptive fields -----------------------------------------------------------------------
def _net(*layers: str, channels: int = 1, size: int = 64) -> str:
    body = "\n".join(f"    {layer}" for layer in layers)
    return f"network T() {{\n    input [{channels}, {size}, {size}]\n{body}\n}}"


def _field(spec: str):
    s = summarize(netdsl.check(spec))
    return s.total.field.size, s.total.field.jump


@pytest.mark.parametrize("layers, size, jump", [
    (["conv(1, 3)"], (3, 3), (1, 1)),
    (["conv(1, 3)"] * 2, (5, 5), (1, 1)),                                   # 3 + 2
    (["conv(1, 3)"] * 3, (7, 7), (1, 1)),                                   # 3 + 2 + 2
    (["conv(1, 3, dilation=2)"], (5, 5), (1, 1)),                           # 2*(3-1)+1
    (["conv(1, 3, dilation=2)", "conv(1, 3, dilation=4)"], (13, 13), (1, 1)),  # 5 + 4*2
    (["conv(1, 3, stride=2)", "conv(1, 3)"], (7, 7), (2, 2)),               # 3 + 2*2
    (["conv(1, 3, stride=2, padding=valid)", "conv(1, 3, padding=valid)"], (7, 7), (2, 2)),  # padding: no change
    (["maxpool(2)", "conv(1, 3)"], (6, 6), (2, 2)),                         # 2 + 2*2, pool stride = kernel
    (["conv(1, 7, stride=2)", "maxpool(3, stride=2)", "conv(1, 3)"], (19, 19), (4, 4)),  # 7 + 2*2 + 2*4
    (["conv(1, 1x7)", "conv(1, 7x1)"], (7, 7), (1, 1)),
    (["conv(1, 1x7)"], (1, 7), (1, 1)),
    (["dwconv(3, stride=2)", "sepconv(1, 3)"], (7, 7), (2, 2)),
])
def test_receptive_field_by_hand(layers, size, jump):
    assert _field(_net(*layers)) == (size, jump)


def test_concat_takes_the_widest_branch():
    spec = _net("concat {\n | conv(1, 1)\n | conv(1, 3) -> conv(1, 3)\n | maxpool(3, stride=1, padding=same)\n }")
    assert _field(spec) == ((5, 5), (1, 1))


def test_residual_takes_the_body_field():
    assert _field(_net("residual { conv(1, 3) -> conv(1, 3) }")) == ((5, 5), (1, 1))


def test_global_pooling_sees_the_whole_map():
    # 3x3 conv stride 2 on 16: 8x8 map, field 3, jump 2; the global pool adds (8-1)*2
    assert _field(_net("conv(1, 3, stride=2)", "global_avgpool", size=16)) == ((17, 17), (16, 16))


def _autograd_field(model: nn.Module, size: int = 64) -> tuple[int, int]:
    """Extent of the input pixels that the centre output depends on (all weights 1; no max
    pooling, whose gradient reaches only the maximum)."""
    for p in model.parameters():
        nn.init.constant_(p, 1.0)
    x = torch.ones(1, 1, size, size, requires_grad=True)
    y = model(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows, cols = torch.nonzero(x.grad[0, 0], as_tuple=True)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize("layers, model", [
    (["conv(1, 3, stride=2)", "conv(1, 3, dilation=2)", "avgpool(3, stride=2)", "conv(1, 1x5)"],
     lambda: nn.Sequential(nn.Conv2d(1, 1, 3, 2, 1), nn.Conv2d(1, 1, 3, padding=2, dilation=2),
                           nn.AvgPool2d(3, 2), nn.Conv2d(1, 1, (1, 5), padding=(0, 2)))),
    (["conv(1, 5, stride=2, padding=valid)", "conv(1, 3, stride=2, dilation=3)", "avgpool(2)"],
     lambda: nn.Sequential(nn.Conv2d(1, 1, 5, 2), nn.Conv2d(1, 1, 3, 2, 3, dilation=3), nn.AvgPool2d(2))),
])
def test_receptive_field_matches_autograd(layers, model):
    assert _field(_net(*layers))[0] == _autograd_field(model())


def test_stacked_3x3_against_7x7_by_hand():
    one = summarize(netdsl.check(SPECS / "studies/conv7x7.net", {"C": 32}))
    three = summarize(netdsl.check(SPECS / "studies/stacked_3x3.net", {"C": 32}))
    assert (one.total.params, three.total.params) == (49 * 32 * 32, 27 * 32 * 32)
    assert one.total.field.size == three.total.field.size == (7, 7)
    assert [r.field.size[0] for r in three.rows if r.what.startswith("3x3")] == [3, 5, 7]


# -- rows, memory and depth -----------------------------------------------------------------
def test_memory_counts_every_output_in_float32():
    s = summarize(netdsl.check(SPECS / "studies/stacked_3x3.net"))
    one_map = 64 * 56 * 56 * 4
    assert [r.memory for r in s.rows] == [one_map] * 7  # input, 3 convs, 3 relus
    assert s.total.memory == 7 * one_map


def test_inception_3a_with_and_without_reductions_by_hand():
    reduced = summarize(netdsl.check(SPECS / "studies/inception_3.net")).row("inception_3a")
    naive = summarize(netdsl.check(SPECS / "studies/inception_3.net", {"reductions": False})).row("inception_3a")
    # GoogLeNet Table 1 (3a) on 192 channels; every conv has a bias
    assert reduced.params == (192 * 64 + 64) + (192 * 96 + 96) + (96 * 128 * 9 + 128) + (192 * 16 + 16) \
        + (16 * 32 * 25 + 32) + (192 * 32 + 32)
    assert naive.params == (192 * 64 + 64) + (192 * 128 * 9 + 128) + (192 * 32 * 25 + 32)
    assert reduced.shape == (256, 28, 28) and naive.shape == (64 + 128 + 32 + 192, 28, 28)


def test_repeats_collapse_at_depth_0_and_open_at_depth_1():
    graph = netdsl.check(SPECS / "inception_v4.net")
    top, one = summarize(graph, 0), summarize(graph, 1)
    assert [r.name for r in top.rows][:7] == ["input", "stem", "inception_a", "reduction_a", "inception_b",
                                             "reduction_b", "inception_c"]
    assert top.row("inception_b").what == "7 x InceptionB"
    assert [r.name for r in one.rows if r.name.startswith("inception_b")] == [f"inception_b.{i}" for i in range(7)]
    for s in (top, one, summarize(graph, 9)):
        assert sum(r.params for r in s.rows) == s.total.params == 42_679_816  # timm's inception_v4
        assert sum(r.macs for r in s.rows) == s.total.macs
        assert sum(r.memory for r in s.rows) == s.total.memory
    assert len(summarize(graph, 99).rows) == len(graph.nodes)


def test_train_only_outputs_are_left_out_unless_training():
    spec = _net("x = conv(4, 3)", "y = x -> global_avgpool -> flatten -> linear(10)",
                "aux = x -> flatten -> linear(5)", "output y", "output aux when training", size=8)
    inference, training = summarize(netdsl.check(spec)), summarize(netdsl.check(spec), training=True)
    aux_params = 4 * 8 * 8 * 5 + 5
    assert training.total.params - inference.total.params == aux_params
    assert inference.left_out == 2 and training.left_out == 0


# -- the commands ---------------------------------------------------------------------------
def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_summary_json_markdown_and_table(capsys):
    spec = str(SPECS / "studies/stacked_3x3.net")
    code, out, _ = _run(capsys, "summary", spec, "--json", "--set", "C=16")
    data = json.loads(out)
    assert code == 0 and data["total"]["params"] == 27 * 16 * 16
    assert [r["receptive_field"] for r in data["rows"] if r["name"].startswith("conv")] == [[3, 3], [5, 5], [7, 7]]
    code, out, _ = _run(capsys, "summary", spec, "--markdown")
    assert code == 0 and "| conv3 | 3x3 Conv (64) | 56x56x64 | 36,864 |" in out
    code, out, _ = _run(capsys, "summary", spec)
    assert code == 0 and "110,592" in out


def test_summary_and_compare_take_format_as_check_does(capsys):
    """`--format json|markdown|table`, as `netdsl check --format`; `--json`/`--markdown`
    stay its short forms, and two forms at once are a usage error."""
    spec = str(SPECS / "studies/stacked_3x3.net")
    for command in (["summary", spec], ["compare", spec, "--set-b", "C=16"]):
        _, short, _ = _run(capsys, *command, "--json")
        code, long, _ = _run(capsys, *command, "--format", "json")
        assert code == 0 and json.loads(long) == json.loads(short)
        _, short, _ = _run(capsys, *command, "--markdown")
        code, long, _ = _run(capsys, *command, "--format", "markdown")
        assert code == 0 and long == short and "\n| :--- |" in long  # a Markdown table
        _, plain, _ = _run(capsys, *command)
        code, table, _ = _run(capsys, *command, "--format", "table")
        assert code == 0 and table == plain
    with pytest.raises(SystemExit) as exit:
        main(["summary", spec, "--json", "--format", "markdown"])
    assert exit.value.code == 2


def test_compare_a_spec_with_itself_under_set_b(capsys):
    spec = str(SPECS / "inception_v4.net")
    code, out, _ = _run(capsys, "compare", spec, spec, "--set-b", "resolution=192", "--json")
    data = json.loads(out)
    a, b = (side["total"] for side in data["sides"])
    assert code == 0 and a["params"] == b["params"] and b["macs"] < a["macs"]
    assert data["sides"][1]["args"]["resolution"] == 192
    stem = next(s for s in data["stages"] if s["stage"] == "stem")
    assert stem["sides"][0]["macs"] > stem["sides"][1]["macs"]


def test_compare_markdown_and_totals(capsys):
    a, b = str(SPECS / "studies/conv7x7.net"), str(SPECS / "studies/stacked_3x3.net")
    code, out, _ = _run(capsys, "compare", a, b, "--markdown")
    assert code == 0 and "| **total** | 200,704 | 110,592 | -90,112 |" in out
    code, out, _ = _run(capsys, "compare", a, b, a, "--markdown")
    assert code == 0 and out.count("specs/studies/conv7x7.net") == 2


def test_errors_keep_the_exit_codes_of_check(capsys):
    code, _, err = _run(capsys, "summary", "no/such/file.net")
    assert code == 2
    code, _, err = _run(capsys, "summary", _net("conv(1, 99, padding=valid)", size=8))
    assert code == 1 and "kernel" in err
    code, _, err = _run(capsys, "compare", str(SPECS / "studies/conv7x7.net"), "--set-b", "nope=1")
    assert code == 2 and "B =" in err


# -- the case studies page ------------------------------------------------------------------
def test_case_studies_page_is_up_to_date():
    page = (ROOT / "docs" / "case-studies.md").read_text()
    assert page == casestudies.render_page(), "docs/case-studies.md is stale: run `python -m netdsl.casestudies`"


def test_a_claim_whose_spec_is_missing_says_so(monkeypatch):
    claim = casestudies.Claim("t", "a claim", ("netdsl check specs/not_yet.net",), None, ("specs/not_yet.net",))
    monkeypatch.setattr(casestudies, "CLAIMS", (claim,))
    assert "_(spec not yet in the zoo: specs/not_yet.net)_" in casestudies.render_page()


def test_summary_and_case_studies_never_import_torch():
    code = ("import sys, netdsl.summary, netdsl.casestudies; netdsl.casestudies.render_page(); "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs(alternatives=True))
def test_generated_specs_summary_counts_the_built_modules_parameters(spec):
    """Over specs drawn from the grammar: the summary's total is the built module's
    parameter count, where the summary counts every node (no training-only head, no
    statement whose result is dropped: those it reports as left out)."""
    graph = netdsl.check(spec.text)
    summary = summarize(graph)
    if summary.left_out:
        return  # counted for inference only; the module holds those layers too
    assert summary.total.params == sum(p.numel() for p in netdsl.build(spec.text).parameters())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs(alternatives=True))
def test_generated_specs_conv_and_linear_macs_are_fvcores(spec):
    """Over specs drawn from the grammar (grouped, strided, dilated, depthwise and
    separable convs in blocks, branches, loops and gates): the MACs the front end gives
    the convs and linear layers are what fvcore counts on the built module. (150
    generated specs agreed when this was added; 77 of them without a left-out layer.)"""
    from netdsl.ops import OPS

    graph = netdsl.check(spec.text)
    assume(not summarize(graph).left_out)  # a training-only head: an eval pass (fvcore's) does not run it
    ours = sum(n.macs for n in graph.nodes if n.op in OPS and OPS[n.op].init_kind in ("conv", "linear"))
    assert ours == fvcore_macs(netdsl.build(spec.text), graph.input_shape)
