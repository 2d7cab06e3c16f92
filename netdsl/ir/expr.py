"""Evaluating parameter expressions while elaborating.

Each value is carried with its symbolic text (how the root block's parameters spell
it), so that a diagram of Reduction-A can print `k` where the network passed 192."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from functools import lru_cache

from .. import codes
from ..diagnostics import Span
from ..syntax import ast
from ..values import format_value

__all__ = ["Bound", "EvalError", "evaluate", "CONSTANTS", "FUNCTIONS", "MAX_INT"]

MAX_INT = 2**62  # larger numbers are a spec error, not a bignum computation


@dataclass(frozen=True)
class Bound:
    value: object
    sym: str


class EvalError(Exception):
    def __init__(self, code: codes.ErrorCode, message: str, span: Span):
        super().__init__(message)
        self.code, self.message, self.span = code, message, span


CONSTANTS = {
    "true": Bound(True, "true"),
    "false": Bound(False, "false"),
    "same": Bound("same", "same"),
    "valid": Bound("valid", "V"),
}


def _make_divisible(v, divisor=8, min_value=None, round_limit=0.9):
    """Round a channel count to a multiple of `divisor` without losing more than 10%
    (the MobileNet/EfficientNet convention)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < round_limit * v else new_v


FUNCTIONS = {
    "min": min,
    "max": max,
    "int": int,
    "round": round,
    "abs": abs,
    "float": float,
    "ceil": math.ceil,
    "floor": math.floor,
    "make_divisible": _make_divisible,
}

_ARITH = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _describe(v) -> str:
    return {bool: "a bool", str: "a string", tuple: "a tuple"}.get(type(v), "a number")


def constant(value: object) -> Bound:
    """A literal value with its written form (kept: the same few literals recur thousands
    of times in a large network)."""
    try:
        return _constant(type(value), value)
    except TypeError:  # unhashable
        return Bound(value, format_value(value).strip('"'))


@lru_cache(maxsize=4096)
def _constant(kind: type, value: object) -> Bound:  # `kind` keeps True apart from 1
    return Bound(value, format_value(value).strip('"'))


def evaluate(expr: ast.Expr, env: dict[str, Bound]) -> Bound:
    """Evaluate `expr`; raise EvalError with the span of the failing sub-expression."""
    if isinstance(expr, ast.Literal):
        return constant(expr.value)
    if isinstance(expr, ast.Name):
        return _lookup(expr, env)
    if isinstance(expr, ast.BinOp):
        return _binop(expr, env)
    if isinstance(expr, ast.UnaryOp):
        return _unary(expr, env)
    if isinstance(expr, ast.Conditional):
        cond = evaluate(expr.cond, env)
        if not isinstance(cond.value, bool):
            raise EvalError(codes.TYPE_ERROR, f"the condition must be a bool, got {_describe(cond.value)}", expr.cond.span)
        return evaluate(expr.then if cond.value else expr.otherwise, env)
    if isinstance(expr, ast.FuncCall):
        return _call(expr, env)
    items = [evaluate(i, env) for i in expr.items]  # TupleExpr, ListExpr
    value = tuple(i.value for i in items)
    sym = ", ".join(i.sym for i in items)
    return Bound(value, f"({sym})" if isinstance(expr, ast.TupleExpr) else f"[{sym}]")


def _lookup(expr: ast.Name, env: dict[str, Bound]) -> Bound:
    if expr.name in env:
        return env[expr.name]
    if expr.name in CONSTANTS:
        return CONSTANTS[expr.name]
    close = difflib.get_close_matches(expr.name, [*env, *CONSTANTS], n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise EvalError(codes.UNKNOWN_NAME, f"unknown name '{expr.name}'{hint}", expr.span)


def _checked(value, span: Span):
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise EvalError(codes.VALUE_TOO_LARGE, f"the value {value:.3g} is too large", span)
    if isinstance(value, float) and not math.isfinite(value):
        raise EvalError(codes.VALUE_TOO_LARGE, "the expression does not give a finite number", span)
    return value


def _binop(expr: ast.BinOp, env) -> Bound:
    left = evaluate(expr.left, env)
    if expr.op in ("and", "or"):
        if not isinstance(left.value, bool):
            raise EvalError(codes.TYPE_ERROR, f"'{expr.op}' needs bools, got {_describe(left.value)}", expr.left.span)
        if (expr.op == "and") != left.value:  # short circuit
            return left
        right = evaluate(expr.right, env)
        if not isinstance(right.value, bool):
            raise EvalError(codes.TYPE_ERROR, f"'{expr.op}' needs bools, got {_describe(right.value)}", expr.right.span)
        return right
    right = evaluate(expr.right, env)
    a, b = left.value, right.value
    if expr.op not in ("==", "!="):
        if not (_is_number(a) and _is_number(b)):
            bad = expr.left if not _is_number(a) else expr.right
            raise EvalError(codes.TYPE_ERROR, f"'{expr.op}' needs numbers, got {_describe(a if bad is expr.left else b)}", bad.span)
        if expr.op in ("/", "//", "%") and b == 0:
            raise EvalError(codes.DIVISION_BY_ZERO, "division by zero", expr.right.span)
    value = _checked(_ARITH[expr.op](a, b), expr.span)
    return Bound(value, f"{_wrap(left.sym)} {expr.op} {_wrap(right.sym)}")


def _wrap(sym: str) -> str:
    return f"({sym})" if " " in sym else sym


def _unary(expr: ast.UnaryOp, env) -> Bound:
    v = evaluate(expr.operand, env)
    if expr.op == "not":
        if not isinstance(v.value, bool):
            raise EvalError(codes.TYPE_ERROR, f"'not' needs a bool, got {_describe(v.value)}", expr.operand.span)
        return Bound(not v.value, f"not {_wrap(v.sym)}")
    if not _is_number(v.value):
        raise EvalError(codes.TYPE_ERROR, f"'{expr.op}' needs a number, got {_describe(v.value)}", expr.operand.span)
    return Bound(-v.value if expr.op == "-" else v.value, f"{expr.op}{_wrap(v.sym)}")


def _call(expr: ast.FuncCall, env) -> Bound:
    fn = FUNCTIONS.get(expr.func)
    if fn is None:
        close = difflib.get_close_matches(expr.func, list(FUNCTIONS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise EvalError(codes.UNKNOWN_FUNCTION, f"unknown function '{expr.func}'{hint}", expr.span)
    args = [evaluate(a.value, env) for a in expr.args if a.name is None]
    kwargs = {a.name: evaluate(a.value, env) for a in expr.args if a.name is not None}
    for b, a in zip([*args, *kwargs.values()], expr.args):
        if not _is_number(b.value):
            raise EvalError(codes.TYPE_ERROR, f"{expr.func}() takes numbers, got {_describe(b.value)}", a.span)
    try:
        value = fn(*(a.value for a in args), **{k: v.value for k, v in kwargs.items()})
    except (TypeError, ValueError, OverflowError) as err:
        raise EvalError(codes.TYPE_ERROR, f"{expr.func}(): {err}", expr.span) from None
    sym = ", ".join([a.sym for a in args] + [f"{k}={v.sym}" for k, v in kwargs.items()])
    return Bound(_checked(value, expr.span), f"{expr.func}({sym})")
