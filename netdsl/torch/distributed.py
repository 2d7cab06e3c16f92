"""Sharding a built network by block with FSDP2 (`torch.distributed.fsdp.fully_shard`).

As torchtitan shards a transformer - each block its own unit, then the root for what
is left (stem, heads) - `shard` makes every chosen block instance of the spec an FSDP
unit: its parameters are gathered just before it runs and freed after, so the peak
holds one block's full weights, not the network's."""

from __future__ import annotations

import torch

from .blocks import Selection, block_instances

__all__ = ["shard"]


def shard(model: torch.nn.Module, mesh=None, *, blocks: Selection = "blocks", **options) -> torch.nn.Module:
    """Apply `fully_shard(module, mesh=mesh, **options)` to each chosen block instance
    (by default every outermost one, see netdsl/torch/blocks.py), then to the root; the
    model is changed in place and returned. `mesh` is a DeviceMesh (None: one over every
    process of the default group, as fully_shard does); the process group must be
    initialised first."""
    from torch.distributed.fsdp import fully_shard

    for instance in block_instances(model, blocks):
        fully_shard(instance.module, mesh=mesh, **options)
    fully_shard(model, mesh=mesh, **options)
    return model
