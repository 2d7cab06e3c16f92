"""specs/inception_v4.net against the paper (Szegedy et al. 2016, Figure 9 and Figures
3-8) and against an independent reference: timm's `inception_v4`, whose parameters are
counted by torch and whose conv + linear MACs are counted by fvcore."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import netdsl
from netdsl.cli import main
from netdsl.ops.merge import describe_shape

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "inception_v4.net"


@pytest.fixture(scope="module")
def graph():
    return netdsl.check(SPEC)


@pytest.fixture(scope="module")
def timm_model():
    import timm

    return timm.create_model("inception_v4", pretrained=False).eval()


def output_of(graph, path: str) -> str:
    """The paper-style shape (`35x35x384`) of the last layer inside the scope `path`."""
    inside = [n for n in graph.nodes if n.name.startswith(path + ".")]
    assert inside, f"no layer under {path!r}"
    return describe_shape(inside[-1].shape)


# ---- the paper's sizes (Figure 9) ----------------------------------------------------------
def test_input_is_299x299x3(graph):
    assert describe_shape(graph.input_shape) == "299x299x3"


def test_stem_gives_35x35x384(graph):
    assert output_of(graph, "stem") == "35x35x384"


@pytest.mark.parametrize("i", range(4))
def test_inception_a_keeps_35x35x384(graph, i):
    assert output_of(graph, f"inception_a.{i}") == "35x35x384"


def test_reduction_a_gives_17x17x1024(graph):
    assert output_of(graph, "reduction_a") == "17x17x1024"


@pytest.mark.parametrize("i", range(7))
def test_inception_b_keeps_17x17x1024(graph, i):
    assert output_of(graph, f"inception_b.{i}") == "17x17x1024"


def test_reduction_b_gives_8x8x1536(graph):
    assert output_of(graph, "reduction_b") == "8x8x1536"


@pytest.mark.parametrize("i", range(3))
def test_inception_c_keeps_8x8x1536(graph, i):
    assert output_of(graph, f"inception_c.{i}") == "8x8x1536"


def test_the_output_is_1000_classes(graph):
    (out,) = graph.outputs
    assert graph.nodes[out.node].shape == (1000,)


def test_reduction_a_uses_table_1_filter_banks(graph):
    frame = next(f for f in graph.frames if f.kind == "block" and f.path == "reduction_a")
    assert frame.args == {"k": 192, "l": 224, "m": 256, "n": 384}


def test_block_counts_match_figure_9(graph):
    repeats = {f.path: f.count for f in graph.frames if f.kind == "repeat"}
    assert repeats == {"inception_a": 4, "inception_b": 7, "inception_c": 3}


# ---- totals against timm + fvcore ---------------------------------------------------------------------
def test_parameter_count(graph, timm_model):
    reference = sum(p.numel() for p in timm_model.parameters())  # BN affine counted, running stats not
    assert reference == 42_679_816
    assert graph.total_params == reference


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_conv_and_linear_macs_match_fvcore(graph, timm_model):
    import torch
    from fvcore.nn import FlopCountAnalysis

    flops = FlopCountAnalysis(timm_model, torch.zeros(1, 3, 299, 299))
    flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_op = flops.by_operator()
    reference = by_op["conv"] + by_op["linear"]  # fvcore counts one multiply-accumulate as one flop
    assert reference == 12_253_974_624
    assert graph.total_macs == reference


def test_per_layer_macs_add_up(graph):
    assert sum(n.macs for n in graph.nodes) == graph.total_macs
    assert {n.op for n in graph.nodes if n.macs} == {"conv", "linear"}


# ---- `netdsl check --json` ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def json_doc():
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["check", str(SPEC), "--json"])
    assert code == 0
    return json.loads(out.getvalue())


def test_json_document_top_level(json_doc):
    assert set(json_doc) == {"network", "input", "outputs", "params", "macs", "nodes", "diagnostics"}
    assert json_doc["network"] == "InceptionV4"
    assert json_doc["input"] == [3, 299, 299]
    assert json_doc["outputs"] == [{"name": "out", "shape": [1000], "train_only": False}]
    assert json_doc["params"] == 42_679_816
    assert json_doc["macs"] == 12_253_974_624
    assert json_doc["diagnostics"] == []


def test_json_nodes(json_doc, graph):
    nodes = json_doc["nodes"]
    assert all(set(n) == {"name", "op", "shape", "params", "macs", "span"} for n in nodes)
    assert [n["name"] for n in nodes] == [n.name for n in graph.nodes]
    assert sum(n["params"] for n in nodes) == json_doc["params"]
    assert sum(n["macs"] for n in nodes) == json_doc["macs"]
    assert len({n["name"] for n in nodes}) == len(nodes), "layer names are unique"
    first_conv = next(n for n in nodes if n["op"] == "conv")
    assert first_conv["name"] == "stem.conv_bn1.conv"
    assert first_conv["shape"] == [32, 149, 149]
    file, line, col = first_conv["span"].rsplit(":", 2)
    assert Path(file).name == "common.net" and int(line) > 0 and int(col) > 0
    last = nodes[-1]
    assert (last["op"], last["shape"], last["params"], last["macs"]) == ("linear", [1000], 1536 * 1000 + 1000, 1536 * 1000)
