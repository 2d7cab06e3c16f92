"""Whether one variant's call slows the next: `python benchmarks/spinning.py [MODEL]`.

ONNX Runtime's worker threads spin after a call by default, torch's OpenMP threads
briefly too; on a machine with few cores a spinning pool takes the cores from whatever
runs next. This times netdsl's optimized module (batch 8) right after its own call,
after an ORT call (spinning and `session.intra_op.allow_spinning=0`), after an
OpenVINO call and after 0.3 s idle, and the engines after netdsl and after
themselves; netdsl's own ONNX export for both engines, the same input, 9 rounds,
medians. It is why benchmarks/inference.py idles before each timed call. Nothing is
asserted."""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import onnxruntime as ort
import openvino as ov
from references import randomize

import netdsl


def main() -> None:
    torch.manual_seed(0)
    model = sys.argv[1] if len(sys.argv) > 1 else "mobilenet_v1"
    plain = randomize(netdsl.build(ROOT / "specs" / f"{model}.net")).eval()
    fast = netdsl.optimize(plain, "inference")
    x = torch.randn(8, 3, 224, 224)
    tmp = Path(tempfile.mkdtemp())
    netdsl.export_onnx(plain, tmp / "n.onnx")
    threads = torch.get_num_threads()

    def session(spin):
        o = ort.SessionOptions()
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        o.intra_op_num_threads, o.inter_op_num_threads = threads, 1
        if not spin:
            o.add_session_config_entry("session.intra_op.allow_spinning", "0")
        s = ort.InferenceSession(str(tmp / "n.onnx"), o, providers=["CPUExecutionProvider"])
        return lambda: s.run(None, {"input": x.numpy()})

    ort_spin, ort_nospin = session(True), session(False)
    req = (
        ov.Core()
        .compile_model(
            str(tmp / "n.onnx"),
            "CPU",
            {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"},
        )
        .create_infer_request()
    )
    ovrun = lambda: req.infer([x.numpy()])

    def fastrun():
        with torch.inference_mode():
            fast(x)

    for f in (fastrun, ort_spin, ort_nospin, ovrun, fastrun):
        f()
        f()

    def idle():
        time.sleep(0.3)

    # (label, what runs first, what is timed right after it)
    pairs = [
        ("netdsl after netdsl", fastrun, fastrun),
        ("netdsl after ORT (spinning)", ort_spin, fastrun),
        ("netdsl after ORT (no spin)", ort_nospin, fastrun),
        ("netdsl after OpenVINO", ovrun, fastrun),
        ("netdsl after 0.3 s idle", idle, fastrun),
        ("ORT after netdsl", fastrun, ort_spin),
        ("ORT after ORT", ort_spin, ort_spin),
        ("OpenVINO after netdsl", fastrun, ovrun),
        ("OpenVINO after OpenVINO", ovrun, ovrun),
    ]
    res = {label: [] for label, _, _ in pairs}
    for _ in range(9):
        for label, before, timed in pairs:
            before()
            start = time.perf_counter()
            timed()
            res[label].append(time.perf_counter() - start)
    for k, v in res.items():
        print(f"{k:32s} median {statistics.median(v) * 1e3:7.1f} ms  min {min(v) * 1e3:7.1f}  max {max(v) * 1e3:7.1f}")


if __name__ == "__main__":
    main()
