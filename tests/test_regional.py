"""Regional compilation (`netdsl.compile_blocks`): the same outputs and gradients as the
eager model, and a block repeated with the same shapes compiles once."""

from __future__ import annotations

import torch
from references import randomize
from torch._dynamo.testing import CompileCounterWithBackend
from training import TINY, batches, loss_of, relative_error

import netdsl

TOLERANCE = 1e-5


def outputs_and_gradients(model, x, y):
    outputs = model(x)
    loss_of(outputs, y).backward()
    return [o.detach() for o in outputs], {n: p.grad for n, p in model.named_parameters()}


def test_blocks_compile_once_and_match_eager():
    torch._dynamo.reset()
    eager = randomize(netdsl.build(TINY))
    compiled = netdsl.build(TINY)
    compiled.load_state_dict(eager.state_dict())
    counter = CompileCounterWithBackend("aot_eager")
    netdsl.compile_blocks(compiled, backend=counter)
    x, y = batches(steps=1)[0]
    want, want_grads = outputs_and_gradients(eager, x, y)
    got, got_grads = outputs_and_gradients(compiled, x, y)
    assert counter.frame_count == 1  # three instances of Unit with the same shapes: one graph
    for a, b in zip(got, want):
        assert relative_error(a, b) <= TOLERANCE
    for name, g in want_grads.items():
        assert relative_error(got_grads[name], g) <= TOLERANCE, name
    assert compiled.state_dict().keys() == eager.state_dict().keys()
