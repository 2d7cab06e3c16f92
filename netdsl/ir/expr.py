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


def _log(x, base=None):
    if x <= 0:
        raise _Domain(f"log of {format_value(x)}: the logarithm needs a positive number")
    if base is not None and (base <= 0 or base == 1):
        raise _Domain(f"log base {format_value(base)}: the base must be positive and not 1")
    if base is None:
        return math.log(x)
    exact = {2: math.log2, 10: math.log10}.get(base)  # log(8, 2) is 3.0, and the generated code says math.log2
    return exact(x) if exact else math.log(x, base)


def _sqrt(x):
    if x < 0:
        raise _Domain(f"sqrt of {format_value(x)}: the square root needs a number >= 0")
    return math.sqrt(x)


def _exp(x):
    if x > 709:  # math.exp(710) overflows a float
        raise OverflowError(f"the result is too large (the argument {format_value(x)} is more than 709)")
    return math.exp(x)


class _Domain(ValueError):
    """A number outside a function's domain (a math-domain diagnostic)."""


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
    "log": _log,
    "exp": _exp,
    "sqrt": _sqrt,
    "len": len,
    "sum": sum,
}
# functions of one list (`len(ns)`, `sum(ns)`), and those that take either one list or numbers
_LIST_FUNCTIONS = {"len", "sum"}
_LIST_OR_NUMBERS = {"min", "max"}

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
    if isinstance(expr, ast.Subscript):
        return _subscript(expr, env)
    if isinstance(expr, ast.Slice):
        return _slice(expr, env)
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
    value = _power(a, b, expr) if expr.op == "**" else _checked(_ARITH[expr.op](a, b), expr.span)
    lsym = f"({left.sym})" if expr.op == "**" and left.sym.startswith("-") else _wrap(left.sym)
    return Bound(value, f"{lsym} {expr.op} {_wrap(right.sym)}")


def _power(a, b, expr: ast.BinOp):
    """`a ** b` without computing a googol-digit integer or a complex number."""
    if a == 0 and b < 0:
        raise EvalError(codes.DIVISION_BY_ZERO, "division by zero: 0 to a negative power", expr.right.span)
    if a < 0 and not float(b).is_integer():
        raise EvalError(codes.MATH_DOMAIN, f"({format_value(a)}) ** {format_value(b)}: a negative number to a "
                        "fractional power is not a real number", expr.span)
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1 and b * math.log2(abs(a)) > 63:
        raise EvalError(codes.VALUE_TOO_LARGE, f"{a} ** {b} is too large", expr.span)
    try:
        value = a**b
    except OverflowError:
        raise EvalError(codes.VALUE_TOO_LARGE, "the expression does not give a finite number", expr.span) from None
    return _checked(value, expr.span)


def _sequence(expr: ast.Expr, env) -> Bound:
    """The list or tuple being subscripted (a kernel size `1x7` is a pair)."""
    seq = evaluate(expr, env)
    if not isinstance(seq.value, tuple):
        raise EvalError(codes.NOT_SUBSCRIPTABLE, f"only a list or tuple can be subscripted, got "
                        f"{_describe(seq.value)} ({_show(seq.value)})", expr.span)
    return seq


def _show(value) -> str:
    """A value for a message; a list as a list even when it is a pair (`[16, 32]`, not `16x32`)."""
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return format_value(value)


def _integer(expr: ast.Expr, env, what: str) -> Bound:
    b = evaluate(expr, env)
    if not isinstance(b.value, int) or isinstance(b.value, bool):
        raise EvalError(codes.TYPE_ERROR, f"{what} must be an integer, got {format_value(b.value)}", expr.span)
    return b


def _subscript(expr: ast.Subscript, env) -> Bound:
    seq = _sequence(expr.value, env)
    index = _integer(expr.index, env, "a list index")
    n, i = len(seq.value), index.value
    if not -n <= i < n:
        valid = f"0..{n - 1} or -{n}..-1" if n else "none: the list is empty"
        raise EvalError(codes.INDEX_OUT_OF_RANGE, f"index {i} is out of range for a list of length {n} "
                        f"(valid: {valid}; the list is {_show(seq.value)})", expr.index.span)
    return Bound(seq.value[i], f"{_wrap(seq.sym)}[{index.sym}]")


def _slice(expr: ast.Slice, env) -> Bound:
    seq = _sequence(expr.value, env)
    bounds = [None if e is None else _integer(e, env, "a slice bound") for e in (expr.start, expr.stop, expr.step)]
    if bounds[2] is not None and bounds[2].value == 0:
        raise EvalError(codes.BAD_VALUE, "a slice step cannot be 0", expr.step.span)
    start, stop, step = (None if b is None else b.value for b in bounds)
    syms = ["" if b is None else b.sym for b in bounds[:2]] + ([bounds[2].sym] if bounds[2] is not None else [])
    return Bound(seq.value[start:stop:step], f"{_wrap(seq.sym)}[{':'.join(syms)}]")


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
    _check_arguments(expr, args, kwargs)
    try:
        value = fn(*(a.value for a in args), **{k: v.value for k, v in kwargs.items()})
    except _Domain as err:
        raise EvalError(codes.MATH_DOMAIN, str(err), expr.span) from None
    except OverflowError as err:
        raise EvalError(codes.VALUE_TOO_LARGE, f"{expr.func}(): {err}", expr.span) from None
    except (TypeError, ValueError) as err:
        raise EvalError(codes.TYPE_ERROR, f"{expr.func}(): {err}", expr.span) from None
    sym = ", ".join([a.sym for a in args] + [f"{k}={v.sym}" for k, v in kwargs.items()])
    return Bound(_checked(value, expr.span), f"{expr.func}({sym})")


def _check_arguments(expr: ast.FuncCall, args: list[Bound], kwargs: dict[str, Bound]) -> None:
    """Numbers, except for the functions of a list: `len(xs)`, `sum(xs)`, `min(xs)`."""
    given = [*args, *kwargs.values()]
    one_list = len(given) == 1 and not kwargs and isinstance(given[0].value, tuple)
    if expr.func in _LIST_FUNCTIONS or (expr.func in _LIST_OR_NUMBERS and one_list):
        if not one_list:
            raise EvalError(codes.TYPE_ERROR, f"{expr.func}() takes one list, e.g. {expr.func}([1, 2])", expr.span)
        items = given[0].value
        if expr.func != "len" and not all(_is_number(v) for v in items):
            raise EvalError(codes.TYPE_ERROR, f"{expr.func}() takes a list of numbers, got "
                            f"{_show(items)}", expr.args[0].span)
        if expr.func in _LIST_OR_NUMBERS and not items:
            raise EvalError(codes.BAD_VALUE, f"{expr.func}() of an empty list", expr.args[0].span)
        return
    for b, a in zip(given, expr.args):
        if not _is_number(b.value):
            raise EvalError(codes.TYPE_ERROR, f"{expr.func}() takes numbers, got {_describe(b.value)}", a.span)
