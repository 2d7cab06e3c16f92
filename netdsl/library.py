"""Checking a library of blocks (a file without a network, or one block of any file).

Every block the file defines is instantiated on its own, as the root of a graph
(:func:`netdsl.ir.elaborate.elaborate_block`): parameters with a default take it, the
others a stand-in of their type (:func:`stand_in`). That finds what does not depend on
the block's input - unknown names and ops, arguments, types, the values an op accepts -
while the shape rules, which do depend on it (a residual's identity shortcut needs as
many input channels as the body gives), run only when the caller names an input
shape (`netdsl check FILE --block B --args ... --input CxHxW`), so that a clean library
gets no false error."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .diagnostics import Reporter
from .ir import Graph, Program
from .ir.elaborate import INPUT, INVALID, elaborate_block
from .ops import OPS, ShapeError
from .shapes import expansion_notes, infer_shapes
from .syntax import ast

__all__ = ["BlockCheck", "STAND_IN_INT", "check_block", "check_library", "stand_in"]

STAND_IN_INT, STAND_IN_FLOAT = 32, 0.5  # a channel count, a kernel, a stride, a rate: all accept these


@dataclass
class BlockCheck:
    """One block checked: the graph it elaborated to (shapes filled when an input was given)."""

    name: str
    graph: Graph
    args: dict[str, object]
    input_shape: tuple[int, ...] | None


def stand_in(t: ast.Type) -> object:
    """A value of type `t` for a parameter without a default: the first alternative of a
    union, the first literal of a choice, 32 for an int, 0.5 for a float."""
    if isinstance(t, ast.UnionType):
        return stand_in(t.alternatives[0])
    if isinstance(t, ast.LiteralType):
        return t.value
    if isinstance(t, ast.TupleType):
        return tuple(stand_in(i) for i in t.items)
    if isinstance(t, ast.ListType):
        return [stand_in(t.item)]
    return {"int": STAND_IN_INT, "float": STAND_IN_FLOAT, "bool": False, "str": ""}.get(t.name, STAND_IN_INT)


def check_block(
    program: Program,
    name: str,
    reporter: Reporter,
    args: dict[str, object] | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> BlockCheck:
    """Elaborate block `name` with `args` (the rest: defaults, then stand-ins); with an
    `input_shape`, infer every shape, else check only the ops' values."""
    decl = program.blocks[name]
    given = dict(args or {})
    for p in decl.params:
        if p.name not in given and p.default is None:
            given[p.name] = stand_in(p.type)
    shape = tuple(input_shape) if input_shape else (STAND_IN_INT, STAND_IN_INT, STAND_IN_INT)
    mine = Reporter()
    graph = elaborate_block(program, name, shape, given, mine, symbolic=False)
    if input_shape is not None:
        if not mine.errors and graph.nodes:
            infer_shapes(graph, mine, program.limits)
    else:
        _check_values(graph, mine)
    for d in mine.diagnostics:  # the block is checked where it is defined: no note that it is "instantiated" there
        notes = tuple(n for n in d.notes if not (n.span == decl.span and n.message.startswith(f"in block '{name}'")))
        reporter.diagnostics.append(replace(d, notes=notes))
    return BlockCheck(name, graph, graph.args, tuple(input_shape) if input_shape else None)


def check_library(program: Program, reporter: Reporter) -> list[BlockCheck]:
    """Every block the entry file defines, checked on its own."""
    return [check_block(program, decl.name, reporter) for decl in program.entry.blocks]


def _check_values(graph: Graph, reporter: Reporter) -> None:
    """The ops' own checks of their arguments (ranges, choices), which need no shapes."""
    for node in graph.nodes:
        if node.op in (INPUT, INVALID):
            continue
        try:
            OPS[node.op].check_values(node.attrs)
        except ShapeError as err:
            reporter.error(err.code, f"{node.op} '{node.name}': {err.message}", node.span, expansion_notes(graph, node))
