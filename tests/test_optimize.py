"""The inference optimizer: every spec's optimized module computes what the unoptimized
one does (relative 1e-5, float32); each pass on tiny graphs, its structure and its
numbers checked against formulas written here."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from linemap import check_line_map
from references import randomize
from torch import nn
from torch.nn import functional as F

import netdsl
from netdsl.diagnostics import NetdslError
from netdsl.ops import op_of
from netdsl.optimizer import PASS_NAMES, run_passes
from netdsl.optimizer.flat import compile_optimized
from netdsl.optimizer.passes import (
    commute_pool_conv,
    drop_train_only,
    fold_batchnorm,
    fuse_conv_activation,
    fuse_conv_add,
    fuse_scale_add,
    fuse_sibling_convs,
    mark_inplace,
)
from netdsl.torch.build import build_model, compile_spec, load_module

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(p for p in (ROOT / "specs").rglob("*.net") if "network " in p.read_text())


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def random_model(spec, **params) -> nn.Module:
    """The spec's module with seeded random weights (allocated without the default
    initialisation, which randomize overwrites anyway)."""
    with torch.device("meta"):
        model = build_model(spec, params)
    graph = model.netdsl_graph
    model = model.to_empty(device="cpu")
    model.netdsl_graph = graph
    return randomize(model).eval()


def outputs(model, x) -> tuple:
    with torch.no_grad():
        out = model(x)
    return out if isinstance(out, tuple) else (out,)


# Networks whose random instances amplify float32 rounding (squeeze-excitation gates
# multiply each map by a function of its own mean): the unoptimized seresnet50 alone
# differs from its float64 self by ~5e-2 at 224. They are compared in float64 (where
# the optimized seresnet50 is off by ~5e-9).
FLOAT64 = {"seresnet50"}


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_optimized_equals_unoptimized(spec):
    model = random_model(spec)
    dtype, tolerance = (torch.float64, 1e-7) if spec.stem in FLOAT64 else (torch.float32, 1e-5)
    model = model.to(dtype)
    fast = netdsl.optimize(model, "inference")
    x = torch.randn(1, *model.netdsl_graph.input_shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
    want, got = outputs(model, x), outputs(fast, x)
    assert len(got) == len(want)
    exact = None
    for k, (a, b) in enumerate(zip(got, want)):
        assert a.shape == b.shape and a.dtype == dtype
        if rel_err(a, b) > tolerance:
            assert dtype == torch.float32, rel_err(a, b)
            # two float32 results each ~5e-6 from the truth may differ by 1e-5 (regnet_y_400mf
            # with these weights): then the optimized one must be as close to float64's as the plain one
            exact = exact or outputs(random_model(spec).double(), x.double())
            e = exact[k]
            assert rel_err(a.double(), e) <= max(tolerance, rel_err(b.double(), e)), (rel_err(a, b), rel_err(b.double(), e))
    assert not fast.training
    # no batch norm is left right after a conv or linear layer that only it reads (MBConv, RegNet, ...)
    graph = fast.netdsl_graph
    readers = {n.id: [m for m in graph.nodes if n.id in m.inputs] for n in graph.nodes}
    unfolded = [n.name for n in graph.nodes if n.op == "batchnorm"
                and op_of(graph.nodes[n.inputs[0]].op).folds_batchnorm
                and len(readers[n.inputs[0]]) == 1]
    assert not unfolded, f"batch norms not folded into the layer before them: {unfolded}"


# ---- tiny graphs -------------------------------------------------------------------------
CONV_BN = """
network ConvBN() {
    input [3, 9, 9]
    conv(5, 3, bias=false)
    batchnorm(eps=0.001)
    relu
}
"""

SIBLINGS = """
network Siblings() {
    input [6, 8, 8]
    concat {
        | conv(4, 1) -> relu
        | conv(3, 1) -> relu -> conv(2, 3) -> relu
        | conv(5, 3) -> relu
        | maxpool(3, stride=1, padding=same) -> conv(2, 1) -> relu
    }
}
"""

RESIDUAL = """
network Res() {
    input [4, 6, 6]
    conv(4, 1, bias=false)
    batchnorm
    relu
    residual(scale=0.5) {
        conv(4, 3)
    }
    relu
}
"""

AUX = """
block Head(n: int) {
    global_avgpool -> flatten
    dropout(0.5)
    linear(n)
}

