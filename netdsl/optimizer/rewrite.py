"""The machinery the passes share: consumers of a node, renumbering a rewritten node
list into a new Graph (ids == positions again), provenance of a node's tensors.

A pass works with node ids as keys: it returns the new nodes in topological order
(kept nodes keep their old id, new nodes take ids past the old ones) and `alias`, which
says which node stands in for each removed one. :func:`rebuild` turns that into a Graph.

Provenance (`node.attrs["origin"]`) says how a node's tensors are made from the state
of the model the graph was built for; a node without one is copied from its own name:
`{"kind": "copy", "from": "a.conv"}`, `{"kind": "fold_bn", "conv": <origin>, "bn": "a.bn",
"eps": 0.001}`, `{"kind": "concat_filters", "parts": [<origin>, ...]}`,
`{"kind": "scale", "of": <origin>, "factor": 0.17}`, `{"kind": "scale_channels", "of": <origin>,
"by": "a.layer_scale"}` (output channels times a layer scale's factors)."""

from __future__ import annotations

from ..ir.graph import Graph, Node
from ..ops.base import op_of

__all__ = ["is_view", "consumers", "drop_dead", "origin_of", "rebuild", "with_attrs"]


def is_view(node: Node) -> bool:
    """Whether the node's output may share storage with its input (in eval): an in-place
    write to its output writes to its input too (the op's `view` trait)."""
    return op_of(node.op).view


def consumers(graph: Graph) -> dict[int, list[int]]:
    """Node id -> ids of the nodes that read it (graph outputs not included)."""
    out: dict[int, list[int]] = {n.id: [] for n in graph.nodes}
    for n in graph.nodes:
        for i in n.inputs:
            out[i].append(n.id)
    return out


def origin_of(node: Node) -> dict:
    return node.attrs.get("origin") or {"kind": "copy", "from": node.name}


def with_attrs(node: Node, **changes) -> Node:
    """A copy of `node` with attributes changed (the original is not touched)."""
    return node.model_copy(update={"attrs": {**node.attrs, **changes}})


def _resolve(key: int, alias: dict[int, int]) -> int:
    while key in alias:
        key = alias[key]
    return key


def rebuild(graph: Graph, nodes: list[Node], alias: dict[int, int] | None = None) -> Graph:
    """A new Graph of `nodes` (in order), inputs and outputs redirected through `alias`
    and renumbered so that every id is its position again."""
    alias = alias or {}
    new_id = {n.id: k for k, n in enumerate(nodes)}
    renumbered = [n.model_copy(update={"id": k, "inputs": [new_id[_resolve(i, alias)] for i in n.inputs]})
                  for k, n in enumerate(nodes)]
    outputs = [o.model_copy(update={"node": new_id[_resolve(o.node, alias)]}) for o in graph.outputs]
    return graph.model_copy(update={"nodes": renumbered, "outputs": outputs})


def drop_dead(graph: Graph) -> Graph:
    """Without the nodes no output depends on."""
    live = {o.node for o in graph.outputs}
    for n in reversed(graph.nodes):
        if n.id in live:
            live.update(n.inputs)
    return rebuild(graph, [n for n in graph.nodes if n.id in live])
