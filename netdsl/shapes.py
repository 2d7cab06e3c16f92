"""Shape inference: an interpreter over the graph (torch.fx ShapeProp style) that
writes each node's output shape, parameter count and MACs into the node.

A node whose op rejects its input gets a diagnostic at its span, with the block
expansion stack as notes and, when one argument is to blame, where it was written.
Nodes downstream of a failure are left without a shape and raise nothing more."""

from __future__ import annotations

from . import codes
from .diagnostics import Note, Reporter
from .ir.elaborate import INPUT, INVALID
from .ir.graph import Graph, Node
from .ir.program import Limits
from .ops import OPS, ShapeError
from .values import format_value

__all__ = ["infer_shapes", "expansion_notes"]


def expansion_notes(graph: Graph, node: Node) -> list[Note]:
    notes = []
    for frame in graph.frame_chain(node.frame):
        if frame.kind == "block":
            args = ", ".join(f"{k}={format_value(v)}" for k, v in frame.args.items())
            notes.append(Note(f"in block '{frame.block}' instantiated as '{frame.path}'" + (f" with {args}" if args else ""), frame.span))
    return notes


def infer_shapes(graph: Graph, reporter: Reporter, limits: Limits = Limits()) -> int | None:
    """Fill shapes in place; return the id of the first node that failed, if any."""
    first_failure = None
    total = 0
    for node in graph.nodes:
        if node.op == INPUT:
            node.shape = tuple(node.attrs["shape"])
            continue
        if node.op == INVALID:
            continue
        shapes = [graph.nodes[i].shape for i in node.inputs]
        if any(s is None for s in shapes):
            continue
        op = OPS[node.op]
        try:
            op.check_values(node.attrs)
            cost = op.infer(node.attrs, shapes)
        except ShapeError as err:
            _report(graph, node, err, reporter)
            first_failure = node.id if first_failure is None else first_failure
            continue
        node.shape, node.params, node.macs = tuple(cost.shape), cost.params, cost.macs
        total += cost.params
        if total > limits.max_params:
            reporter.error(codes.LIMIT, f"the network has more than {limits.max_params:,} parameters at '{node.name}' "
                           f"(raise the limit with {Limits.OVERRIDES['max_params']})", node.span, expansion_notes(graph, node))
            for later in graph.nodes[node.id + 1:]:
                later.shape = None
            return node.id if first_failure is None else first_failure
    return first_failure


def shapes_at(graph: Graph, input_shape: tuple[int, ...]) -> dict[int, tuple[int, ...]] | None:
    """The node shapes the same graph would have for another input shape (the graph is
    left as it is); None if a layer rejects it."""
    shapes: dict[int, tuple[int, ...]] = {}
    for node in graph.nodes:
        if node.op == INPUT:
            shapes[node.id] = tuple(input_shape)
        elif node.op != INVALID:
            try:
                shapes[node.id] = tuple(OPS[node.op].infer(node.attrs, [shapes[i] for i in node.inputs]).shape)
            except (ShapeError, KeyError):
                return None
    return shapes


def _report(graph: Graph, node: Node, err: ShapeError, reporter: Reporter) -> None:
    notes = []
    if err.param and err.param in node.sym:
        notes.append(Note(f"{err.param}={node.sym[err.param]} is {format_value(node.attrs[err.param])}" if node.sym[err.param] != format_value(node.attrs[err.param]).strip('"') else f"{err.param} is {node.sym[err.param]} here"))
    if node.attrs.get("residual") and err.code == codes.RESIDUAL_MISMATCH:  # a residual's sum
        a, b = (graph.nodes[i].shape for i in node.inputs)
        message = (f"residual shapes disagree: the shortcut carries {_dims(a)} but the body gives {_dims(b)}")
        notes.append(Note("give the residual a projection: `residual { ... } shortcut { conv(C, 1, stride=S) }`"))
        reporter.error(err.code, message, node.span, [*notes, *expansion_notes(graph, node)])
        return
    if node.attrs.get("gate") and err.code == codes.GATE_MISMATCH:
        _report_gate(graph, node, err, reporter)
        return
    reporter.error(err.code, f"{node.op} '{node.name}': {err.message}", node.span, [*notes, *expansion_notes(graph, node)])


def _report_gate(graph: Graph, node: Node, err: ShapeError, reporter: Reporter) -> None:
    """A `gate { }` whose body gives neither C x 1 x 1 nor the gated value's own shape."""
    value, body = (graph.nodes[i] for i in node.inputs)
    c = value.shape[0]
    want = f"{c} channels at 1x1 or at {value.shape[1]}x{value.shape[2]}" if len(value.shape) == 3 else f"a vector of {c}"
    notes = [Note(f"the gated value is {_dims(value.shape)}", value.span),
             Note(f"the gate's body gives {_dims(body.shape)} (its last layer '{body.name}')", body.span)]
    reporter.error(err.code, f"gate shapes disagree: the body must give {want}", node.span,
                   [*notes, *expansion_notes(graph, node)])


def _dims(shape) -> str:
    if len(shape) == 3:
        return f"{shape[0]} channels at {shape[1]}x{shape[2]}"
    return f"a vector of {shape[0]}"
