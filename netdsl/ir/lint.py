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


def _nodes(tree):
    """Every syntax node under `tree`, through nested tuples, without recursion."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            stack.extend(node)
        elif dataclasses.is_dataclass(node) and not isinstance(node, Span):
            yield node
            stack.extend(getattr(node, f.name) for f in dataclasses.fields(node))


def _bodies(decl: ast.BlockDecl):
    """Every statement list in a declaration: its body and the bodies nested in it."""
    yield decl.body
    for node in _nodes(decl.body):
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if f.name in ("body", "shortcut", "otherwise") and isinstance(value, tuple):
                yield value
            elif f.name == "arms":
                yield from (body for _, body in value)


def _read_names(decl: ast.BlockDecl) -> set[str]:
    """Names the declaration reads: in expressions, bare calls (`x4a -> ...`), outputs."""
    names: set[str] = set()
    for node in _nodes((decl.params, decl.body)):
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
        read = _read_names(decl)
        _unused_values(decl, read, reporter)
        if not decl.is_network:
            _unused_parameters(decl, read, reporter)
        _shadowed_parameters(decl, reporter)


def _unused_values(decl: ast.BlockDecl, read: set[str], reporter: Reporter) -> None:
    assigned = {n.name for n in _nodes(decl.body) if isinstance(n, ast.AssignStmt)}
    names_outputs = any(isinstance(n, ast.OutputStmt) for n in _nodes(decl.body))
    for body in _bodies(decl):
        for i, stmt in enumerate(body):
            if not isinstance(stmt, ast.AssignStmt) or stmt.name in read:
                continue
            following = [s for s in body[i + 1 :] if not isinstance(s, ast.InitStmt)]
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


def _shadowed_parameters(decl: ast.BlockDecl, reporter: Reporter) -> None:
    params = {p.name for p in decl.params}
    for node in _nodes(decl.body):
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
