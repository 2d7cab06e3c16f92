"""netdsl render: golden DOT, paper-figure labels, every spec at every depth, CLI errors,
the docs gallery kept up to date.

Refresh the golden files with `NETDSL_UPDATE_GOLDEN=1 pytest tests/test_render.py`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import netdsl
from netdsl.api import load_spec
from netdsl.cli import main
from netdsl.docs import build_diagrams
from netdsl.render import RenderError

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
sys.path.insert(0, str(ROOT))
from fuzz.specgen import valid_specs  # noqa: E402

V4 = SPECS / "inception_v4.net"
GOLDEN = Path(__file__).parent / "golden" / "render"
UPDATE = os.environ.get("NETDSL_UPDATE_GOLDEN") == "1"
NETWORKS = sorted(p.name for p in SPECS.glob("*.net") if load_spec(p).network is not None)


def _labels(dot: str) -> list[str]:
    """Box labels in drawing order (badge tables reduced to `title xN`)."""
    out = []
    for m in re.finditer(r'^\t+\w+ \[label=(".*?"|<<.*?>>|\w+)', dot, re.M):
        text = m.group(1)
        if text.startswith("<<"):
            text = " ".join(re.sub(r"<[^>]+>", " ", text[1:-1]).split())
        out.append(text.strip('"'))
    return out


def _edge_labels(dot: str) -> list[str]:
    return [m.group(1).strip('"') for m in re.finditer(r"-> \w+ \[label=(\"[^\"]*\"|\w+)", dot)]


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with NETDSL_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} changed; if intended, refresh with NETDSL_UPDATE_GOLDEN=1"


# ---- golden DOT, each paired with what the paper's figure says ------------------------------
def test_overview_golden_reads_like_figure_9():
    dot = netdsl.render(V4).source
    _golden("inception_v4.dot", dot)
    # Figure 9, from input to output (flatten is drawn as part of the pooling before it)
    assert _labels(dot) == ["Input (299x299x3)", "Stem", "Inception-A x4", "Reduction-A", "Inception-B x7",
                            "Reduction-B", "Inception-C x3", "Average Pooling", "Dropout (keep 0.8)", "Linear (1000)"]
    # the grid sizes printed in Figure 9 (HxWxC) and the 1536 features after pooling
    assert _edge_labels(dot) == ["299x299x3", "35x35x384", "35x35x384", "17x17x1024", "17x17x1024",
                                 "8x8x1536", "8x8x1536", "1536", "1536"]


def test_x7_badge_and_shape_labels_in_overview():
    dot = netdsl.render(V4).source
    assert ">x7<" in dot and ">x4<" in dot and ">x3<" in dot
    assert "17x17x1024" in dot and "35x35x384" in dot and "8x8x1536" in dot


def test_reduction_a_symbolic_golden_is_figure_7():
    dot = netdsl.render(V4, block="ReductionA", symbolic=True).source
    _golden("reduction_a_symbolic.dot", dot)
    assert sorted(_labels(dot)) == sorted([
        "Filter concat", "3x3 Conv (n stride 2 V)", "1x1 Conv (k)", "3x3 Conv (l)", "3x3 Conv (m stride 2 V)",
        "3x3 MaxPool (stride 2 V)", "Filter concat"])
    assert "->" in dot and "x192" not in dot  # no concrete shapes by default when symbolic


def test_inception_a_golden_is_figure_4():
    dot = netdsl.render(V4, block="InceptionA").source
    _golden("inception_a.dot", dot)
    assert sorted(_labels(dot)) == sorted([
        "Filter concat", "1x1 Conv (96)", "1x1 Conv (64)", "3x3 Conv (96)", "1x1 Conv (64)", "3x3 Conv (96)",
        "3x3 Conv (96)", "3x3 Avg Pooling", "1x1 Conv (96)", "Filter concat"])
    # four branches leave the input side by side
    assert len(re.findall(r"^\tn0 -> ", dot, re.M)) == 4
    assert re.search(r"\{\n\t\trank=same\n(\t\t\w+\n){4}\t\}", dot)


def test_stem_is_figure_3():
    dot = netdsl.render(V4, block="Stem").source
    labels = _labels(dot)
    assert labels[0] == "Input (299x299x3)" and labels[-1] == "Filter concat"
    assert labels.count("Filter concat") == 3 and "1x7 Conv (64)" in labels and "3x3 Conv (192 stride 2 V)" in labels
    # shapes of Figure 3
    for shape in ("149x149x32", "147x147x32", "147x147x64", "73x73x160", "71x71x192", "35x35x192"):
        assert shape in dot


def test_inception_c_split_branches_join_the_outer_concat():
    """Figure 6: the 1x3/3x1 pairs go straight into the one Filter concat."""
    labels = _labels(netdsl.render(V4, block="InceptionC").source)
    assert labels.count("Filter concat") == 2  # the input and the output
    assert labels.count("1x3 Conv (256)") == 2 and labels.count("3x1 Conv (256)") == 2


# ---- depth, expand, options --------------------------------------------------------------------------
def test_depth_opens_blocks_into_clusters():
    d1 = netdsl.render(V4, depth=1).source
    assert 'label="Inception-B (7 of 7)"' in d1 and "subgraph cluster_" in d1
    assert "BatchNorm" not in d1 and "1x7 Conv (224)" in d1  # ConvBN still drawn as one Conv
    d2 = netdsl.render(V4, depth=2).source
    assert "BatchNorm" in d2 and "Relu activation" in d2
    assert netdsl.render(V4, depth=3).source == netdsl.render(V4, depth=4).source


def test_expand_one_block():
    dot = netdsl.render(V4, expand=["ReductionA"]).source
    assert 'label="Reduction-A"' in dot and "3x3 Conv (384 stride 2 V)" in dot
    assert ">x7<" in dot and "1x7 Conv" not in dot  # the others stay closed


def test_options_change_the_dot():
    assert "rankdir=LR" in netdsl.render(V4, direction="LR").source
    assert "35x35x384" not in netdsl.render(V4, shapes=False).source
    assert "Linear (num_classes)" in netdsl.render(V4, symbolic=True).source
    assert "Linear (10)" in netdsl.render(V4, params={"num_classes": "10"}).source
    assert "Input (331x331x3)" in netdsl.render(V4, params={"resolution": "331"}).source
    assert "1x1 Conv (7)" in netdsl.render(V4, block="ReductionA", params={"k": "7"}).source


def test_same_spec_same_dot_across_processes():
    code = "import netdsl; print(netdsl.render('specs/inception_v4.net', depth=2).source)"
    runs = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout for seed in ("1", "2")}
    assert len(runs) == 1


def test_render_does_not_import_torch():
    code = "import sys, netdsl; netdsl.render('specs/inception_v4.net', block='Stem'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("spec", NETWORKS)
def test_every_spec_renders_at_every_depth(spec):
    for depth in range(4):
        diagram = netdsl.render(SPECS / spec, depth=depth)
        svg = diagram.pipe("svg")
        assert svg.lstrip().startswith(b"<?xml") and b"</svg>" in svg


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs(alternatives=True))
def test_generated_specs_render_at_every_depth_and_their_blocks_alone(spec):
    """Specs drawn from the grammar (if arms, gates and splits, merged values, loops,
    training-only heads) draw at depths 0-2, and each block the network calls draws on
    its own, with numbers and symbolically (200 such specs in a longer run)."""
    network = spec.text[spec.text.index("network "):]
    for depth in range(3):
        assert netdsl.render(spec.text, depth=depth).pipe("svg").rstrip().endswith(b"</svg>")
    for block in re.findall(r"^block (\w+)", spec.text, flags=re.M):
        if f"{block}(" in network:
            for symbolic in (False, True):
                assert b"</svg>" in netdsl.render(spec.text, block=block, symbolic=symbolic).pipe("svg")


def test_jupyter_and_save(tmp_path):
    diagram = netdsl.render(V4, block="ReductionA", symbolic=True)
    assert "<svg" in diagram._repr_svg_()
    for fmt, magic in (("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF"), ("dot", b"digraph")):
        assert diagram.save(tmp_path / f"r.{fmt}").read_bytes().startswith(magic)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.dot", "r.pdf", "r.png", "r.svg"]  # no temp files left


def test_api_errors():
    with pytest.raises(RenderError, match="unknown block 'Reduction_X'; did you mean 'Reduction"):
        netdsl.render(V4, block="Reduction_X")
    with pytest.raises(RenderError, match="depth"):
        netdsl.render(V4, depth=-1)
    with pytest.raises(RenderError, match="--expand Nowhere"):
        netdsl.render(V4, expand="Nowhere")
    with pytest.raises(netdsl.NetdslError):
        netdsl.render("network N() { input [3, 8, 8]\n conv(4, 9, padding=valid) }")


# ---- the command ---------------------------------------------------------------------------------------
def _run(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit:  # argparse rejects the arguments itself
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_each_format(tmp_path, capsys):
    for fmt in ("svg", "png", "pdf", "dot"):
        code, out, _ = _run(capsys, "render", str(V4), "-o", str(tmp_path / f"v4.{fmt}"), "--block", "Reduction_A", "--symbolic")
        assert code == 0 and out.strip() == f"wrote {tmp_path / f'v4.{fmt}'}"
    assert "3x3 Conv (m stride 2 V)" in (tmp_path / "v4.dot").read_text()


@pytest.mark.parametrize("args, message", [
    (["--block", "Nope"], "unknown block 'Nope'"),
    (["--depth", "-1"], "--depth must not be negative"),
    (["--expand", "Nope"], "--expand Nope"),
    (["--set", "nope=1"], "unknown network parameter 'nope'"),
    (["--direction", "UP"], "invalid choice"),
])
def test_cli_bad_requests(tmp_path, capsys, args, message):
    out = tmp_path / "out.svg"
    code, _, err = _run(capsys, "render", str(V4), "-o", str(out), *args)
    assert code in (1, 2) and message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_bad_format_and_unwritable_path(tmp_path, capsys):
    code, _, err = _run(capsys, "render", str(V4), "-o", str(tmp_path / "out.gif"))
    assert code == 2 and "unknown output format '.gif'" in err
    code, _, err = _run(capsys, "render", str(V4), "-o", str(tmp_path / "missing" / "out.svg"))
    assert code == 2 and "cannot write" in err and len(err.strip().splitlines()) == 1
    target = tmp_path / "taken.svg"
    target.mkdir()  # a directory where the file should go
    code, _, err = _run(capsys, "render", str(V4), "-o", str(target))
    assert code == 2 and "cannot write" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.svg"] and list(target.iterdir()) == []


def test_cli_without_graphviz(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no `dot` on the path
    proc = subprocess.run([sys.executable, "-m", "netdsl", "render", str(V4), "-o", str(tmp_path / "v4.png")],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "Graphviz's `dot` program is not installed" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "v4.png").exists()
    proc = subprocess.run([sys.executable, "-m", "netdsl", "render", str(V4), "-o", str(tmp_path / "v4.dot")],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and (tmp_path / "v4.dot").read_text().startswith("digraph InceptionV4")


def test_spec_error_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.net"
    bad.write_text("network N() {\n    input [3, 8, 8]\n    conv(4, 9, padding=valid)\n}\n")
    code, _, err = _run(capsys, "render", str(bad), "-o", str(tmp_path / "bad.svg"))
    assert code == 1 and "bad.net:3" in err and not (tmp_path / "bad.svg").exists()


# ---- the docs gallery is today's ------------------------------------------------------------------------
def _dot_version() -> str | None:
    if shutil.which("dot") is None:
        return None
    return subprocess.run(["dot", "-V"], capture_output=True, text=True).stderr.split("version", 1)[-1].strip()


def test_docs_diagrams_are_up_to_date(tmp_path):
    committed = ROOT / "docs" / "diagrams"
    build_diagrams(SPECS, tmp_path)
    fresh = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.*"))
    kept = sorted(str(p.relative_to(committed)) for p in committed.rglob("*.*") if p.suffix in (".dot", ".svg"))
    assert fresh == kept, "docs/diagrams is stale: run `make docs`"
    version = _dot_version()
    for name in fresh:
        new, old = (tmp_path / name).read_text(), (committed / name).read_text()
        if name.endswith(".dot") or (version and f"graphviz version {version}" in old):
            assert new == old, f"docs/diagrams/{name} is stale: run `make docs`"
    assert "![Reduction-A (inception_v4.net)](blocks/inception_v4.reduction_a.svg)" in (committed / "README.md").read_text()


def test_a_block_the_network_never_makes_is_drawn_as_a_librarys_block():
    """Found by rendering generated specs: a block called only in an `if` arm the network's
    parameters do not take has no first use to take its input from; it is drawn as a
    library's block is (its parameters' stand-ins, no shapes), not refused."""
    spec = ("block Unit(filters: int) {\n    conv(filters, 3, padding=1) -> relu\n}\n\n"
            "network Net(width: int = 8) {\n    input [3, 8, 8]\n"
            "    if width > 100 { Unit(width) } else { conv(width, 1) }\n}\n")
    source = netdsl.render(spec, block="Unit").source
    assert "3x3 Conv (32)" in source and "Relu activation" in source and "Previous layer" in source
    assert "3x3 Conv (200)" in netdsl.render(spec, block="Unit", params={"width": "200"}).source  # made: its use


def test_a_block_drawn_with_parameters_set_recomputes_its_derived_defaults():
    """mobilenet_v2's InvertedResidual has `hidden: int = round(in_channels * t)`: drawn with
    t=6 (its first use has t=1, hidden 32), the expansion is 6 x 32 = 192 wide, not 32."""
    first = netdsl.render(SPECS / "mobilenet_v2.net", block="InvertedResidual").source
    assert "3x3 Conv (32 groups 32)" in first and "1x1 Conv (32)" not in first  # t=1: no expansion
    six = netdsl.render(SPECS / "mobilenet_v2.net", block="InvertedResidual",
                        params={"t": "6", "oup": "24", "stride": "2"}).source
    assert "1x1 Conv (192)" in six and "3x3 Conv (192 groups 192 stride 2)" in six and "1x1 Conv (24)" in six
