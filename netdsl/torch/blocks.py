"""A built network's block instances: the units that sharding (netdsl/torch/distributed.py),
activation checkpointing (checkpoint.py) and regional compilation (regional.py) act on.

The spec already knows them: every block instance is a `block` frame of the graph that
`netdsl.build` attaches to the model (`model.netdsl_graph`), and a frame's dotted path is
the name of its submodule (the layer-naming rules make a node's name its state_dict
prefix). So the generated code needs nothing extra, and a module converted in place
(`SyncBatchNorm.convert_sync_batchnorm`) keeps its graph."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from ..ir import Graph

__all__ = ["BlockInstance", "Selection", "block_instances"]

# "blocks": every outermost block instance; a block name or a collection of names: the
# instances of those blocks; a predicate over BlockInstance. Nested choices keep the
# outermost one, so a block is never wrapped inside another wrapped block.
Selection = str | Iterable[str] | Callable[["BlockInstance"], bool]


@dataclass(frozen=True)
class BlockInstance:
    path: str  # the submodule's dotted name, e.g. "layer3.4"
    block: str  # the block's name in the spec, e.g. "Bottleneck"
    module: torch.nn.Module


def block_instances(model: torch.nn.Module, select: Selection = "blocks") -> list[BlockInstance]:
    """The chosen block instances of a model built by netdsl, in graph order, none
    inside another chosen one."""
    graph = _graph(model)
    chosen = _predicate(select, graph)
    out: list[BlockInstance] = []
    taken: set[int] = set()
    for frame in graph.frames:  # parents come before their children
        if frame.parent in taken:
            taken.add(frame.id)
            continue
        if frame.kind != "block":
            continue
        instance = BlockInstance(frame.path, frame.block or "", model.get_submodule(frame.path))
        if chosen(instance):
            out.append(instance)
            taken.add(frame.id)
    return out


def _graph(model: torch.nn.Module) -> Graph:
    graph = getattr(model, "netdsl_graph", None)
    if graph is None:
        raise TypeError(
            f"{type(model).__name__} has no netdsl_graph: block instances are known for models built "
            "by netdsl.build (unwrap DistributedDataParallel with .module)"
        )
    return graph


def _predicate(select: Selection, graph: Graph) -> Callable[[BlockInstance], bool]:
    if callable(select):
        return select
    if select == "blocks":
        return lambda instance: True
    names = {select} if isinstance(select, str) else set(select)
    unknown = names - {f.block for f in graph.frames if f.kind == "block"}
    if unknown:
        raise ValueError(f"{graph.name} has no block {', '.join(sorted(unknown))}")
    return lambda instance: instance.block in names