network Aux() {
    input [3, 8, 8]
    x = conv(4, 3) -> relu
    aux = x -> aux: Head(7)
    logits = x -> head: Head(5)
    output logits
    output aux when training
}
"""


def ops(graph) -> list[str]:
    return [n.op for n in graph.nodes]


def test_fold_batchnorm_matches_the_formula():
    model = random_model(CONV_BN)
    graph = fold_batchnorm(model.netdsl_graph)
    assert ops(graph) == ["input", "conv", "relu"]
    assert graph.nodes[1].attrs["bias"] is True
    assert graph.nodes[1].attrs["origin"] == {"kind": "fold_bn", "conv": {"kind": "copy", "from": "conv"},
                                               "bn": "bn", "eps": 0.001, "affine": True}
    fast = netdsl.optimize(model)
    x = torch.randn(2, 3, 9, 9)
    s = model.state_dict()
    bn = (F.conv2d(x, s["conv.weight"], padding=1) - s["bn.running_mean"][:, None, None]) / torch.sqrt(
        s["bn.running_var"][:, None, None] + 0.001) * s["bn.weight"][:, None, None] + s["bn.bias"][:, None, None]
    assert rel_err(outputs(fast, x)[0], bn.clamp(min=0)) < 1e-5
    conv = next(m for m in fast.modules() if isinstance(m, nn.Conv2d))
    g = s["bn.weight"] / torch.sqrt(s["bn.running_var"] + 0.001)
    assert torch.allclose(conv.bias, s["bn.bias"] - s["bn.running_mean"] * g, atol=1e-6)


def test_batchnorm_is_not_folded_into_a_conv_someone_else_reads():
    spec = """
network Shared() {
    input [3, 6, 6]
    x = conv(3, 1)
    y = x -> batchnorm
    add(x, y)
}
"""
    graph = fold_batchnorm(netdsl.check(spec))
    assert "batchnorm" in ops(graph)


def test_sibling_convs_become_one_conv_and_a_split():
    model = random_model(SIBLINGS)
    graph = fuse_sibling_convs(model.netdsl_graph)
    convs = [n for n in graph.nodes if n.op == "conv"]
    fused = [n for n in convs if n.attrs["filters"] == 4 + 3]
    assert len(fused) == 1  # the two 1x1 convs on the input; not the 3x3, not the one after the pool
    assert [n.attrs["filters"] for n in convs if n is not fused[0]] == [2, 5, 2]
    after = [graph.nodes[i].op for i in range(fused[0].id + 1, fused[0].id + 4)]
    assert after == ["relu", "slice", "slice"]  # the shared ReLU runs once, before the split
    assert [n.attrs for n in graph.nodes if n.op == "slice"] == [{"start": 0, "stop": 4}, {"start": 4, "stop": 7}]
    fast = netdsl.optimize(model)
    x = torch.randn(2, 6, 8, 8)
    assert rel_err(outputs(fast, x)[0], outputs(model, x)[0]) < 1e-5
    assert "torch.split(" in fast.netdsl_source


def test_scaled_residual_sum_is_one_add_and_runs_in_place():
    model = random_model(RESIDUAL)
    graph = mark_inplace(fuse_scale_add(fold_batchnorm(model.netdsl_graph)))
    add = next(n for n in graph.nodes if n.op == "add")
    assert "scale" not in ops(graph)
    assert add.attrs["alpha"] == 0.5 and add.attrs["inplace"] == 0
    relus = [n for n in graph.nodes if n.op == "relu"]
    # the first ReLU's output is the shortcut: the residual conv reads it first, then the
    # sum, its last reader, accumulates into it
    assert [r.attrs.get("inplace") for r in relus] == [True, True]
    x = torch.randn(3, 4, 6, 6)
    assert rel_err(outputs(netdsl.optimize(model), x)[0], outputs(model, x)[0]) < 1e-5


def test_a_relu_never_overwrites_a_tensor_read_elsewhere():
    spec = """
