"""Issue 13's constructs: `gate { }` (squeeze-excitation; numbers and state_dict keys equal
to torchvision's SqueezeExcitation and timm's SEModule, generated code, summary, diagram,
optimizer), the channel `split` op, and `init` by layer name or pattern."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import netdsl
from netdsl.render import render
from netdsl.torch.build import compile_spec

SE_SPEC = """block SEBlock(c: int, r: int) {
    conv(c, 3, bias=false) -> batchnorm -> relu
    gate se { global_avgpool -> fc1: conv(r, 1) -> relu -> fc2: conv(c, 1) -> sigmoid }
}

network SENet() {
    input [16, 8, 8]
    2 x SEBlock(16, 4)
}
"""


def _randomised(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return module


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def test_a_labelled_gate_is_torchvisions_squeeze_excitation_with_its_state_dict_keys():
    from torchvision.ops import SqueezeExcitation

    spec = "network SE() {\n    input [32, 6, 6]\n    gate se { global_avgpool -> fc1: conv(8, 1) -> relu -> fc2: conv(32, 1) -> sigmoid }\n}\n"
    ours, theirs = netdsl.build(spec).eval(), _randomised(SqueezeExcitation(32, 8), 3).eval()
    keys = {f"se.{k}" for k in theirs.state_dict()}
    assert set(ours.state_dict()) == keys  # loads by name, no porting by structure needed
    ours.load_state_dict({f"se.{k}": v for k, v in theirs.state_dict().items()})
    x = torch.randn(2, 32, 6, 6, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert _rel_err(ours(x), theirs(x)) <= 1e-6
        assert _rel_err(netdsl.optimize(ours, "inference")(x), theirs(x)) <= 1e-6


def test_a_gate_has_the_keys_of_timms_se_module():
    from timm.layers import SEModule

    theirs = SEModule(32, rd_ratio=0.25)
    spec = "network SE() {\n    input [32, 6, 6]\n    gate se { global_avgpool -> fc1: conv(8, 1) -> relu -> fc2: conv(32, 1) -> sigmoid }\n}\n"
    ours = netdsl.build(spec)
    assert set(ours.state_dict()) == {f"se.{k}" for k in theirs.state_dict()}
    ours.load_state_dict({f"se.{k}": v for k, v in _randomised(theirs, 5).state_dict().items()})
    x = torch.randn(2, 32, 6, 6)
    with torch.no_grad():
        assert _rel_err(ours(x), theirs(x)) <= 1e-6


def test_gates_in_a_repeated_block_compute_x_times_the_body():
    model = _randomised(netdsl.build(SE_SPEC), 1).eval()
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        want = x
        for block in model.se_block:
            y = torch.relu(block.bn(block.conv(want)))
            s = block.se.fc2(torch.relu(block.se.fc1(y.mean((2, 3), keepdim=True))))
            want = y * torch.sigmoid(s)
        assert _rel_err(model(x), want) <= 1e-6
        assert _rel_err(netdsl.optimize(model, "inference")(x), want) <= 1e-5


def test_the_generated_gate_reads_as_x_times_a_sequential_and_passes_ruff(tmp_path):
    code, graph = compile_spec(SE_SPEC)
    assert "self.se = nn.Sequential(" in code.source and "x = x * se" in code.source
    names = {n.name for n in graph.nodes if n.params}
    assert {k.rsplit(".", 1)[0] for k in netdsl.build(SE_SPEC).state_dict()} == names
    path = tmp_path / "se.py"
    path.write_text(code.source)
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    assert subprocess.run([ruff, "check", "--isolated", str(path)], capture_output=True).returncode == 0
    assert subprocess.run([ruff, "format", "--isolated", "--check", str(path)], capture_output=True).returncode == 0


def test_a_gate_of_several_statements_is_a_container_in_its_own_scope():
    spec = (
        "network SE() {\n    input [8, 4, 4]\n    conv(8, 1)\n"
        "    gate {\n        s = global_avgpool\n        s -> conv(8, 1) -> sigmoid\n    }\n"
        "    gate squeeze { conv(8, 1) -> sigmoid }\n    conv(8, 1)\n}\n"
    )
    model = _randomised(netdsl.build(spec), 2).eval()
    assert sorted({k.rsplit(".", 1)[0] for k in model.state_dict()}) == ["conv1", "conv2", "gate.conv", "squeeze.conv"]
    x = torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        y = model.conv1(x)
        y = y * torch.sigmoid(model.gate.conv(y.mean((2, 3), keepdim=True)))
        y = y * torch.sigmoid(model.squeeze.conv(y))
        assert _rel_err(model(x), model.conv2(y)) <= 1e-6


def test_the_gates_convs_count_in_params_and_macs_as_fvcore_counts_them():
    from fvcore.nn import FlopCountAnalysis

    graph = netdsl.check(SE_SPEC)
    model = netdsl.build(SE_SPEC).eval()
    assert graph.total_params == sum(p.numel() for p in model.parameters())
    flops = FlopCountAnalysis(model, torch.randn(1, 16, 8, 8))
    flops.unsupported_ops_warnings(False)
    assert graph.total_macs == flops.by_operator()["conv"]


def test_a_gate_is_drawn_as_a_side_path_into_a_product():
    dot = str(render(SE_SPEC, expand=("SEBlock",)))
    assert dot.count('label="Gate (se)"') == 2  # a cluster around each block's gate
    graph = netdsl.check(SE_SPEC)
    mul = next(n for n in graph.nodes if n.op == "mul")
    assert graph.nodes[mul.inputs[0]].name == "se_block.0.relu"  # the gated value ...
    assert graph.nodes[mul.inputs[1]].name == "se_block.0.se.sigmoid"  # ... times the gate's last layer


# ---- channel split ---------------------------------------------------------------------------
SPLIT_SPEC = """network Halves() {
    input [6, 5, 5]
    concat {
        | split(2, 0)
        | split(2, 1) -> conv(3, 1) -> relu
    }
    channel_shuffle(2)
    third: split(3, 2)
}
"""


def test_split_keeps_a_contiguous_group_of_channels_as_a_view():
    model = _randomised(netdsl.build(SPLIT_SPEC), 6).eval()
    x = torch.randn(2, 6, 5, 5)
    with torch.no_grad():
        y = torch.cat([x[:, :3], torch.relu(model.b2.conv(x[:, 3:]))], 1)
        y = y.view(2, 2, 3, 5, 5).transpose(1, 2).reshape(2, 6, 5, 5)  # the shuffle
        assert torch.equal(model(x), y[:, 4:])
        assert _rel_err(netdsl.optimize(model, "inference")(x), y[:, 4:]) <= 1e-6
    assert netdsl.check(SPLIT_SPEC).output_shape == (2, 5, 5)
    code, _ = compile_spec(SPLIT_SPEC)
    assert "b1 = x.chunk(2, 1)[0]" in code.source and "self.b2(x.chunk(2, 1)[1])" in code.source
    assert "x = x.chunk(3, 1)[2]" in code.source


def test_a_split_shares_its_inputs_storage():
    model = netdsl.build("network V() {\n    input [4, 3, 3]\n    split(2, 1)\n}\n").eval()
    x = torch.randn(2, 4, 3, 3)
    with torch.no_grad():
        y = model(x)
        assert torch.equal(y, x[:, 2:]) and y.data_ptr() == x[:, 2:].data_ptr()
        assert torch.equal(netdsl.optimize(model, "inference")(x), x[:, 2:])  # (there after a channels_last copy)


# ---- init by layer name or pattern -----------------------------------------------------------
INIT_SPEC = """block Bottleneck(c: int) {
    residual {
        conv(c, 1, bias=false) -> bn1: batchnorm -> relu
        conv(c, 3, bias=false) -> bn2: batchnorm -> relu
        conv(c, 1, bias=false) -> bn3: batchnorm
    }
    relu
}

