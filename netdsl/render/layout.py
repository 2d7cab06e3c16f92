"""From the graph IR to what a diagram shows: boxes, clusters and the edges between them.

Every node belongs to exactly one box: the outermost *closed* block or repeat around
it, or its own box when every block around it is open. Open blocks become labelled
clusters. A closed block that is one conv or linear plus batchnorm/activations is drawn
as that op (`3x3 Conv (96)`), the way the papers draw "Conv". A chain of closed boxes
with the same block and arguments (a repeat, or the same block written twice) becomes
one box with an `xN` badge. Everything is keyed by node and frame ids, which follow the
spec's order, so the same spec always gives the same layout."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from ..ir import snake_case
from ..ir.graph import Frame, Graph, Node
from ..ops.base import Input, Invalid, op_of
from .labels import block_title, category, input_label, op_label, same_name
from .options import RenderError

__all__ = ["View", "Box", "Cluster", "Edge", "Layout", "plan"]

BOXED = ("block", "repeat")  # frames that can close into one box


@dataclass(frozen=True)
class View:
    depth: int = 0
    expand: tuple[str, ...] = ()
    symbolic: bool = False
    root: int | None = None  # frame drawn as the whole picture, with no cluster (one-block diagrams)
    input_text: str | None = None


@dataclass
class Box:
    key: str
    label: str
    style: str
    cluster: int | None
    first: int  # first node id: the drawing order
    count: int = 1
    signature: tuple | None = None


@dataclass(frozen=True)
class Cluster:
    frame: int
    label: str
    parent: int | None


@dataclass(frozen=True)
class Edge:
    tail: str
    head: str
    shape: tuple | None


@dataclass
class Layout:
    boxes: list[Box] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # boxes drawn side by side on one row


class _Scopes:
    """Questions about the frame tree."""

    def __init__(self, graph: Graph, root: int | None):
        self.graph, self.root = graph, root
        self.children: dict[int, list[int]] = defaultdict(list)
        self.members: dict[int, list[int]] = defaultdict(list)
        for f in graph.frames:
            if f.parent is not None:
                self.children[f.parent].append(f.id)
        for n in graph.nodes:
            for f in graph.frame_chain(n.frame):
                self.members[f.id].append(n.id)

    def level(self, f: Frame) -> int:
        """Blocks around `f` (the root block of a one-block diagram does not count)."""
        return sum(1 for a in self.graph.frame_chain(f.parent) if a.kind == "block" and a.id != self.root)

    def outward(self, frame: int | None) -> list[Frame]:
        return list(reversed(self.graph.frame_chain(frame)))


def _open_frames(graph: Graph, scopes: _Scopes, view: View) -> set[int]:
    opened = {f.id for f in graph.frames if f.kind in BOXED and (f.id == view.root or scopes.level(f) < view.depth)}
    for name in view.expand:
        hits = [f for f in graph.frames if f.path == name or (f.block is not None and same_name(f.block, name))]
        if not hits:
            raise RenderError(f"--expand {name}: no block or layer path of that name in the diagram", "unknown-block")
        for f in hits:
            opened |= {a.id for a in graph.frame_chain(f.id)}
    return opened


def _cluster_frames(graph: Graph, opened: set[int], root: int | None) -> set[int]:
    def visible(f: Frame) -> bool:
        return all(a.id in opened for a in graph.frame_chain(f.parent) if a.kind in BOXED)

    return {f.id for f in graph.frames if f.id != root and visible(f)
            and ((f.kind == "block" and f.id in opened) or f.kind in ("iteration", "gate"))}


class _Planner:
    def __init__(self, graph: Graph, view: View):
        self.g, self.view = graph, view
        self.scopes = _Scopes(graph, view.root)
        self.opened = _open_frames(graph, self.scopes, view)
        self.clusters = _cluster_frames(graph, self.opened, view.root)
        self.unit: dict[int, str] = {}
        self.boxes: dict[str, Box] = {}
        self.users: dict[int, list[Node]] = defaultdict(list)
        for n in graph.nodes:
            for i in n.inputs:
                self.users[i].append(n)

    # -- which box each node belongs to --------------------------------------------------
    def closed_owner(self, node: Node) -> Frame | None:
        return next((f for f in self.scopes.outward(node.frame) if f.kind in BOXED and f.id not in self.opened), None)

    def hidden(self, f: Frame) -> bool:
        """Inside a closed box?"""
        return any(a.kind in BOXED and a.id not in self.opened for a in self.g.frame_chain(f.parent))

    def cluster_of(self, frame: int | None) -> int | None:
        return next((f.id for f in self.g.frame_chain(frame) if f.id in self.clusters), None)

    def assign(self) -> None:
        for node in self.g.nodes:
            if node.op == Invalid.name:
                continue
            owner = self.closed_owner(node)
            if owner is not None:
                self.unit[node.id] = self.frame_box(owner).key
            elif op_of(node.op).transparent and node.inputs:
                self.unit[node.id] = self.unit[node.inputs[0]]
            else:
                self.unit[node.id] = self.node_box(node).key
        self.fold()

    def sole_user(self, node: Node, op: str) -> Node | None:
        """The one consumer of `node`, when it is an `op` and both are drawn as their own boxes."""
        users = self.users[node.id]
        if len(users) == 1 and users[0].op == op and self.unit.get(node.id) == f"n{node.id}" \
                and self.unit.get(users[0].id) == f"n{users[0].id}":
            return users[0]
        return None

    def fold(self) -> None:
        """A residual's scale is written into its `+` box, and a concat that only feeds
        another concat joins it (the split branches of Inception-C), as the papers draw them."""
        for n in reversed(self.g.nodes):
            into = self.sole_user(n, op_of(n.op).drawn_into)
            if into is None:
                continue
            if into.op != n.op:  # a scale, written into the sum's label
                self.boxes[f"n{into.id}"].label = op_label(into, self.view.symbolic, n)
            del self.boxes[f"n{n.id}"]
            for i, key in self.unit.items():
                if key == f"n{n.id}":
                    self.unit[i] = f"n{into.id}"

    # -- boxes ----------------------------------------------------------------------------------
    def node_box(self, node: Node) -> Box:
        if node.op == Input.name:
            label, style = self.view.input_text or input_label(node.attrs["shape"]), "io"
        else:
            label, style = op_label(node, self.view.symbolic), category(node.op)
        return self.add_box(Box(f"n{node.id}", label, style, self.cluster_of(node.frame), node.id))

    def frame_box(self, f: Frame) -> Box:
        key = f"f{f.id}"
        if key in self.boxes:
            return self.boxes[key]
        label, style, signature = self.describe(f)
        if style == "block" and (given := self.given_name(f)):
            label, signature = f"{label} ({given})", None
        first = self.scopes.members[f.id][0]
        count = f.count if f.kind == "repeat" else 1
        return self.add_box(Box(key, label, style, self.cluster_of(f.parent), first, count, signature))

    def add_box(self, box: Box) -> Box:
        self.boxes[box.key] = box
        return box

    def describe(self, f: Frame) -> tuple[str, str, tuple | None]:
        """(label, style, signature) of a closed block or repeat."""
        if f.kind == "block":
            principal = self.principal_op(f)
            if principal is not None:
                return op_label(principal, self.view.symbolic), category(principal.op), None  # drawn apart, as ops
            return block_title(f.block), "block", _signature(f)
        parts = [self.g.frames[c] for c in self.scopes.children[f.id]]
        if parts and all(p.kind == "block" for p in parts):
            inner = self.describe(parts[0])
            same = all(_signature(p) == _signature(parts[0]) for p in parts)
            return inner[0], inner[1], inner[2] if same else None
        return self.summary(f), "block", None

    def given_name(self, f: Frame) -> str | None:
        """The instance name the spec wrote (`inception3a: Inception(...)`), if not the automatic one."""
        local = f.path.rsplit(".", 1)[-1]
        parts = self.scopes.children[f.id] if f.kind == "repeat" else []
        block = f.block or (self.g.frames[parts[0]].block if parts else None)
        if local.isdigit() or block is None or re.fullmatch(rf"{snake_case(block)}\d*", local):
            return None
        return local

    def principal_op(self, f: Frame) -> Node | None:
        nodes = [self.g.nodes[i] for i in self.scopes.members[f.id]]
        main = [n for n in nodes if op_of(n.op).principal]
        if len(main) == 1 and all(op_of(n.op).decoration for n in nodes if n is not main[0]):
            return main[0]
        return None

    def summary(self, f: Frame) -> str:
        """Label of a repeated group of statements: its first iteration's ops in order."""
        labels = []
        for i in self.scopes.members[f.id]:
            n = self.g.nodes[i]
            op = op_of(n.op)
            if not op.transparent and op.drawn_into in ("", op.name):  # a scale is drawn with its sum
                text = op_label(n, self.view.symbolic)
                if text not in labels:
                    labels.append(text)
        return " / ".join(labels[:3]) + (" ..." if len(labels) > 3 else "")

    # -- edges ------------------------------------------------------------------------------------
    def edges(self) -> list[Edge]:
        seen, edges = set(), []
        for node in self.g.nodes:
            for i in node.inputs:
                tail, head = self.unit.get(i), self.unit.get(node.id)
                if tail is None or head is None or tail == head or (tail, head, i) in seen:
                    continue
                seen.add((tail, head, i))
                edges.append(Edge(tail, head, self.g.nodes[i].shape))
        return edges

    def merge_repeats(self) -> None:
        """Fold a chain of equal boxes into the first one, adding up the badge."""
        while (pair := self.next_merge()) is not None:
            keep, gone = pair
            self.boxes[keep].count += self.boxes[gone].count
            del self.boxes[gone]
            self.unit = {n: (keep if k == gone else k) for n, k in self.unit.items()}

    def next_merge(self) -> tuple[str, str] | None:
        ins, outs = defaultdict(set), defaultdict(set)
        for e in self.edges():
            ins[e.head].add(e.tail)
            outs[e.tail].add(e.head)
        for box in sorted(self.boxes.values(), key=lambda b: b.first):
            if box.signature is None or len(ins[box.key]) != 1:
                continue
            prev = self.boxes[next(iter(ins[box.key]))]
            if prev.signature == box.signature and outs[prev.key] == {box.key} and prev.cluster == box.cluster:
                return prev.key, box.key
        return None

    # -- the whole layout --------------------------------------------------------------------
    def layout(self) -> Layout:
        self.assign()
        self.merge_repeats()
        boxes = sorted(self.boxes.values(), key=lambda b: b.first)
        edges = self.edges()
        self.add_outputs(boxes, edges)
        clusters = [Cluster(fid, self.cluster_label(self.g.frames[fid]), self.cluster_of(self.g.frames[fid].parent))
                    for fid in sorted(self.clusters)]
        return Layout(boxes, clusters, edges, self.branch_rows())

    def branch_rows(self) -> list[list[str]]:
        """The first box of each branch of a concat shares a row, as in the paper's figures."""
        rows: dict[tuple, list[str]] = defaultdict(list)
        for f in self.g.frames:
            members = self.scopes.members[f.id]
            if f.kind != "branch" or not members or self.hidden(f):
                continue
            key = self.unit[members[0]]
            row = rows[(f.parent, f.path.rsplit(".", 1)[0])]
            if key not in row:
                row.append(key)
        return [row for row in rows.values() if len(row) > 1]

    def cluster_label(self, f: Frame) -> str:
        parent = self.g.frames[f.parent] if f.parent is not None else None
        of = f" ({_ordinal(f)} of {parent.count})" if parent is not None and parent.kind == "repeat" else ""
        if f.kind == "iteration":
            return f"{self.summary(parent)}{of}"
        if f.kind == "gate":  # a side path into the product: `gate se { }` is 'Gate (se)'
            local = f.path.rsplit(".", 1)[-1]
            return "Gate" if re.fullmatch(r"gate\d*", local) else f"Gate ({local})"
        return f"{block_title(f.block)}{of}"

    def add_outputs(self, boxes: list[Box], edges: list[Edge]) -> None:
        """Named outputs (auxiliary heads and the like) get a box each."""
        outs = self.g.outputs
        if len(outs) < 2 and all(o.name == "out" for o in outs):
            return
        for k, out in enumerate(outs):
            label = out.name + (" (training only)" if out.train_only else "")
            boxes.append(Box(f"out{k}", label, "io", None, len(self.g.nodes) + k))
            edges.append(Edge(self.unit[out.node], f"out{k}", self.g.nodes[out.node].shape))


def _ordinal(f: Frame) -> int:
    """1-based position of a repeat's iteration (its path ends in the 0-based index)."""
    return int(f.path.rsplit(".", 1)[-1]) + 1


def _signature(f: Frame) -> tuple | None:
    if f.kind != "block":
        return None
    return (f.block, tuple(sorted((k, repr(v)) for k, v in f.args.items())))


def plan(graph: Graph, view: View = View()) -> Layout:
    """The boxes, clusters and edges that draw `graph` as `view` asks."""
    return _Planner(graph, view).layout()
