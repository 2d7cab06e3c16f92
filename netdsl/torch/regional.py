"""Regional compilation: `torch.compile` on each block instance instead of the whole
network, PyTorch's recipe for repeated regions. Dynamo caches what it compiles by code
object and treats a module's parameters as inputs, so the instances of one block class
with the same shapes share one compiled graph: a block repeated N times compiles once
(once more per distinct shape or argument value, e.g. a first block that projects its
shortcut), and what lies between blocks stays eager."""

from __future__ import annotations

import torch

from .blocks import Selection, block_instances

__all__ = ["compile_blocks"]


def compile_blocks(model: torch.nn.Module, blocks: Selection = "blocks", **options) -> torch.nn.Module:
    """`module.compile(**options)` (torch.compile's arguments: backend, mode, dynamic, ...)
    for each chosen block instance (netdsl/torch/blocks.py); in place, state_dict keys
    unchanged; returns the model."""
    for instance in block_instances(model, blocks):
        instance.module.compile(**options)
    return model
