"""examples/train.py, the training entry point: on generated data a tiny spec (with an
auxiliary head, under bf16 autocast) learns, and a run stopped, saved and resumed
continues bit-exactly where the uninterrupted run went."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from safetensors.torch import load_file
from training import TINY

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train.py"


def example():
    spec = importlib.util.spec_from_file_location("netdsl_train_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loss_falls_and_resume_is_bit_exact(tmp_path):
    train = example()
    spec = tmp_path / "tiny.net"
    spec.write_text(TINY)
    common = [str(spec), *"--epochs 3 --steps-per-epoch 10 --batch 16 --lr 0.1 --amp bf16 --quiet".split()]
    whole = train.main([*common, "--save", str(tmp_path / "whole")])
    losses = whole["losses"]
    assert whole["step"] == 30 and len(losses) == 30
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.5 * first, (first, last)

    stopped = train.main([*common, "--stop-after", "17", "--save", str(tmp_path / "part")])
    assert stopped["losses"] == losses[:17]
    resumed = train.main([*common, "--resume", str(tmp_path / "part"), "--save", str(tmp_path / "resumed")])
    assert resumed["losses"] == losses[17:]  # the same numbers, not close ones
    for name in ("model.safetensors", "optimizer.safetensors"):
        want, got = load_file(tmp_path / "whole" / name), load_file(tmp_path / "resumed" / name)
        assert got.keys() == want.keys()
        assert all(torch.equal(got[k], v) for k, v in want.items()), name