network Fork() {
    input [3, 6, 6]
    x = conv(3, 1)
    a = x -> relu
    b = x -> conv(3, 1)
    add(a, b)
}
"""
    graph = mark_inplace(netdsl.check(spec))
    assert "inplace" not in next(n for n in graph.nodes if n.op == "relu").attrs
    graph = mark_inplace(netdsl.check(CONV_BN.replace("input [3, 9, 9]\n    conv(5, 3, bias=false)\n    batchnorm(eps=0.001)", "input [3, 9, 9]")))
    assert "inplace" not in graph.nodes[-1].attrs  # never the caller's input


@pytest.mark.parametrize("merge", ["concat(a, b)", "add(a, b)"])
def test_a_relu_never_overwrites_a_tensor_whose_view_is_read_later(merge):
    # found by skipping passes on generated specs: `a`, a split of `t`, shares its memory,
    # and the ReLU on `t` ran in place before `a` was read (relative error 0.51)
    spec = f"""
network Fork() {{
    input [3, 4, 4]
    t = conv(8, 1)
    a = t -> split(2, 0)
    b = t -> {"relu" if merge.startswith("concat") else "relu -> conv(4, 1)"}
    {merge}
}}
"""
    graph = mark_inplace(netdsl.check(spec))
    assert "inplace" not in next(n for n in graph.nodes if n.op == "relu").attrs
    model = random_model(spec)
    x = torch.randn(2, 3, 4, 4)
    assert rel_err(outputs(netdsl.optimize(model), x)[0], outputs(model, x)[0]) < 1e-5


@pytest.mark.parametrize("skip", ["drop_train_only", "expand_sepconv"])
def test_each_pass_left_out_on_identities_and_separable_convs(skip):
    # left in, an identity's output is its input (a ReLU after the tensor it aliases ran in
    # place: relative error 0.19); an unexpanded separable conv's weights are its
    # submodules' (`sepconv.0.weight`), which the weight copy dropped (missing keys)
    spec = """
