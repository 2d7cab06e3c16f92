"""Warnings: things a spec may do but probably did not mean, found on the syntax tree of
the file being checked (not of its imports, as rustc warns about the crate it builds).

- `unused-value`: `v = ...` that nothing reads - no later reference by name, and the
  next statement starts from another value (or there is none and the network names its
  outputs), so its layers are built and counted for nothing;
- `unused-result`: a statement without a name whose result is dropped the same way (the
  next statement starts from a named value, or it ends a network that names its outputs);
- `unused-parameter`: a block parameter that neither the body nor a later default reads;
- `shadowed-parameter`: `repeat(n) as i` where `i` is a parameter of the block: inside
  the repeat `i` is the index, not the argument.

The `--set` that equals the default is found where overrides are applied
(:func:`set_defaults`)."""

from __future__ import annotations

import operator

from .. import codes
from ..diagnostics import Reporter
from ..ops import OPS
from ..syntax import ast
from ..syntax.nesting import node_fields
from ..values import format_value
from .expr import Bound, EvalError, evaluate

__all__ = ["lint_module", "set_defaults"]


_BODY_FIELDS = ("body", "shortcut", "otherwise", "arms")  # the fields that hold statement lists


class _Kind:
    """How the walk treats one syntax node class: a getter of the fields that may hold
    nodes (names and flags are never pushed; a literal holds none), and its body fields."""

    __slots__ = ("children", "single", "bodies")

    def __init__(self, names: tuple[str, ...]):
        self.children = operator.attrgetter(*names) if names else None
        self.single = len(names) == 1  # attrgetter of one name gives the value, not a 1-tuple
        self.bodies = tuple(n for n in names if n in _BODY_FIELDS)


_KINDS: dict[type, _Kind | None] = {}  # a class -> how to walk it (None: not a syntax node)


def _kind(cls: type) -> _Kind | None:
    names = node_fields(cls)
    kind = _KINDS[cls] = None if names is None else _Kind(() if cls is ast.Literal else names)
    return kind


class _Facts:
    """What the warnings need from a declaration's body, gathered in one walk without
    recursion (a 10,000-layer network has 100,000 nodes): the names it reads (in
    expressions, bare calls `x4a -> ...`, outputs), the values it assigns, whether it
    names outputs, its statement lists (its body, then the nested ones in walk order),
    its repeats."""

    def __init__(self, tree):
        self.read: set[str] = set()
        self.assigned: set[str] = set()
        self.outputs = False
        self.bodies: list[tuple] = []
        self.repeats: list[ast.Repeat] = []
        self._walk(tree)

    def _walk(self, tree) -> None:
        read, stack = self.read, [tree]
        kinds = _KINDS
        while stack:
            node = stack.pop()
            cls = node.__class__
            if cls is tuple:
                stack.extend(node)
                continue
            kind = kinds[cls] if cls in kinds else _kind(cls)
            if kind is None:
                continue
            if cls is ast.Name:
                read.add(node.name)
            elif cls is ast.Call:
                if not node.has_parens:
                    read.add(node.name)
            elif cls is ast.AssignStmt:
                self.assigned.add(node.name)
            elif cls is ast.OutputStmt:
                self.outputs = True
                read.update(node.names)
            elif cls is ast.Repeat:
                self.repeats.append(node)
            for name in kind.bodies:
                value = getattr(node, name)
                if name == "arms":
                    self.bodies.extend(body for _, body in value)
                elif isinstance(value, tuple):
                    self.bodies.append(value)
            if kind.single:
                stack.append(kind.children(node))
            elif kind.children is not None:
                stack.extend(kind.children(node))


def lint_module(module: ast.Module, reporter: Reporter) -> None:
    """The warnings of every block and network the file declares."""
    for decl in (*module.blocks, *module.networks):
        facts = _Facts(decl.body)  # walked once
        read = facts.read | _Facts(decl.params).read
        _unused_values(decl, facts, read, reporter)
        if not decl.is_network:
            _unused_parameters(decl, read, reporter)
        _shadowed_parameters(decl, facts, reporter)


def _unused_values(decl: ast.BlockDecl, facts: _Facts, read: set[str], reporter: Reporter) -> None:
    """Named values nothing reads, and unnamed statements whose result nothing reads."""
    assigned = facts.assigned
    if not assigned and not facts.outputs:
        return  # every statement goes on from the one before it
    for body in (decl.body, *facts.bodies):
        for i, stmt in enumerate(body):
            if isinstance(stmt, ast.AssignStmt):
                if stmt.name in read or not _dropped(body, i, decl, facts):
                    continue
                reporter.warning(
                    codes.UNUSED_VALUE,
                    f"the value '{stmt.name}' is never used; its layers are built and counted for nothing",
                    stmt.span,
                )
            elif isinstance(stmt, ast.ChainStmt) and not _names_only(stmt.chain, assigned) and _dropped(body, i, decl, facts):
                reporter.warning(
                    codes.UNUSED_RESULT,
                    "the result of this statement is never used (it has no name, and what follows starts from "
                    "elsewhere); its layers are built and counted for nothing",
                    stmt.span,
                )


def _dropped(body: tuple, i: int, decl: ast.BlockDecl, facts: _Facts) -> bool:
    """Whether the result of statement `i` of `body` goes nowhere by position: the next
    statement starts from another value, or it is the last of a network that names its
    outputs (not the last of any other body: that is what the body gives)."""
    for j in range(i + 1, len(body)):  # (by index: a slice per statement is quadratic in a long body)
        if not isinstance(body[j], ast.InitStmt):
            return _restarts(body[j], facts.assigned)
    return body is decl.body and decl.is_network and facts.outputs


def _names_only(chain: ast.Chain, assigned: set[str]) -> bool:
    """A statement that only names a value (`x`): it makes no layers."""
    return all(isinstance(s.kind, ast.Call) and not s.kind.has_parens and s.kind.name in assigned for s in chain.steps)


def _restarts(stmt, assigned: set[str]) -> bool:
    """Does `stmt` start from somewhere else than the value before it?"""
    if isinstance(stmt, ast.OutputStmt):
        return True
    if not isinstance(stmt, (ast.ChainStmt, ast.AssignStmt)):
        return False
    first = stmt.chain.steps[0].kind
    if not isinstance(first, ast.Call):
        return False
    if first.name in assigned and not first.has_parens:
        return True
    op = OPS.get(first.name)
    return op is not None and op.multi_input  # `concat(a, b)`, `add(a, b)`: named values


def _unused_parameters(decl: ast.BlockDecl, read: set[str], reporter: Reporter) -> None:
    for p in decl.params:
        if p.name not in read:
            reporter.warning(
                codes.UNUSED_PARAMETER, f"parameter '{p.name}' of block '{decl.name}' is never used", p.span
            )


def _shadowed_parameters(decl: ast.BlockDecl, facts: _Facts, reporter: Reporter) -> None:
    params = {p.name for p in decl.params}
    for node in facts.repeats:
        if node.index in params:
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
