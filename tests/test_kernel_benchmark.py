"""benchmarks/kernels.py stays runnable: each of its comparisons runs (at batch 1, one
round) and every variant of a kernel computes what the first one does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_comparison_runs_and_its_variants_agree():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kernels.py"), "--batch", "1", "--rounds", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [ln for ln in done.stdout.splitlines() if ln.startswith("| ") and not ln.startswith("| shape")]
    assert len(rows) == 4 + 9 + 8  # stages, depthwise shapes, swish shapes
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[-1]) <= 1e-5, row  # the largest relative error against the first variant
        assert all(cell.endswith("x") for cell in cells[1:-1]), row  # every variant timed