network N() {
    input [3, 9, 9]
    conv(9, 5, padding=2)
    concat {
      | sepconv(6, 3)
      | identity
      | relu6 -> batchnorm(eps=0.001)
    }
}
"""
    model = random_model(spec)
    x = torch.randn(2, 3, 9, 9)
    assert rel_err(outputs(netdsl.optimize(model, skip=[skip]), x)[0], outputs(model, x)[0]) < 1e-5


def test_train_only_heads_and_dropout_are_dropped():
    model = random_model(AUX)
    before = model.netdsl_graph
    graph = drop_train_only(before)
    assert "dropout" not in ops(graph)
    assert not any(n.name.startswith("aux.") for n in graph.nodes)
    assert [o.name for o in graph.outputs] == ["logits"]
    assert len(graph.nodes) == len(before.nodes) - 5  # aux: pool, flatten, dropout, linear; head's dropout
    x = torch.randn(2, 3, 8, 8)
    assert rel_err(outputs(netdsl.optimize(model), x)[0], outputs(model, x)[0]) < 1e-6


def test_passes_do_not_modify_their_input():
    graph = netdsl.check(SIBLINGS)
    before = graph.model_dump()
    run_passes(graph)
    assert graph.model_dump() == before


def test_passes_are_switchable_by_name():
    graph = netdsl.check(CONV_BN)
    assert "batchnorm" in ops(run_passes(graph, skip=["fold_batchnorm"]))
    assert graph.nodes[0].attrs.get("memory_format") is None
    assert run_passes(graph).nodes[0].attrs["memory_format"] == "channels_last"
    assert "memory_format" not in run_passes(graph, skip=["channels_last"]).nodes[0].attrs
    with pytest.raises(ValueError, match="fold_batchnorm"):
        run_passes(graph, skip=["fold_bn"])
    model = random_model(SIBLINGS)
    x = torch.randn(1, 6, 8, 8)
    for name in PASS_NAMES:  # each pass off in turn: still the same network
        assert rel_err(outputs(netdsl.optimize(model, skip=[name]), x)[0], outputs(model, x)[0]) < 1e-5


def test_generated_source_is_deterministic_and_reads_like_pytorch(monkeypatch):
    monkeypatch.chdir(ROOT)
    a, _ = compile_optimized(netdsl.check("specs/inception_v4.net"))
    b, _ = compile_optimized(netdsl.check("specs/inception_v4.net"))
    assert a.source == b.source
    assert "import torch\nfrom torch import nn\n" in a.source
    assert "x = self.stem_conv_bn1_conv(x)" in a.source
    assert check_line_map(a) > 300  # every layer's statements lead back to its spec line
    assert a.spec_span(a.source.splitlines().index("        x = self.stem_conv_bn1_conv(x)") + 1).file == "specs/common.net"
    assert "# inception_a.0: InceptionA (specs/inception_v4.net:" in a.source
    assert "torch.split(" in a.source and "torch.cat([" in a.source
    assert "InferenceConv(" in a.source and 'activation="relu"' in a.source and "BatchNorm" not in a.source
    compile(a.source, "generated", "exec")


def test_every_generated_file_passes_ruff_check_and_format(tmp_path, monkeypatch):
    """The plain and the inference-optimized module of every network in specs/ (the
    block libraries have none), as `ruff check` and `ruff format` with their defaults
    want them: one run of each over all the files."""
    monkeypatch.chdir(ROOT)  # the files' `# specs/x.net:12` comments as a user gets them
    written = 0
    for spec in sorted(Path("specs").rglob("*.net")):
        try:
            graph = netdsl.check(spec)
        except NetdslError as err:
            if [d.code for d in err.diagnostics] == ["no-network"]:
                continue
            raise
        name = spec.with_suffix("").as_posix().replace("/", "_")
        (tmp_path / f"{name}.py").write_text(compile_spec(spec)[0].source)
        (tmp_path / f"{name}_inference.py").write_text(compile_optimized(graph)[0].source)
        written += 1
    assert written >= 20
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    check = subprocess.run([ruff, "check", "--isolated", str(tmp_path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run([ruff, "format", "--isolated", "--check", "--diff", str(tmp_path)],
                         capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout[:20000] + fmt.stderr


def test_relu_after_a_conv_runs_inside_the_conv_on_the_cpu_and_as_two_ops_elsewhere():
    spec = """
