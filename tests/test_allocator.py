"""netdsl.tune_allocator: glibc keeps freed feature maps, so a call no longer faults its
pages in again. Each check runs in its own process (the settings are process-wide)."""

import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                           reason="tune_allocator tunes glibc only")

PROBE = """
import json, resource, sys, torch, netdsl
torch.set_num_threads(1)
settings = [netdsl.tune_allocator(), netdsl.tune_allocator()] if sys.argv[1] == "tuned" else []
model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                            torch.nn.Conv2d(16, 16, 3, padding=1)).eval()
x = torch.randn(4, 3, 128, 128)
with torch.inference_mode():
    for _ in range(3):
        model(x)
    windows = []  # the median of five runs of 10 calls: a one-off (8 MiB faulted once in one
    for _ in range(5):  # run of 20) and glibc's own moving mmap threshold are not the rule
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(10):
            model(x)
        windows.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
    faults = sorted(windows)[2]
print(json.dumps({"settings": settings, "faults": faults}))
"""


def probe(mode: str) -> dict:
    import json

    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    return json.loads(out.stdout.splitlines()[-1])


@glibc
def test_sets_the_values_and_a_second_call_is_harmless():
    first, second = probe("tuned")["settings"]
    assert first == second == {"M_MMAP_THRESHOLD": 32 * 2**20, "M_TRIM_THRESHOLD": 2**31 - 1, "M_MMAP_MAX": 0}


@glibc
def test_page_faults_per_call_drop():
    untuned, tuned = probe("default")["faults"], probe("tuned")["faults"]
    assert untuned > 1000  # 4x16x128x128 float maps: a fresh mmap'd 4 MiB block per conv output
    assert tuned < untuned / 20


def test_no_op_off_glibc(monkeypatch):
    from netdsl.torch import allocator

    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert allocator.tune_allocator() == {}
