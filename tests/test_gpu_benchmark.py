"""benchmarks/gpu.py stays runnable where no GPU is: it says so and exits 0, and its
whole path (build, port, optimize, correctness in float32 and bf16, interleaved timing)
runs on the CPU with `--device cpu` on a small input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the script measures instead")
def test_says_no_gpu_and_exits_cleanly():
    done = run("--models", "resnet50")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("no GPU")


def test_runs_its_whole_path_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.md"
    done = run("--device", "cpu", "--models", "resnet50", "--batches", "1", "2", "--resolution", "48",
               "--rounds", "1", "--no-compile", "-o", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    text = out.read_text()
    assert "float32: relative error" in text and "bfloat16: relative error" in text
    assert "FAIL" not in text
    rows = [ln for ln in text.splitlines() if ln.startswith("| 1 |") or ln.startswith("| 2 |")]
    assert len(rows) == 3  # batch 1 float32; batch 2 float32 and bf16
    for row in rows:  # every variant measured, compile left out as asked
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(float(c.replace(",", "")) > 0 for c in cells[2:6]) and cells[6] == "-"