network Acts() {
    input [4, 9, 9]
    x = conv(6, 3) -> relu
    y = x -> dwconv(3) -> relu6
    z = x -> conv(6, 1)
    a = z -> relu
    b = z -> sigmoid
    concat(y, a, b)
}
"""
    model = random_model(spec)
    graph = fuse_conv_activation(fold_batchnorm(model.netdsl_graph))
    acts = {n.name: n.attrs.get("activation") for n in graph.nodes if n.op in ("conv", "dwconv")}
    # z is read twice (relu and sigmoid): its relu stays a node of its own
    assert list(acts.values()) == ["relu", ["hardtanh", [0.0, 6.0], ""], None]
    assert ops(graph).count("relu") == 1 and "relu6" not in ops(graph)
    fast = netdsl.optimize(model)
    assert fast.netdsl_source.count('activation="relu"') == 1  # not the conv read twice
    assert fast.netdsl_source.count('activation=["hardtanh", [0.0, 6.0], ""]') == 1  # relu6
    x = torch.randn(2, 4, 9, 9)
    assert rel_err(outputs(fast, x)[0], outputs(model, x)[0]) < 1e-5
    # float64 takes the two-op path (as another device would): the same numbers
    assert rel_err(outputs(fast.double(), x.double())[0], outputs(model.double(), x.double())[0]) < 1e-12


def test_build_with_optimize_and_the_compile_command(tmp_path):
    fast = netdsl.build(SIBLINGS, optimize="inference")
    assert not fast.training and fast.netdsl_graph.nodes[0].attrs["memory_format"] == "channels_last"
    spec = tmp_path / "siblings.net"
    spec.write_text(SIBLINGS)
    out = tmp_path / "fast.py"
    assert netdsl.cli.main(["compile", str(spec), "--optimize", "inference", "-o", str(out)]) == 0
    namespace = load_module(type("Code", (), {"source": out.read_text(), "filename": str(out)})())
    model = random_model(SIBLINGS)
    flat = namespace["SiblingsInference"].from_state_dict(model.state_dict())
    x = torch.randn(2, 6, 8, 8)
    assert rel_err(outputs(flat, x)[0], outputs(model, x)[0]) < 1e-5
    with pytest.raises(ValueError, match="inference"):
        netdsl.optimize(model, "training")


def test_fold_is_exact_for_a_batchnorm_without_affine_parameters():
    spec = CONV_BN.replace("batchnorm(eps=0.001)", "batchnorm(eps=0.001, affine=false)")
    model = random_model(spec)
    x = torch.randn(1, 3, 9, 9)
    s = model.state_dict()
    want = (F.conv2d(x, s["conv.weight"], padding=1) - s["bn.running_mean"][:, None, None]) / torch.sqrt(
        s["bn.running_var"][:, None, None] + 0.001)
    assert rel_err(outputs(netdsl.optimize(model), x)[0], want.clamp(min=0)) < 1e-5
    assert math.isclose(rel_err(outputs(model, x)[0], want.clamp(min=0)), 0.0, abs_tol=1e-6)


POOL_BRANCH = """
network PoolBranch(include: bool = false, stride: int = 1) {
    input [8, 7, 7]
    avgpool(3, stride=stride, padding=1, count_include_pad=include)
    conv(3, 1)
    relu
}
"""


def test_an_average_pool_before_a_1x1_conv_runs_after_it_on_fewer_channels():
    model = random_model(POOL_BRANCH)
    graph = commute_pool_conv(model.netdsl_graph)
    assert ops(graph) == ["input", "conv", "avgpool", "relu"]
    conv, pool = graph.nodes[1], graph.nodes[2]
    assert conv.inputs == [0] and conv.shape == (3, 7, 7) and pool.shape == (3, 7, 7)
    assert conv.name == "conv" and pool.name == "avgpool"  # the weights still come from the conv
    fast = netdsl.optimize(model)
    x = torch.randn(2, 8, 7, 7)
    s = model.state_dict()
    want = F.conv2d(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False), s["conv.weight"], s["conv.bias"]).clamp(min=0)
    assert rel_err(outputs(fast, x)[0], want) < 1e-5
    assert fast.netdsl_source.index("self.conv(") < fast.netdsl_source.index("self.avgpool(")


def test_the_pool_stays_first_where_swapping_would_change_the_numbers_or_add_work():
    # counting padded zeros, the border averages weigh the conv's bias by less than 1
    graph = commute_pool_conv(netdsl.check(POOL_BRANCH, params={"include": True}))
    assert ops(graph) == ["input", "avgpool", "conv", "relu"]
    # without a bias it is exact again
    graph = commute_pool_conv(netdsl.check(POOL_BRANCH.replace("conv(3, 1)", "conv(3, 1, bias=false)"),
                                           params={"include": True}))
    assert ops(graph) == ["input", "conv", "avgpool", "relu"]
    # a pool that shrinks the map: the conv would run on 4x the pixels
    graph = commute_pool_conv(netdsl.check(POOL_BRANCH, params={"stride": 2}))
    assert ops(graph) == ["input", "avgpool", "conv", "relu"]
    # more filters than input channels: the pool would average more channels, not fewer
    graph = commute_pool_conv(netdsl.check(POOL_BRANCH.replace("conv(3, 1)", "conv(16, 1)")))
    assert ops(graph) == ["input", "avgpool", "conv", "relu"]


BOTTLENECK = """
network Bottleneck() {
    input [4, 6, 6]
    conv(8, 1, bias=false) -> batchnorm -> relu
    residual {
        conv(4, 1, bias=false) -> batchnorm -> relu
        conv(8, 3, bias=false) -> batchnorm
    } shortcut {
        conv(8, 1, bias=false) -> batchnorm
    }
    relu
    residual {
        conv(8, 3, bias=false) -> batchnorm
    }
    relu
}
"""


def test_a_residual_sum_and_its_relu_run_inside_the_last_conv():
    model = random_model(BOTTLENECK)
    graph = run_passes(model.netdsl_graph)
    assert "add" not in ops(graph) and ops(graph).count("relu") == 0
    residual = [n for n in graph.nodes if n.attrs.get("residual")]
    assert len(residual) == 2 and all(n.attrs["activation"] == "relu" for n in residual)
    first, second = residual
    # the first sum is written into the projection shortcut's output, which nobody reads
    # afterwards; the second conv reads the very tensor it adds: that sum may not overwrite it
    assert first.attrs.get("inplace") is True and graph.nodes[first.inputs[1]].op == "conv"
    assert second.inputs[0] == second.inputs[1] and "inplace" not in second.attrs
    fast = netdsl.optimize(model)
    x = torch.randn(3, 4, 6, 6)
    assert rel_err(outputs(fast, x)[0], outputs(model, x)[0]) < 1e-5
    # float64 takes the separate-ops path (as another device would): the same numbers
    double = netdsl.optimize(model.double())
    assert rel_err(outputs(double, x.double())[0], outputs(model, x.double())[0]) < 1e-12
    assert [m.inplace for m in fast.modules() if isinstance(m, nn.Conv2d) and m.residual] == [True, False]


def test_a_scaled_residual_folds_its_scale_into_the_conv():
    model = random_model(RESIDUAL)
    graph = fuse_conv_add(fuse_conv_activation(fuse_scale_add(fold_batchnorm(model.netdsl_graph))))
    assert ops(graph) == ["input", "conv", "conv"]
    conv = graph.nodes[2]
    assert conv.attrs["origin"] == {"kind": "scale", "of": {"kind": "copy", "from": "conv2"}, "factor": 0.5}
    assert conv.inputs == [1, 1] and conv.attrs["activation"] == "relu"
    fast = netdsl.optimize(model)
    s = model.state_dict()
    assert torch.equal(fast.conv2.weight, s["conv2.weight"] * 0.5) and torch.equal(fast.conv2.bias, s["conv2.bias"] * 0.5)
    x = torch.randn(3, 4, 6, 6)
    assert rel_err(outputs(fast, x)[0], outputs(model, x)[0]) < 1e-5


def test_the_in_place_sum_checks_the_layout_it_is_given():
    # the optimized module made without channels_last, called with a channels_last input:
    # the shortcut (NCHW weights -> its own layout) and the conv's output could disagree
    model = random_model(BOTTLENECK)
    fast = netdsl.optimize(model, skip=["channels_last"])
    x = torch.randn(3, 4, 6, 6)
    for layout in (torch.contiguous_format, torch.channels_last):
        assert rel_err(outputs(fast, x.contiguous(memory_format=layout))[0], outputs(model, x)[0]) < 1e-5


def test_siblings_followed_by_different_things_stay_apart():
    graph = fuse_sibling_convs(fold_batchnorm(netdsl.check(BOTTLENECK)))
    # the first block's 1x1 conv (-> relu) and its projection shortcut (-> sum) read the same tensor
    assert "slice" not in ops(graph)


def test_a_sum_overwrites_its_own_summand_rather_than_a_view():
    spec = """
