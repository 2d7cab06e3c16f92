"""A :class:`Layout` as Graphviz DOT text, styled like the figures of a paper."""

from __future__ import annotations

from collections import defaultdict
from html import escape

from ..ops.merge import describe_shape
from .layout import Box, Cluster, Layout

__all__ = ["to_dot", "FILLS"]

FONT = "Helvetica"
FILLS = {  # soft fills per kind of box; outlines stay dark for print
    "conv": "#fff2cc", "pool": "#dae8fc", "merge": "#d5e8d4", "norm": "#e1d5e7", "act": "#f8cecc",
    "dense": "#eeeeee", "block": "#ffe6cc", "io": "#ffffff", "other": "#f5f5f5",
}
GRAPH_ATTRS = {"fontname": FONT, "nodesep": "0.25", "ranksep": "0.3", "newrank": "true", "splines": "spline"}
NODE_ATTRS = {"shape": "box", "style": "rounded,filled", "fontname": FONT, "fontsize": "11", "color": "#333333",
              "penwidth": "0.8", "height": "0.32", "margin": "0.14,0.05"}
EDGE_ATTRS = {"fontname": FONT, "fontsize": "9", "fontcolor": "#555555", "color": "#444444", "arrowsize": "0.6",
              "penwidth": "0.8"}
CLUSTER_ATTRS = {"style": "rounded,dashed", "color": "#888888", "fontsize": "10", "fontcolor": "#333333",
                 "labeljust": "l", "margin": "10"}


def _label(box: Box) -> str:
    """Plain text, or an HTML-like label with an `x4` badge for a folded repeat."""
    if box.count == 1:
        return box.label
    return ('<<table border="0" cellborder="0" cellspacing="0" cellpadding="0"><tr>'
            f'<td>{escape(box.label)}</td><td width="8"></td>'
            f'<td bgcolor="#444444" cellpadding="2"><font color="#ffffff" point-size="9"><b>x{box.count}</b></font></td>'
            '</tr></table>>')


def _emit_box(container, box: Box) -> None:
    attrs = {"fillcolor": FILLS.get(box.style, FILLS["other"])}
    if box.style == "io":
        attrs["style"] = "rounded"
    container.node(box.key, _label(box), **attrs)


def _emit_scope(container, scope: int | None, layout: Layout, inside: dict, first: dict) -> None:
    """Boxes and sub-clusters of one scope, in spec order."""
    items = [(b.first, 0, b) for b in layout.boxes if b.cluster == scope]
    items += [(first.get(c.frame, 0), 1, c) for c in inside[scope]]
    for _, _, item in sorted(items, key=lambda t: (t[0], t[1])):
        if isinstance(item, Box):
            _emit_box(container, item)
            continue
        with container.subgraph(name=f"cluster_f{item.frame}") as sub:
            sub.attr(label=item.label, **CLUSTER_ATTRS)
            _emit_scope(sub, item.frame, layout, inside, first)


def _first_boxes(layout: Layout) -> dict[int, int]:
    """Each cluster's earliest box (clusters are drawn in the order of their contents)."""
    parent = {c.frame: c.parent for c in layout.clusters}
    first: dict[int, int] = {}
    for b in layout.boxes:
        scope = b.cluster
        while scope is not None:
            first[scope] = min(first.get(scope, b.first), b.first)
            scope = parent.get(scope)
    return first


def to_dot(layout: Layout, name: str, direction: str = "TB", shapes: bool = True) -> str:
    import graphviz  # imported when a diagram is drawn, not with netdsl

    graph = graphviz.Digraph(name=name, graph_attr={**GRAPH_ATTRS, "rankdir": direction},
                             node_attr=NODE_ATTRS, edge_attr=EDGE_ATTRS)
    inside: dict[int | None, list[Cluster]] = defaultdict(list)
    for c in layout.clusters:
        inside[c.parent].append(c)
    _emit_scope(graph, None, layout, inside, _first_boxes(layout))
    for row in layout.rows:
        with graph.subgraph() as same:
            same.attr(rank="same")
            for key in row:
                same.node(key)
    style = {b.key: b.style for b in layout.boxes}
    for e in layout.edges:
        label = describe_shape(e.shape) if shapes and e.shape else None
        # chains pull tight, so a branch's ops stay together under the input, as in the paper
        weight = None if style.get(e.head) == "merge" else "2"
        graph.edge(e.tail, e.head, label=label, weight=weight)
    return graph.source
