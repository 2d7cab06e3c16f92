"""The model zoo, checked statically (front end only, no torch).

Every spec with a PyTorch reference must have exactly the reference's parameter count
(the numbers of issue 4's table, taken from torchvision's weight metadata, timm,
facenet-pytorch and pretrainedmodels); every paper-only spec must produce the layer
sizes of its paper's table or figure. Expected values come from those sources or are
derived here by hand from the papers' layer descriptions, never from netdsl itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import netdsl

SPECS = Path(__file__).resolve().parent.parent / "specs"

# (spec, network parameters, reference parameter count)
REFERENCE_PARAMS = [
    ("alexnet", {}, 61_100_840),               # torchvision alexnet
    ("vgg16", {}, 138_357_544),                # torchvision vgg16
    ("vgg19", {}, 143_667_240),                # torchvision vgg19
    ("vgg16", {"batch_norm": "true"}, 138_365_992),   # torchvision vgg16_bn
    ("googlenet", {}, 13_004_888),             # torchvision googlenet, both aux heads
    ("googlenet", {"aux": "false"}, 6_624_904),
    ("bn_inception", {}, 11_295_240),          # pretrainedmodels bninception
    ("inception_v3", {}, 27_161_264),          # torchvision inception_v3 with AuxLogits
    ("inception_v3", {"aux": "false"}, 23_834_568),
    ("inception_v4", {}, 42_679_816),          # timm inception_v4
    ("inception_resnet_v1", {}, 23_482_624),   # facenet-pytorch, classify=False
    ("inception_resnet_v2", {}, 55_843_464),   # timm inception_resnet_v2
    ("resnet18", {}, 11_689_512),              # torchvision resnet*
    ("resnet34", {}, 21_797_672),
    ("resnet50", {}, 25_557_032),
    ("resnet101", {}, 44_549_160),
    ("resnet152", {}, 60_192_808),
    ("xception", {}, 22_855_952),              # timm legacy_xception
    ("mobilenet_v1", {}, 4_231_976),           # timm mobilenetv1_100
    # issue 13 (zoob): torchvision's weight metadata; the family's other sizes by --set
    ("mobilenet_v3_large", {}, 5_483_032),     # torchvision mobilenet_v3_large
    ("mobilenet_v3_small", {}, 2_542_856),     # torchvision mobilenet_v3_small
    ("efficientnet_b0", {}, 5_288_548),        # torchvision efficientnet_b0 .. b7
    ("efficientnet_b0", {"width_mult": "1.0", "depth_mult": "1.1"}, 7_794_184),
    ("efficientnet_b0", {"width_mult": "1.1", "depth_mult": "1.2"}, 9_109_994),
    ("efficientnet_b0", {"width_mult": "1.2", "depth_mult": "1.4"}, 12_233_232),
    ("efficientnet_b0", {"width_mult": "1.4", "depth_mult": "1.8"}, 19_341_616),
    ("efficientnet_b0", {"width_mult": "1.6", "depth_mult": "2.2"}, 30_389_784),
    ("efficientnet_b0", {"width_mult": "1.8", "depth_mult": "2.6"}, 43_040_704),
    ("efficientnet_b0", {"width_mult": "2.0", "depth_mult": "3.1"}, 66_347_960),
    # issue 13 (zooa): torchvision / timm, built with random weights
    ("resnext50_32x4d", {}, 25_028_904),       # torchvision resnext50_32x4d
    ("wide_resnet50_2", {}, 68_883_240),       # torchvision wide_resnet50_2
]


def check(spec: str, params: dict | None = None) -> netdsl.Graph:
    return netdsl.check(SPECS / f"{spec}.net", params)


def total_params(graph) -> int:
    return sum(n.params for n in graph.nodes)


def node(graph, name: str):
    matches = [n for n in graph.nodes if n.name == name]
    assert matches, f"no layer named {name!r}"
    return matches[0]


def output_of(graph, prefix: str):
    """The last layer of a named layer or block instance."""
    inside = [n for n in graph.nodes if n.name == prefix or n.name.startswith(prefix + ".")]
    assert inside, f"no layer under {prefix!r}"
    return inside[-1]


def under(graph, prefix: str) -> list:
    return [n for n in graph.nodes if n.name == prefix or n.name.startswith(prefix + ".")]


def hwc(shape) -> tuple:
    c, h, w = shape
    return (h, w, c)


@pytest.mark.parametrize("spec, params, expected", REFERENCE_PARAMS,
                         ids=[f"{s}{'-' + '-'.join(f'{k}={v}' for k, v in p.items()) if p else ''}" for s, p, _ in REFERENCE_PARAMS])
def test_parameter_count_equals_reference(spec, params, expected):
    assert total_params(check(spec, params)) == expected


def test_every_network_spec_is_covered():
    networks = {p.stem for p in SPECS.glob("*.net") if "\nnetwork " in "\n" + p.read_text()}
    covered = {s for s, _, _ in REFERENCE_PARAMS} | {"alexnet_2012", "zfnet", "googlenet_2014"}
    assert networks <= covered


# ---- AlexNet 2012 (Krizhevsky et al., Section 3.5 and Figure 2) ------------------------------

def _conv(c_in, c_out, k, groups=1):
    return c_out * (c_in // groups) * k * k + c_out


ALEXNET_2012_LAYERS = [
    # name, output H x W x C, parameters (two towers: groups=2 on conv2/4/5)
    ("conv1", (55, 55, 96), _conv(3, 96, 11)),
    ("conv2", (27, 27, 256), _conv(96, 256, 5, groups=2)),
    ("conv3", (13, 13, 384), _conv(256, 384, 3)),
    ("conv4", (13, 13, 384), _conv(384, 384, 3, groups=2)),
    ("conv5", (13, 13, 256), _conv(384, 256, 3, groups=2)),
    ("fc6", None, 6 * 6 * 256 * 4096 + 4096),
    ("fc7", None, 4096 * 4096 + 4096),
    ("fc8", None, 4096 * 1000 + 1000),
]


@pytest.mark.parametrize("name, size, params", ALEXNET_2012_LAYERS, ids=[r[0] for r in ALEXNET_2012_LAYERS])
def test_alexnet_2012_layers(name, size, params):
    layer = node(check("alexnet_2012"), name)
    if size:
        assert hwc(layer.shape) == size
    assert layer.params == params


def test_alexnet_2012_has_sixty_million_parameters():
    # "The neural network has 60 million parameters" (Section 1).
    assert 60_000_000 <= total_params(check("alexnet_2012")) < 61_000_000


# ---- ZF-Net (Zeiler & Fergus, Figure 3) -----------------------------------------------------

ZFNET_SIZES = [
    ("conv1", (110, 110, 96)), ("maxpool1", (55, 55, 96)),
    ("conv2", (26, 26, 256)), ("maxpool2", (13, 13, 256)),
    ("conv3", (13, 13, 384)), ("conv4", (13, 13, 384)), ("conv5", (13, 13, 256)),
    ("maxpool3", (6, 6, 256)),
]


@pytest.mark.parametrize("name, size", ZFNET_SIZES, ids=[r[0] for r in ZFNET_SIZES])
def test_zfnet_figure3_sizes(name, size):
    assert hwc(node(check("zfnet"), name).shape) == size


def test_zfnet_head():
    g = check("zfnet")
    assert node(g, "fc6").shape == (4096,) and node(g, "fc7").shape == (4096,) and node(g, "fc8").shape == (1000,)


# ---- GoogLeNet 2014 (Szegedy et al., Table 1) ------------------------------------------------

# Table 1: row, output size, (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj), ops (M)
GOOGLENET_TABLE1 = [
    ("conv1", (112, 112, 64), None, None),          # ops 34M in the table: see below
    ("pool1", (56, 56, 64), None, None),
    ("conv2", (56, 56, 192), None, 360),            # the row holds conv2_reduce and conv2
    ("pool2", (28, 28, 192), None, None),
    ("inception3a", (28, 28, 256), (64, 96, 128, 16, 32, 32), 128),
    ("inception3b", (28, 28, 480), (128, 128, 192, 32, 96, 64), 304),
    ("pool3", (14, 14, 480), None, None),
    ("inception4a", (14, 14, 512), (192, 96, 208, 16, 48, 64), 73),
    ("inception4b", (14, 14, 512), (160, 112, 224, 24, 64, 64), 88),
    ("inception4c", (14, 14, 512), (128, 128, 256, 24, 64, 64), 100),
    ("inception4d", (14, 14, 528), (112, 144, 288, 32, 64, 64), 119),
    ("inception4e", (14, 14, 832), (256, 160, 320, 32, 128, 128), 170),
    ("pool4", (7, 7, 832), None, None),
    ("inception5a", (7, 7, 832), (256, 160, 320, 32, 128, 128), None),  # ops 54M: see below
    ("inception5b", (7, 7, 1024), (384, 192, 384, 48, 128, 128), 71),
    ("pool5", (1, 1, 1024), None, None),
    ("fc", None, None, 1),
]
# The table's ops column counts multiply-adds of the convolutions (no biases) and agrees
# with the layer widths to the rounding, except two rows that do not follow from the
# table's own numbers: conv1 (34M; 7x7x3x64 weights at 112x112 are 118M) and
# inception (5a) (54M; its widths at 7x7 give 51M). Its params column is looser still
# (e.g. 159K for 3a, whose widths give 164K), so the parameter test below derives the
# counts from the widths instead.


def _rows():
    return list(GOOGLENET_TABLE1)


def _prefixes(row):
    return ["conv2_reduce", "conv2"] if row == "conv2" else [row]


@pytest.mark.parametrize("row, size, widths, ops", _rows(), ids=[r[0] for r in _rows()])
def test_googlenet_2014_table1_output_sizes(row, size, widths, ops):
    g = check("googlenet_2014")
    out = output_of(g, row)
    if size is None:
        assert out.shape == (1000,)
    else:
        assert hwc(out.shape) == size


@pytest.mark.parametrize("row, size, widths, ops", [r for r in _rows() if r[3] is not None],
                         ids=[r[0] for r in _rows() if r[3] is not None])
def test_googlenet_2014_table1_ops(row, size, widths, ops):
    g = check("googlenet_2014")
    macs = sum(n.macs for p in _prefixes(row) for n in under(g, p))
    assert abs(macs / 1e6 - ops) < 1.0


@pytest.mark.parametrize("row, size, widths, ops", [r for r in _rows() if r[2] is not None],
                         ids=[r[0] for r in _rows() if r[2] is not None])
def test_googlenet_2014_inception_params(row, size, widths, ops):
    g = check("googlenet_2014")
    c_in = output_of(g, _previous(row)).shape[0]
    c1, r3, c3, r5, c5, pp = widths
    weights = c_in * c1 + c_in * r3 + r3 * c3 * 9 + c_in * r5 + r5 * c5 * 25 + c_in * pp
    biases = c1 + r3 + c3 + r5 + c5 + pp
    assert sum(n.params for n in under(g, row)) == weights + biases


def _previous(row: str) -> str:
    names = [r[0] for r in GOOGLENET_TABLE1]
    return names[names.index(row) - 1]


def test_googlenet_2014_aux_classifiers():
    # Section 5: 5x5/3 average pool -> 4x4x512 (4a) and 4x4x528 (4d); 1x1 conv 128;
    # FC 1024; dropout 70%; linear classifier. Both are training-only outputs.
    g = check("googlenet_2014")
    assert hwc(node(g, "aux1.avgpool").shape) == (4, 4, 512)
    assert hwc(node(g, "aux2.avgpool").shape) == (4, 4, 528)
    assert node(g, "aux1.fc1").params == 128 * 4 * 4 * 1024 + 1024
    assert [(o.name, o.train_only) for o in g.outputs] == [("logits", False), ("aux1", True), ("aux2", True)]


def test_googlenet_aux_heads_are_training_outputs():
    g = check("googlenet")
    assert [(o.name, o.train_only) for o in g.outputs] == [("logits", False), ("aux1", True), ("aux2", True)]
    assert [o.name for o in check("googlenet", {"aux": "false"}).outputs] == ["logits"]


def test_googlenet_paper_5x5_branch_parameter():
    # With b3_kernel=5 the third branch holds the paper's 5x5 convs: each module gains
    # (25 - 9) * #5x5reduce * #5x5 weights over torchvision's 3x3.
    extra = sum(16 * r5 * c5 for _, _, w, _ in GOOGLENET_TABLE1 if w for r5, c5 in [(w[3], w[4])])
    assert total_params(check("googlenet", {"b3_kernel": "5"})) - 13_004_888 == extra


# ---- the Inception-v4 family: sizes of the papers' figures ----------------------------------

def test_inception_resnet_v1_figure15_sizes_at_299():
    g = check("inception_resnet_v1", {"resolution": "299"})
    assert hwc(output_of(g, "stem").shape) == (35, 35, 256)
    assert hwc(output_of(g, "mixed_6a").shape) == (17, 17, 896)
    assert hwc(output_of(g, "mixed_7a").shape) == (8, 8, 1792)


def test_reduction_a_takes_table1_filter_banks():
    # Table 1 of the Inception-v4 paper: k, l, m, n per network.
    table1 = {"inception_v4": (192, 224, 256, 384), "inception_resnet_v1": (192, 192, 256, 384),
              "inception_resnet_v2": (256, 256, 384, 384)}
    for spec, (k, l, m, n) in table1.items():  # noqa: E741 - the paper's k, l, m, n
        g = check(spec)
        frames = [f for f in g.frames if f.block == "ReductionA"]
        assert len(frames) == 1 and frames[0].args == {"k": k, "l": l, "m": m, "n": n}


def test_inception_v3_sizes():
    g = check("inception_v3")
    assert hwc(output_of(g, "maxpool2").shape) == (35, 35, 192)
    assert hwc(output_of(g, "Mixed_5d").shape) == (35, 35, 288)
    assert hwc(output_of(g, "Mixed_6e").shape) == (17, 17, 768)
    assert hwc(output_of(g, "Mixed_7c").shape) == (8, 8, 2048)
    assert [(o.name, o.train_only) for o in g.outputs] == [("logits", False), ("aux_logits", True)]


# ---- ResNet (He et al., Table 1) --------------------------------------------------------------

@pytest.mark.parametrize("depth, width", [(18, 1), (34, 1), (50, 4), (101, 4), (152, 4)])
def test_resnet_stage_sizes(depth, width):
    g = check(f"resnet{depth}")
    for stage, (size, planes) in enumerate([(56, 64), (28, 128), (14, 256), (7, 512)], start=1):
        assert hwc(output_of(g, f"layer{stage}").shape) == (size, size, planes * width)


def test_resnet50_paper_stride_placement_keeps_parameters():
    # v1 (stride on the first 1x1) and v1.5 (on the 3x3) differ in compute, not weights.
    v15, v1 = check("resnet50"), check("resnet50", {"stride_on_3x3": "false"})
    assert total_params(v1) == total_params(v15)
    assert sum(n.macs for n in v1.nodes) < sum(n.macs for n in v15.nodes)


# ---- MobileNet v1 (Howard et al., Tables 6 and 7) --------------------------------------------

# (alpha, resolution, million mult-adds, million parameters), as the paper prints them
MOBILENET_TABLES = [
    (1.0, 224, 569, 4.2), (0.75, 224, 325, 2.6), (0.5, 224, 149, 1.3), (0.25, 224, 41, 0.5),
    (1.0, 192, 418, 4.2), (1.0, 160, 290, 4.2), (1.0, 128, 186, 4.2),
]


@pytest.mark.parametrize("alpha, resolution, macs, params", MOBILENET_TABLES)
def test_mobilenet_width_and_resolution_multipliers(alpha, resolution, macs, params):
    g = check("mobilenet_v1", {"alpha": str(alpha), "resolution": str(resolution)})
    assert abs(sum(n.macs for n in g.nodes) / 1e6 - macs) < 1  # the paper rounds some rows down, some up
    assert round(total_params(g) / 1e6, 1) == params
