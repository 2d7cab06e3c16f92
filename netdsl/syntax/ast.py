"""Typed syntax tree of a .net file. Every node carries a span; spans are not part of
structural equality, so `parse(format(tree)) == tree` holds for round trips."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from ..diagnostics import Span

_NOWHERE = Span("<none>", 1, 1, 1, 1)


def _span():
    return field(default=_NOWHERE, compare=False, repr=False)


# ---- types -------------------------------------------------------------------------
@dataclass(frozen=True)
class NamedType:
    name: str  # int, float, bool, str, any
    span: Span = _span()


@dataclass(frozen=True)
class LiteralType:
    value: str
    span: Span = _span()


@dataclass(frozen=True)
class TupleType:
    items: tuple[Type, ...]
    span: Span = _span()


@dataclass(frozen=True)
class ListType:
    item: Type
    span: Span = _span()


@dataclass(frozen=True)
class UnionType:
    alternatives: tuple[Type, ...]
    span: Span = _span()


Type = Union[NamedType, LiteralType, TupleType, ListType, UnionType]


# ---- expressions -------------------------------------------------------------------
@dataclass(frozen=True)
class Literal:
    value: object  # int, float, str, bool or tuple of int (a `1x7` kernel)
    span: Span = _span()


@dataclass(frozen=True)
class Name:
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / // % ** == != < <= > >= and or
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True)
class UnaryOp:
    op: str  # - + not
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Conditional:
    then: Expr
    cond: Expr
    otherwise: Expr
    span: Span = _span()


@dataclass(frozen=True)
class FuncCall:
    func: str
    args: tuple[Arg, ...]
    span: Span = _span()


@dataclass(frozen=True)
class TupleExpr:
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Subscript:
    """`dims[s]`, `t[-1]`: one item of a list or tuple."""

    value: Expr
    index: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Slice:
    """`depths[:s]`, `xs[1:-1]`, `xs[::2]`: a part of a list or tuple (bounds may be omitted)."""

    value: Expr
    start: Expr | None
    stop: Expr | None
    step: Expr | None = None
    span: Span = _span()


Expr = Union[Literal, Name, BinOp, UnaryOp, Conditional, FuncCall, TupleExpr, ListExpr, Subscript, Slice]


@dataclass(frozen=True)
class Arg:
    name: str | None
    value: Expr
    span: Span = _span()


# ---- steps and statements ------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    """An op or block applied to the current value; a bare name may also be a value."""

    name: str
    args: tuple[Arg, ...]
    has_parens: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Branch:
    label: str | None
    chain: Chain
    span: Span = _span()


@dataclass(frozen=True)
class Concat:
    branches: tuple[Branch, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Residual:
    args: tuple[Arg, ...]
    body: tuple[Stmt, ...]
    shortcut: tuple[Stmt, ...] | None
    shortcut_label: str | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Repeat:
    count: Expr
    index: str | None
    body: tuple[Stmt, ...]
    sugar: bool = False  # written `4 x Block()`
    span: Span = _span()


StepKind = Union[Call, Concat, Residual, Repeat]


@dataclass(frozen=True)
class Step:
    label: str | None
    kind: StepKind
    span: Span = _span()


@dataclass(frozen=True)
class Chain:
    steps: tuple[Step, ...]
    span: Span = _span()


@dataclass(frozen=True)
class InputStmt:
    dims: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class OutputStmt:
    names: tuple[str, ...]
    train_only: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class AssignStmt:
    name: str
    chain: Chain
    span: Span = _span()


@dataclass(frozen=True)
class ChainStmt:
    chain: Chain
    span: Span = _span()


@dataclass(frozen=True)
class IfStmt:
    arms: tuple[tuple[Expr, tuple[Stmt, ...]], ...]  # (condition, body) for if/elif
    otherwise: tuple[Stmt, ...]
    span: Span = _span()


@dataclass(frozen=True)
class InitStmt:
    """`init conv: kaiming_normal(mode="fan_out")`: how a network initialises a layer kind."""

    kind: str
    scheme: str
    args: tuple[Arg, ...] = ()
    span: Span = _span()


Stmt = Union[InputStmt, OutputStmt, AssignStmt, ChainStmt, IfStmt, InitStmt]


# ---- declarations ----------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    name: str
    type: Type
    default: Expr | None
    span: Span = _span()


@dataclass(frozen=True)
class BlockDecl:
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    is_network: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Import:
    path: str
    span: Span = _span()


@dataclass(frozen=True)
class Module:
    file: str
    imports: tuple[Import, ...]
    blocks: tuple[BlockDecl, ...]
    networks: tuple[BlockDecl, ...]
    span: Span = _span()