network Views() {
    input [4, 6, 6]
    x = conv(4, 3)
    a = x -> conv(4, 1) -> relu
    b = x -> conv(4, 1) -> relu
    c = b -> sigmoid
    add(a, c)
}
"""
    graph = mark_inplace(fuse_sibling_convs(netdsl.check(spec)))
    add = next(n for n in graph.nodes if n.op == "add")
    assert graph.nodes[add.inputs[0]].op == "slice"  # a: a view of the fused conv's output
    assert add.attrs["inplace"] == 1 and graph.nodes[add.inputs[1]].op == "sigmoid"
    model = random_model(spec)
    x = torch.randn(2, 4, 6, 6)
    assert rel_err(outputs(netdsl.optimize(model), x)[0], outputs(model, x)[0]) < 1e-5


def test_prepacked_weights_follow_the_weights_and_gradients_take_the_plain_path():
    import copy

    model = random_model(BOTTLENECK)
    fast = netdsl.optimize(model)
    assert all(m.prepack for m in fast.modules() if isinstance(m, nn.Conv2d))
    x = torch.randn(2, 4, 6, 6)
    # one packed copy per input shape (oneDNN lays a weight out for the shape it sees)
    for shape in ((1, 4, 6, 6), (3, 4, 9, 7), (2, 4, 6, 6)):
        y = torch.randn(shape)
        assert rel_err(outputs(fast, y)[0], outputs(model, y)[0]) < 1e-5
    assert sorted(fast.conv1._packed[2]) == [(1, 4, 6, 6), (2, 4, 6, 6), (3, 4, 9, 7)]
    first = outputs(fast, x)[0]
    # changed in place, or replaced: the next call packs the new weights
    with torch.no_grad():
        fast.conv1.weight.mul_(2.0)
    again = netdsl.optimize(model)
    with torch.no_grad():
        again.conv1.weight.mul_(2.0)
    assert rel_err(outputs(fast, x)[0], outputs(copy.deepcopy(again), x)[0]) < 1e-6
    assert rel_err(outputs(fast, x)[0], first) > 1e-3
    fast.load_state_dict(netdsl.optimize(model).state_dict())
    assert rel_err(outputs(fast, x)[0], first) < 1e-6
    # with autograd on, the same numbers and real gradients (oneDNN's fused kernels have none)
    y = fast(x)
    y.sum().backward()
    assert rel_err(y.detach(), first) < 1e-5
    assert fast.conv1.weight.grad is not None and fast.conv1.weight.grad.abs().sum() > 0


def test_packed_weights_are_kept_for_the_last_four_shapes_and_threads_share_them():
    from concurrent.futures import ThreadPoolExecutor

    model = random_model(CONV_BN)
    fast = netdsl.optimize(model)
    inputs = [torch.randn(1 + k % 3, 3, 9 + k, 9) for k in range(12)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda x: outputs(fast, x)[0], inputs))
    for x, y in zip(inputs, got):
        assert rel_err(y, outputs(model, x)[0]) < 1e-5
    assert len(fast.conv._packed[2]) <= fast.conv.PACKS == 4


# ---- the modern CNNs' ops (issue 13) ------------------------------------------------------
CONVNEXT_BLOCK = """
network Block() {
    input [8, 6, 6]
    residual {
        dwconv(7, padding=3)
        layernorm(eps=1e-6)
        conv(32, 1)
        gelu
        pw2: conv(8, 1)
        ls: layer_scale(0.5)
        drop_path(0.2)
    }
}
"""

MBCONV_SE = """
network MB() {
    input [8, 7, 7]
    residual {
        conv(24, 1, bias=false) -> batchnorm -> hardswish
        dwconv(3, bias=false) -> batchnorm -> silu
        x = identity
        g = x -> global_avgpool -> conv(6, 1) -> silu -> conv(24, 1) -> hardsigmoid
        mul(x, g)
        conv(8, 1, bias=false) -> batchnorm
        drop_path(0.1)
    }
    conv(8, 3, bias=false) -> batchnorm -> gelu(approximate="tanh")
    dwconv(3, bias=false) -> batchnorm -> leaky_relu(0.2)
    dwconv(3) -> tanh
}
"""


def test_layer_scale_folds_into_the_conv_before_it_and_the_sum_runs_inside_that_conv():
    model = random_model(CONVNEXT_BLOCK)
    graph = run_passes(model.netdsl_graph)
    assert "layer_scale" not in ops(graph) and "drop_path" not in ops(graph) and "add" not in ops(graph)
    pw2 = next(n for n in graph.nodes if n.attrs.get("residual"))
    assert pw2.attrs["origin"] == {"kind": "scale_channels", "of": {"kind": "copy", "from": "pw2"}, "by": "ls"}
    assert next(n for n in graph.nodes if n.op == "conv").attrs["activation"] == ["gelu", [], "none"]
    fast = netdsl.optimize(model)
    s = model.state_dict()
    conv = next(m for m in fast.modules() if isinstance(m, nn.Conv2d) and m.residual)
    gamma = s["ls.weight"].reshape(-1)
    torch.testing.assert_close(conv.weight, s["pw2.weight"] * gamma[:, None, None, None])
    torch.testing.assert_close(conv.bias, s["pw2.bias"] * gamma)
    x = torch.randn(2, 8, 6, 6)
    assert rel_err(outputs(fast, x)[0], outputs(model, x)[0]) < 1e-5
    double = netdsl.optimize(model.double())  # the plain-ops path, exact up to float64 rounding
    assert rel_err(outputs(double, x.double())[0], outputs(model, x.double())[0]) < 1e-12


def test_a_layer_scale_after_a_conv_read_elsewhere_stays():
    spec = """
