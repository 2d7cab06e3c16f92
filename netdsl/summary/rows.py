"""A network's cost, row by row: each layer or block at a chosen depth of the scope tree.

Depth 0 gives one row per top-level block instance, repeat group and top-level op;
a repeat collapses into one row (`4 x InceptionA`). Each deeper level opens one more
frame: depth 1 lists the iterations of a repeat and the blocks, branches and ops
directly inside a top-level block, and so on until every row is a single op.

Activation memory is the bytes of the output tensors of the nodes in a row, float32
(4 bytes) at batch 1, every node's output counted once (no in-place ops, no buffer
reuse); the input image is counted in the `input` row.

By default a summary counts what inference runs: the nodes that some output not marked
`when training` depends on (auxiliary classifiers left out); `training=True` counts
every node that any output depends on."""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from ..ir.graph import Frame, Graph, Node
from ..ops import OPS
from .receptive import Field, receptive_fields

__all__ = ["BYTES_PER_VALUE", "Row", "Summary", "counted_nodes", "summarize", "tensor_bytes"]

BYTES_PER_VALUE = 4  # float32


def tensor_bytes(shape) -> int:
    n = BYTES_PER_VALUE
    for d in shape or ():
        n *= d
    return n


@dataclass
class Row:
    """One line of a summary: a frame (block, repeat, branch, ...) or a single op."""

    name: str
    kind: str  # "op" or a Frame kind: block, repeat, iteration, branch, shortcut
    what: str  # the op's label or the block's name, e.g. "4 x InceptionA"
    nodes: list[int] = field(default_factory=list)
    shape: tuple[int, ...] | None = None  # of the row's last node: its output
    params: int = 0
    macs: int = 0
    memory: int = 0  # bytes
    field: Field = Field()


@dataclass
class Summary:
    network: str
    file: str
    args: dict
    depth: int
    input_shape: tuple[int, ...] | None
    rows: list[Row]
    total: Row  # sums over the counted nodes; shape and field of the first output
    training: bool = False
    left_out: int = 0  # nodes not counted (train-only heads, dead ends)

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.name == name), None)


def _row_key(graph: Graph, node: Node, depth: int) -> Frame | Node:
    chain = graph.frame_chain(node.frame)[::-1]  # outermost first
    return chain[depth] if len(chain) > depth else node


def _repeated(graph: Graph, repeat: Frame) -> str:
    """What a repeat group repeats: a block's name, an op's label, or `repeat`."""
    for frame in graph.frames[repeat.id + 1:]:
        if frame.parent == repeat.id:
            return frame.block or "repeat"
    for node in graph.nodes:
        if node.frame == repeat.id:
            return _op_label(node)
    return "repeat"


def _op_label(node: Node) -> str:
    op = OPS.get(node.op)
    return op.label(node.attrs, {}) if op else node.op  # concrete values


def _describe(graph: Graph, key: Frame | Node) -> tuple[str, str, str]:
    """(name, kind, what) of a row."""
    if isinstance(key, Node):
        return key.name, "op", _op_label(key)
    if key.kind == "repeat":
        return key.path, "repeat", f"{key.count} x {_repeated(graph, key)}"
    return key.path, key.kind, key.block or key.kind


def _add(row: Row, node: Node, fields: list[Field]) -> None:
    row.nodes.append(node.id)
    row.params += node.params
    row.macs += node.macs
    row.memory += tensor_bytes(node.shape)
    row.shape, row.field = node.shape, fields[node.id]


def counted_nodes(graph: Graph, training: bool = False) -> list[Node]:
    """The nodes a summary counts: those the outputs depend on (train-only ones only
    when `training`); every node when the graph declares no output."""
    outputs = [o.node for o in graph.outputs if training or not o.train_only]
    if not outputs:
        return list(graph.nodes)
    g = graph.to_networkx()
    keep = set(outputs).union(*(nx.ancestors(g, o) for o in outputs))
    return [n for n in graph.nodes if n.id in keep]


def summarize(graph: Graph, depth: int = 0, training: bool = False) -> Summary:
    """Rows of a shape-checked graph at `depth` (0 = top level), in graph order."""
    fields = receptive_fields(graph)
    rows: dict[tuple[str, int], Row] = {}
    total = Row("total", "total", graph.name)
    nodes = counted_nodes(graph, training)
    for node in nodes:
        key = _row_key(graph, node, depth)
        ident = ("node" if isinstance(key, Node) else "frame", key.id)
        if ident not in rows:
            rows[ident] = Row(*_describe(graph, key))
        _add(rows[ident], node, fields)
        _add(total, node, fields)
    if graph.outputs:
        out = graph.outputs[0].node
        total.shape, total.field = graph.nodes[out].shape, fields[out]
    return Summary(graph.name, graph.file, dict(graph.args), depth, graph.input_shape, list(rows.values()), total,
                   training, len(graph.nodes) - len(nodes))