block Classifier(classes: int) {
    conv(classes, 1) -> relu -> global_avgpool -> flatten
}

network Zeroed(last: float = 0.0) {
    input [16, 6, 6]
    init conv: kaiming_normal(mode="fan_out", nonlinearity="relu")
    init *.bn3: constant(last)
    init layer1.2.bn3: ones
    init classifier.conv: normal(std=0.01)
    layer1: 3 x Bottleneck(16)
    Classifier(1000)
}
"""


def test_init_by_pattern_zeroes_each_residual_branchs_last_batchnorm():
    torch.manual_seed(0)
    model = netdsl.build(INIT_SPEC).eval()
    blocks = list(model.layer1)
    for block in blocks[:2]:  # timm's zero_init_last: the branch starts as nothing
        assert torch.count_nonzero(block.bn3.weight) == 0 and torch.count_nonzero(block.bn3.bias) == 0
        assert torch.equal(block.bn1.weight, torch.ones(16)) and torch.equal(block.bn2.weight, torch.ones(16))
    assert torch.equal(blocks[2].bn3.weight, torch.ones(16))  # a later statement wins
    x = torch.randn(2, 16, 6, 6).relu()
    with torch.no_grad():
        assert torch.equal(blocks[0](x), x)  # relu(x + 0): the block is the identity on x >= 0
    head = model.classifier.conv
    assert head.weight.std().item() == pytest.approx(0.01, rel=0.1) and torch.count_nonzero(head.bias) == 0
    # the `init conv:` scheme still reaches every other conv: kaiming, fan_out, relu
    assert blocks[1].conv2.weight.std().item() == pytest.approx((2 / (16 * 9)) ** 0.5, rel=0.15)


def test_init_by_name_takes_parameters_and_names_its_layers_in_the_graph():
    graph = netdsl.check(INIT_SPEC, {"last": "0.25"})
    assert [e["layers"] for e in graph.init_layers] == [
        ["layer1.0.bn3", "layer1.1.bn3", "layer1.2.bn3"],
        ["layer1.2.bn3"],
        ["classifier.conv"],
    ]
    model = netdsl.build(INIT_SPEC, last=0.25)
    assert torch.equal(model.layer1[1].bn3.weight, torch.full((16,), 0.25))
    code, _ = compile_spec(INIT_SPEC)
    assert 'if fnmatchcase(name, "*.bn3"):' in code.source and 'if name == "classifier.conv":' in code.source
    assert code.source.index("for module in self.modules():") < code.source.index("self.named_modules()")
