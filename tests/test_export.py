"""`netdsl export --onnx` / `netdsl.export_onnx`: the optimized graph as ONNX, run by
ONNX Runtime and OpenVINO with the built model's outputs, smaller than a trace of the
model as written, its nodes named after the spec's layers."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from references import randomize

import netdsl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fuzz.specgen import valid_specs  # noqa: E402

SPEC = """
block Unit(c: int) {
    conv(c, 3, padding=1, bias=false) -> batchnorm -> relu
}

network Towers(num_classes: int = 10) {
    input [3, 32, 32]
    stem: Unit(16)
    mixed: concat {
        | conv(8, 1, bias=false) -> batchnorm -> relu
        | conv(8, 1, bias=false) -> batchnorm -> relu -> conv(12, 3, padding=1)
        | conv(4, 1, bias=false) -> batchnorm -> relu -> conv(6, 3, padding=1)
    }
    residual { Unit(26) -> conv(26, 3, padding=1) }
    relu
    global_avgpool -> flatten
    fc: linear(num_classes)
}
"""


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = randomize(netdsl.build(SPEC)).eval()
    path = tmp_path_factory.mktemp("onnx") / "towers.onnx"
    proto = netdsl.export_onnx(model, path)
    return model, path, proto


def test_onnx_runtime_gives_the_models_outputs_at_any_batch(exported):
    model, path, _ = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"] and [o.name for o in session.get_outputs()] == ["out"]  # the network's one unnamed output
    for batch in (1, 5):
        x = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            want = model(x).numpy()
        assert rel_err(session.run(None, {"input": x.numpy()})[0], want) <= 1e-5


def test_openvino_gives_the_models_outputs(exported):
    ov = pytest.importorskip("openvino")  # in the test extra; the import is the only thing allowed to fail
    model, path, _ = exported
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        want = model(x).numpy()
    assert rel_err(compiled([x.numpy()])[0], want) <= 1e-5


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(valid_specs(alternatives=True))
def test_generated_specs_export_to_what_the_model_computes(tmp_path, spec):
    """Specs drawn from the grammar (branches, residuals, gates and splits, repeats, if
    arms, merged values, training-only heads): ONNX Runtime on the export gives the
    model's eval output at two batch sizes (250 such specs in a longer run, all equal)."""
    model = randomize(netdsl.build(spec.text)).eval()
    path = tmp_path / "generated.onnx"
    netdsl.export_onnx(model, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = torch.randn(batch, *model.netdsl_graph.input_shape, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            want = model(x)
        want = (want[0] if isinstance(want, (tuple, list)) else want).numpy()
        got = session.run(None, {"input": x.numpy()})[0]
        assert got.shape == want.shape
        assert np.linalg.norm(got - want) <= 1e-4 * np.linalg.norm(want) + 1e-6


def test_the_graph_is_the_optimized_one_with_the_specs_names(exported, tmp_path):
    model, _, proto = exported
    ops = Counter(n.op_type for n in proto.graph.node)
    # a trace of the model as written: 8 convs (onnxscript's optimizer folds the batch norms itself)
    torch.onnx.export(model, (torch.randn(1, 3, 32, 32),), tmp_path / "plain.onnx", dynamo=True, verbose=False)
    plain = Counter(n.op_type for n in onnx.load(tmp_path / "plain.onnx").graph.node)
    assert plain["Conv"] == 8
    assert "BatchNormalization" not in ops  # folded into the convs
    assert ops["Conv"] == 6  # the three 1x1 convs reading the stem run as one
    names = [n.name for n in proto.graph.node]
    assert "stem.conv/Conv" in names and "fc/Gemm" in names
    assert any(n.startswith("mixed.") and n.endswith("/Conv") for n in names)
    assert len(set(names)) == len(names)


def test_cli_exports_with_the_weights_netdsl_port_wrote(tmp_path):
    from safetensors.torch import save_file

    spec = tmp_path / "towers.net"
    spec.write_text(SPEC)
    torch.manual_seed(3)
    model = randomize(netdsl.build(spec)).eval()
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, weights)
    out = tmp_path / "towers.onnx"
    done = subprocess.run([sys.executable, "-m", "netdsl", "export", str(spec), "--onnx", str(out), "--weights",
                           str(weights), "--set", "num_classes=10"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out}")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = model(x).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    assert rel_err(got, want) <= 1e-5


def test_cli_weights_that_do_not_fit_are_one_line_not_a_traceback(tmp_path):
    from safetensors.torch import save_file

    spec = tmp_path / "towers.net"
    spec.write_text(SPEC)
    bad = tmp_path / "bad.safetensors"
    save_file({"nothing.weight": torch.zeros(3)}, bad)
    done = subprocess.run([sys.executable, "-m", "netdsl", "export", str(spec), "--onnx", str(tmp_path / "o.onnx"),
                           "--weights", str(bad)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "does not fit" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o.onnx").exists()
