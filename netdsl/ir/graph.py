"""The graph IR: what elaboration produces and every later stage reads.

A :class:`Graph` is a list of :class:`Node` in topological order (elaboration creates
them that way) plus the :class:`Frame` tree of block instances, repeats and branches
that gave every node its dotted name. Shape inference fills `shape`, `params` and
`macs` in place. pydantic validates it and gives the JSON form; networkx answers the
graph questions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..diagnostics import Span

__all__ = ["Frame", "Node", "Output", "Graph"]


class Frame(BaseModel):
    """A naming scope: a block instance, a repeat group and its iterations, a branch."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: Literal["block", "repeat", "iteration", "branch", "shortcut", "gate"]
    path: str  # dotted, e.g. "inception_a.2"
    parent: int | None
    span: Span
    block: str | None = None  # the block's name, for kind == "block"
    args: dict[str, Any] = Field(default_factory=dict)
    sym: dict[str, str] = Field(default_factory=dict)  # arguments in terms of the root's parameters
    written: dict[str, str] = Field(default_factory=dict)  # arguments as written at the call site
    count: int = 0  # for kind == "repeat"


class Node(BaseModel):
    id: int
    name: str  # dotted layer name: the state_dict prefix
    op: str
    attrs: dict[str, Any] = Field(default_factory=dict)
    sym: dict[str, str] = Field(default_factory=dict)  # attributes in terms of the root's parameters (labels)
    written: dict[str, str] = Field(default_factory=dict)  # attributes as written in the call
    inputs: list[int] = Field(default_factory=list)
    frame: int | None = None
    span: Span
    shape: tuple[int, ...] | None = None
    params: int = 0
    macs: int = 0


class Output(BaseModel):
    name: str
    node: int
    train_only: bool = False


class Graph(BaseModel):
    name: str
    file: str
    args: dict[str, Any] = Field(default_factory=dict)  # the network's parameters
    input_shape: tuple[int, ...] | None = None
    nodes: list[Node] = Field(default_factory=list)
    frames: list[Frame] = Field(default_factory=list)
    outputs: list[Output] = Field(default_factory=list)
    # `init` statements: layer kind -> {"scheme", "args", "file", "line"}; empty: PyTorch's own
    init: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # `init NAME: ...` statements in the spec's order: {"pattern", "scheme", "args", "file", "line",
    # "layers": the names it matched}
    init_layers: list[dict[str, Any]] = Field(default_factory=list)

    # -- questions ----------------------------------------------------------------------
    def frame_chain(self, frame: int | None) -> list[Frame]:
        """Frames from the innermost to the outermost."""
        chain = []
        while frame is not None:
            f = self.frames[frame]
            chain.append(f)
            frame = f.parent
        return chain

    def to_networkx(self):
        import networkx as nx  # imported when needed: it costs a tenth of a second at start-up

        g = nx.DiGraph()
        for n in self.nodes:
            g.add_node(n.id, name=n.name, op=n.op)
            g.add_edges_from((i, n.id) for i in n.inputs)
        return g

    def live_nodes(self) -> set[int]:
        """Nodes that some output depends on."""
        import networkx as nx

        g = self.to_networkx()
        live: set[int] = set()
        for out in self.outputs:
            live |= nx.ancestors(g, out.node) | {out.node}
        return live

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def total_macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        return self.nodes[self.outputs[0].node].shape if self.outputs else None