network Shared() {
    input [3, 6, 6]
    x = conv(3, 1)
    y = x -> layer_scale(0.1)
    add(x, y)
}
"""
    assert "layer_scale" in ops(run_passes(netdsl.check(spec)))


def test_mbconv_folds_its_batchnorms_fuses_what_measured_faster_and_keeps_the_gate_convs_plain():
    model = random_model(MBCONV_SE)
    graph = run_passes(model.netdsl_graph)
    assert "batchnorm" not in ops(graph) and "drop_path" not in ops(graph)
    convs = [n for n in graph.nodes if n.op in ("conv", "dwconv")]
    on_a_point = [n for n in convs if graph.nodes[n.inputs[0]].shape[1:] == (1, 1)]
    assert len(on_a_point) == 2  # the gate's two 1x1 convs: plain nn.Conv2d (oneDNN's fused kernel is slower there)
    assert all(not {"prepack", "activation", "residual"} & set(n.attrs) for n in on_a_point)
    assert ops(graph).count("hardsigmoid") == 1 and ops(graph).count("silu") == 2  # silu: not fused (not faster)
    fused = [n.attrs.get("activation") for n in convs if n not in on_a_point]
    assert fused == ["hardswish", None, None, ["gelu", [], "tanh"], ["leaky_relu", [0.2], ""], "tanh"]
    assert [n.attrs.get("residual", False) for n in convs if n not in on_a_point] == [False, False, True, False, False, False]
    # the product overwrites the map (its other reader, the pool, has run), never the 1x1 gate
    assert next(n for n in graph.nodes if n.op == "mul").attrs["inplace"] == 0
    fast = netdsl.optimize(model)
    assert fast.netdsl_source.count(".mul_(") == 1
    gate = [m for m in fast.modules() if type(m) is nn.Conv2d]
    assert len(gate) == 2
    x = torch.randn(2, 8, 7, 7)
    assert rel_err(outputs(fast, x)[0], outputs(model, x)[0]) < 1e-5
    double = netdsl.optimize(model.double())
    assert rel_err(outputs(double, x.double())[0], outputs(model, x.double())[0]) < 1e-12


def test_a_product_overwrites_no_input_read_later_and_never_a_gate():
    spec = """
network Gates() {
    input [4, 5, 5]
    x = conv(4, 3)
    g = x -> global_avgpool -> sigmoid
    y = mul(x, g)
    z = mul(y, g)
    w = mul(z, x)
    mul(w, g)
}
"""
    model = random_model(spec)
    graph = mark_inplace(run_passes(model.netdsl_graph, skip=["mark_inplace"]))
    products = [n.attrs.get("inplace") for n in graph.nodes if n.op == "mul"]
    # y into x? no: x is read again by w; z into y (the map); w into z; the last into w; g (1x1) never
    assert products == [None, 0, 0, 0]
    fast = netdsl.optimize(model)
    x = torch.randn(2, 4, 5, 5)
    assert rel_err(outputs(fast, x)[0], outputs(model, x)[0]) < 1e-5
