"""Activation checkpointing by block (`netdsl.build(spec, checkpoint=...)`): the same
loss, gradients and batch-norm buffers as without, and the chosen blocks really are
recomputed in the backward pass."""

from __future__ import annotations

import pytest
import torch
from references import randomize
from training import TINY, TINY_BLOCKS, batches, loss_of, relative_error

import netdsl
from netdsl.torch.blocks import block_instances

TOLERANCE = 1e-5


def train_step(checkpoint):
    model = randomize(netdsl.build(TINY, checkpoint=checkpoint))
    calls = {path: 0 for path in TINY_BLOCKS}
    for instance in block_instances(model):  # count the runs of each block's first conv
        conv = next(m for m in instance.module.modules() if isinstance(m, torch.nn.Conv2d))
        conv.register_forward_pre_hook(lambda m, a, path=instance.path: calls.__setitem__(path, calls[path] + 1))
    x, y = batches(steps=1)[0]
    loss = loss_of(model(x), y)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    return loss.detach(), grads, model.state_dict(), calls


@pytest.mark.parametrize(
    "checkpoint, recomputed",
    [
        ("blocks", TINY_BLOCKS),
        (["Unit"], TINY_BLOCKS),
        (lambda instance: instance.path.startswith("unit1."), ["unit1.0", "unit1.1"]),
    ],
)
def test_checkpointed_blocks_give_the_same_gradients_and_buffers(checkpoint, recomputed):
    loss, grads, buffers, calls = train_step(None)
    loss_c, grads_c, buffers_c, calls_c = train_step(checkpoint)
    assert relative_error(loss_c, loss) <= TOLERANCE
    for name, g in grads.items():
        assert relative_error(grads_c[name], g) <= TOLERANCE, name
    for name, b in buffers.items():  # running statistics moved once, the batch counted once
        assert torch.equal(buffers_c[name], b), name
    assert calls == dict.fromkeys(TINY_BLOCKS, 1)
    assert calls_c == {path: 2 if path in recomputed else 1 for path in TINY_BLOCKS}


def test_checkpointing_without_gradients_runs_once():
    model = netdsl.build(TINY, checkpoint="blocks").eval()
    plain = netdsl.build(TINY).eval()
    plain.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), plain(x))


def test_an_unknown_block_name_is_an_error():
    with pytest.raises(ValueError, match="TinyAux has no block Nope"):
        netdsl.build(TINY, checkpoint=["Nope"])
