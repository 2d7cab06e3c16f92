"""Activation checkpointing by block: a chosen block instance keeps only its input for
the backward pass and runs its forward again there (`torch.utils.checkpoint`,
non-reentrant), trading one more forward of the block for its activations.

Running a block twice in training mode would move batch-norm running statistics twice
(and count the batch twice); during the recomputation every module that tracks running
statistics runs with momentum 0 (see _frozen_statistics), so buffers end as without
checkpointing. Dropout draws the same masks (the RNG state is restored)."""

from __future__ import annotations

import contextlib
import functools

import torch
from torch.utils.checkpoint import checkpoint

from .blocks import Selection, block_instances

__all__ = ["checkpoint_blocks"]


def checkpoint_blocks(model: torch.nn.Module, blocks: Selection = "blocks") -> torch.nn.Module:
    """Recompute each chosen block instance (netdsl/torch/blocks.py) in the backward
    pass; in place (state_dict keys unchanged), returns the model."""
    for instance in block_instances(model, blocks):
        module = instance.module
        if getattr(module.forward, "func", None) is _checkpointed:
            continue  # already checkpointed
        module.forward = functools.partial(_checkpointed, module.forward, module)
    return model


def _checkpointed(forward, module, *args, **kwargs):
    if not torch.is_grad_enabled():
        return forward(*args, **kwargs)
    contexts = lambda: (contextlib.nullcontext(), _frozen_statistics(module))
    return checkpoint(forward, *args, use_reentrant=False, context_fn=contexts, **kwargs)


@contextlib.contextmanager
def _frozen_statistics(module: torch.nn.Module):
    """Running statistics left as they are: momentum 0 keeps the running mean and variance
    exactly (the kernel still computes the same batch statistics and saves the same
    tensors for backward, which non-reentrant checkpointing checks), and the batch
    counter is put back."""
    tracking = [m for m in module.modules() if getattr(m, "track_running_stats", False) and m.training]
    saved = [(m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone()) for m in tracking]
    for m in tracking:
        m.momentum = 0.0
    try:
        yield
    finally:
        with torch.no_grad():
            for m, (momentum, count) in zip(tracking, saved):
                m.momentum = momentum
                if count is not None:
                    m.num_batches_tracked.copy_(count)
