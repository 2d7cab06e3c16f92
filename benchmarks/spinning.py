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

    def t(f):
        a = time.perf_counter()
        f()
        return time.perf_counter() - a

    res = {
        k: []
        for k in (
            "netdsl after netdsl",
            "netdsl after ORT (spinning)",
            "netdsl after ORT (no spin)",
            "netdsl after OpenVINO",
            "netdsl after 0.3 s idle",
            "ORT after netdsl",
            "ORT after ORT",
            "OpenVINO after netdsl",
            "OpenVINO after OpenVINO",
        )
    }
    for _ in range(9):
        fastrun()
        res["netdsl after netdsl"].append(t(fastrun))
        ort_spin()
        res["netdsl after ORT (spinning)"].append(t(fastrun))
        ort_nospin()
        res["netdsl after ORT (no spin)"].append(t(fastrun))
        ovrun()
        res["netdsl after OpenVINO"].append(t(fastrun))
        time.sleep(0.3)
        res["netdsl after 0.3 s idle"].append(t(fastrun))
        fastrun()
        res["ORT after netdsl"].append(t(ort_spin))
        ort_spin()
        res["ORT after ORT"].append(t(ort_spin))
        fastrun()
        res["OpenVINO after netdsl"].append(t(ovrun))
        ovrun()
        res["OpenVINO after OpenVINO"].append(t(ovrun))
    for k, v in res.items():
        print(f"{k:32s} median {statistics.median(v) * 1e3:7.1f} ms  min {min(v) * 1e3:7.1f}  max {max(v) * 1e3:7.1f}")


if __name__ == "__main__":
    main()
