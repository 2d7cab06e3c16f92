"""Warnings: things a spec may do but probably did not mean, found on the syntax tree of
the file being checked (not of its imports, as rustc warns about the crate it builds).

- `unused-value`: `v = ...` that nothing reads - no later reference by name, and the
  next statement starts from another value (or there is none and the network names its
  outputs), so its layers are built and counted for nothing;
- `unused-parameter`: a block parameter that neither the body nor a later default reads;
- `shadowed-parameter`: `repeat(n) as i` where `i` is a parameter of the block: inside
  the repeat `i` is the index, not the argument.

The `--set` that equals the default is found where overrides are applied
(:func:`set_defaults`)."""

from __future__ import annotations

import dataclasses

from .. import codes
from ..diagnostics import Reporter, Span
from ..syntax import ast
from ..values import format_value
from .expr import Bound, EvalError, evaluate

__all__ = ["lint_module", "set_defaults"]


_FIELDS: dict[type, tuple[str, ...]] = {}  # a syntax node's class -> its fields but the span


def _fields(node) -> tuple[str, ...]:
    names = _FIELDS.get(type(node))
    if names is None:
        names = _FIELDS[type(node)] = tuple(f.name for f in dataclasses.fields(node) if f.name != "span")
    return names


def _nodes(tree) -> list:
    """Every syntax node under `tree`, through nested tuples, without recursion."""
    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            stack.extend(node)
        elif dataclasses.is_dataclass(node) and not isinstance(node, Span):
            out.append(node)
            stack.extend(getattr(node, name) for name in _fields(node))
    return out


def _bodies(decl: ast.BlockDecl, nodes: list):
    """Every statement list in a declaration (`nodes`: its body's nodes): its body and
    the bodies nested in it."""
    yield decl.body
    for node in nodes:
        for name in _fields(node):
            value = getattr(node, name)
            if name in ("body", "shortcut", "otherwise") and isinstance(value, tuple):
                yield value
            elif name == "arms":
                yield from (body for _, body in value)


def _read_names(decl: ast.BlockDecl, nodes: list) -> set[str]:
    """Names the declaration reads (`nodes`: its body's nodes): in expressions, bare calls
    (`x4a -> ...`), outputs."""
    names: set[str] = set()
    for node in [*_nodes(decl.params), *nodes]:
        if isinstance(node, ast.Name):
            names.add(node.name)
        elif isinstance(node, ast.Call) and not node.has_parens:
            names.add(node.name)
        elif isinstance(node, ast.OutputStmt):
            names.update(node.names)
    return names


def lint_module(module: ast.Module, reporter: Reporter) -> None:
    """The warnings of every block and network the file declares."""
    for decl in (*module.blocks, *module.networks):
        nodes = _nodes(decl.body)  # walked once (a 10,000-layer network has 100,000 nodes)
        read = _read_names(decl, nodes)
        _unused_values(decl, nodes, read, reporter)
        if not decl.is_network:
            _unused_parameters(decl, read, reporter)
        _shadowed_parameters(decl, nodes, reporter)


def _unused_values(decl: ast.BlockDecl, nodes: list, read: set[str], reporter: Reporter) -> None:
    assigned = {n.name for n in nodes if isinstance(n, ast.AssignStmt)}
    if not assigned - read:
        return
    names_outputs = any(isinstance(n, ast.OutputStmt) for n in nodes)
    for body in _bodies(decl, nodes):
        for i, stmt in enumerate(body):
            if not isinstance(stmt, ast.AssignStmt) or stmt.name in read:
                continue
            following = next((s for s in body[i + 1 :] if not isinstance(s, ast.InitStmt)), None)
            following = [] if following is None else [following]
            if following and not _restarts(following[0], assigned):
                continue  # the next statement goes on from it
            if not following and not (body is decl.body and decl.is_network and names_outputs):
                continue  # it is what the body gives
            reporter.warning(
                codes.UNUSED_VALUE,
                f"the value '{stmt.name}' is never used; its layers are built and counted for nothing",
                stmt.span,
            )


def _restarts(stmt, assigned: set[str]) -> bool:
    """Does `stmt` start from somewhere else than the value before it?"""
    if isinstance(stmt, ast.OutputStmt):
        return True
    if not isinstance(stmt, (ast.ChainStmt, ast.AssignStmt)):
        return False
    first = stmt.chain.steps[0].kind
    if not isinstance(first, ast.Call):
        return False
    return (first.name in assigned and not first.has_parens) or first.name == "concat"


def _unused_parameters(decl: ast.BlockDecl, read: set[str], reporter: Reporter) -> None:
    for p in decl.params:
        if p.name not in read:
            reporter.warning(
                codes.UNUSED_PARAMETER, f"parameter '{p.name}' of block '{decl.name}' is never used", p.span
            )


def _shadowed_parameters(decl: ast.BlockDecl, nodes: list, reporter: Reporter) -> None:
    params = {p.name for p in decl.params}
    for node in nodes:
        if isinstance(node, ast.Repeat) and node.index in params:
            reporter.warning(
                codes.SHADOWED_PARAMETER,
                f"the repeat index '{node.index}' hides parameter '{node.index}' of '{decl.name}' inside the repeat",
                node.span,
            )


def set_defaults(decl: ast.BlockDecl, overrides: dict[str, Bound], reporter: Reporter) -> None:
    """`--set name=value` where value is the parameter's (constant) default already."""
    for p in decl.params:
        if p.name not in overrides or p.default is None:
            continue
        try:
            default = evaluate(p.default, {}).value
        except (EvalError, RecursionError):
            continue  # a default computed from other parameters
        given = overrides[p.name].value
        if (
            type(given) is type(default)
            and given == default
            or (
                isinstance(default, float)
                and isinstance(given, int)
                and not isinstance(given, bool)
                and float(given) == default
            )
        ):
            reporter.warning(
                codes.SET_DEFAULT,
                f"--set {p.name}={format_value(given)} is the default already; the option changes nothing",
                None,
            )
