"""Spec expressions as Python source: substitution, constant folding and printing.

The code generator keeps every channel count and argument as a spec expression tree
(:mod:`netdsl.syntax.ast`) over the Python names of a class's parameters, so that a
call site can substitute its arguments into a block's output-channel formula."""

from __future__ import annotations

import json
import re
from functools import lru_cache

from ..ir.expr import CONSTANTS, EvalError, evaluate
from ..syntax import ast, parse_expression

__all__ = ["subst", "fold", "to_py", "from_py", "free_names", "literal"]

_PREC = {"if": 0, "or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
         "+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6, "neg": 7, "**": 8, "[]": 9}
_PY_FUNCS = {"min": "min", "max": "max", "int": "int", "round": "round", "abs": "abs", "float": "float",
             "ceil": "_ceil", "floor": "_floor", "make_divisible": "_make_divisible",
             "log": "math.log", "exp": "math.exp", "sqrt": "math.sqrt", "len": "len", "sum": "sum"}


_FROM_PY = {py: spec for spec, py in _PY_FUNCS.items() if py != spec}
_SPEC_FUNCS = re.compile(r"(?<![\w.])(" + "|".join(re.escape(py) for py in _FROM_PY) + r")\(")


_LOG_BASE = re.compile(r"(?<![\w.])math\.log(2|10)\(([^()]*)\)")  # an argument without calls in it


def literal(value) -> ast.Literal:
    return ast.Literal(value)


def free_names(expr: ast.Expr) -> set[str]:
    if isinstance(expr, ast.Name):
        return set() if expr.name in CONSTANTS else {expr.name}
    out: set[str] = set()
    for child in _children(expr):
        out |= free_names(child)
    return out


def _children(expr):
    if isinstance(expr, ast.BinOp):
        return [expr.left, expr.right]
    if isinstance(expr, ast.UnaryOp):
        return [expr.operand]
    if isinstance(expr, ast.Conditional):
        return [expr.then, expr.cond, expr.otherwise]
    if isinstance(expr, ast.FuncCall):
        return [a.value for a in expr.args]
    if isinstance(expr, (ast.TupleExpr, ast.ListExpr)):
        return list(expr.items)
    if isinstance(expr, ast.Subscript):
        return [expr.value, expr.index]
    if isinstance(expr, ast.Slice):
        return [e for e in (expr.value, expr.start, expr.stop, expr.step) if e is not None]
    return []


def subst(expr: ast.Expr, env: dict[str, ast.Expr]) -> ast.Expr:
    """Replace names by expressions (simultaneously)."""
    if isinstance(expr, ast.Name):
        return env.get(expr.name, expr)
    if isinstance(expr, ast.BinOp):
        return ast.BinOp(expr.op, subst(expr.left, env), subst(expr.right, env))
    if isinstance(expr, ast.UnaryOp):
        return ast.UnaryOp(expr.op, subst(expr.operand, env))
    if isinstance(expr, ast.Conditional):
        return ast.Conditional(subst(expr.then, env), subst(expr.cond, env), subst(expr.otherwise, env))
    if isinstance(expr, ast.FuncCall):
        return ast.FuncCall(expr.func, tuple(ast.Arg(a.name, subst(a.value, env)) for a in expr.args))
    if isinstance(expr, ast.TupleExpr):
        return ast.TupleExpr(tuple(subst(i, env) for i in expr.items))
    if isinstance(expr, ast.ListExpr):
        return ast.ListExpr(tuple(subst(i, env) for i in expr.items))
    if isinstance(expr, ast.Subscript):
        return ast.Subscript(subst(expr.value, env), subst(expr.index, env))
    if isinstance(expr, ast.Slice):
        return ast.Slice(subst(expr.value, env), *(None if e is None else subst(e, env)
                                                   for e in (expr.start, expr.stop, expr.step)))
    return expr


def fold(expr: ast.Expr, env: dict[str, ast.Expr] | None = None) -> ast.Expr:
    """Evaluate what has no free names; simplify `x + 0`, `x * 1`, and decided conditionals.

    Bottom up, in one pass: a node whose parts all folded to constants is evaluated. With
    `env`, `fold(subst(expr, env))` where env's expressions are folded already: they are
    put in, not walked again (a block's channel formula over its caller's, in a chain of
    a hundred blocks)."""
    if isinstance(expr, ast.Literal):
        return expr
    if isinstance(expr, ast.Name):
        if env is not None and expr.name in env:
            return env[expr.name]
        return _constant(expr) if expr.name in CONSTANTS else expr
    if isinstance(expr, ast.Conditional):
        cond = fold(expr.cond, env)
        if isinstance(cond, ast.Literal) and isinstance(cond.value, bool):
            return fold(expr.then if cond.value else expr.otherwise, env)
        then, otherwise = fold(expr.then, env), fold(expr.otherwise, env)
        if isinstance(cond, ast.Literal) and isinstance(then, ast.Literal) and isinstance(otherwise, ast.Literal):
            return _constant(ast.Conditional(then, cond, otherwise))
        return then if then == otherwise else ast.Conditional(then, cond, otherwise)
    if isinstance(expr, ast.BinOp):
        left, right = fold(expr.left, env), fold(expr.right, env)
        if isinstance(left, ast.Literal) and isinstance(right, ast.Literal):
            return _constant(ast.BinOp(expr.op, left, right))
        if expr.op in ("+", "-") and isinstance(right, ast.Literal) and right.value == 0 and not isinstance(right.value, bool):
            return left
        if expr.op == "*" and isinstance(right, ast.Literal) and right.value == 1 and not isinstance(right.value, bool):
            return left
        return ast.BinOp(expr.op, left, right)
    if isinstance(expr, (ast.TupleExpr, ast.ListExpr)):
        folded = type(expr)(tuple(fold(i, env) for i in expr.items))
        return _constant(folded) if all(isinstance(i, ast.Literal) for i in folded.items) else folded
    if isinstance(expr, ast.FuncCall):
        folded = ast.FuncCall(expr.func, tuple(ast.Arg(a.name, fold(a.value, env)) for a in expr.args))
        return _constant(folded) if all(isinstance(a.value, ast.Literal) for a in folded.args) else folded
    if isinstance(expr, ast.UnaryOp):
        operand = fold(expr.operand, env)
        folded = ast.UnaryOp(expr.op, operand)
        return _constant(folded) if isinstance(operand, ast.Literal) else folded
    if isinstance(expr, ast.Subscript):
        value, index = fold(expr.value, env), fold(expr.index, env)
        folded = ast.Subscript(value, index)
        return _constant(folded) if isinstance(value, ast.Literal) and isinstance(index, ast.Literal) else folded
    if isinstance(expr, ast.Slice):
        parts = [fold(expr.value, env), *(None if e is None else fold(e, env) for e in (expr.start, expr.stop, expr.step))]
        folded = ast.Slice(*parts)
        return _constant(folded) if all(e is None or isinstance(e, ast.Literal) for e in parts) else folded
    return expr


def _constant(expr: ast.Expr) -> ast.Expr:
    """A node of constants as the constant it evaluates to (itself where it cannot be)."""
    try:
        return ast.Literal(evaluate(expr, {}).value)
    except EvalError:
        return expr


def _py_literal(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # double quotes, control characters escaped; 😀 stays one character
    if isinstance(value, tuple):
        inner = ", ".join(_py_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


# names, attribute chains and numbers, optionally negated: `**` between two of them has no
# spaces in ruff's (and Black's) style
_SIMPLE_POWER_OPERAND = re.compile(r"-?(?:[A-Za-z_][\w.]*|\d[\w.]*)")


def to_py(expr: ast.Expr, parent: int = -1, right: bool = False) -> str:
    """Python source for a (folded) expression, with only the parentheses it needs."""
    if isinstance(expr, ast.Literal):
        return _py_literal(expr.value)
    if isinstance(expr, ast.Name):
        return _py_literal(CONSTANTS[expr.name].value) if expr.name in CONSTANTS else expr.name
    if isinstance(expr, ast.BinOp) and expr.op == "**":  # right-associative, binds tighter than unary minus
        p = _PREC["**"]
        left = to_py(expr.left, p + 1)
        if isinstance(expr.left, ast.Literal) and left.startswith("-"):  # (-2) ** n, not -(2 ** n)
            left = f"({left})"
        right_text = to_py(expr.right, _PREC["neg"])
        simple = _SIMPLE_POWER_OPERAND.fullmatch(left) and _SIMPLE_POWER_OPERAND.fullmatch(right_text)
        text = f"{left}**{right_text}" if simple else f"{left} ** {right_text}"  # as ruff format writes it
    elif isinstance(expr, ast.BinOp):
        p = _PREC[expr.op]
        text = f"{to_py(expr.left, p)} {expr.op} {to_py(expr.right, p, True)}"
    elif isinstance(expr, (ast.Subscript, ast.Slice)):
        return f"{to_py(expr.value, _PREC['[]'])}[{_subscript_py(expr)}]"
    elif isinstance(expr, ast.UnaryOp):
        p = _PREC["not" if expr.op == "not" else "neg"]
        text = f"not {to_py(expr.operand, p)}" if expr.op == "not" else f"{expr.op}{to_py(expr.operand, p)}"
    elif isinstance(expr, ast.Conditional):
        p = 0
        text = f"{to_py(expr.then, 1)} if {to_py(expr.cond, 1)} else {to_py(expr.otherwise, 0)}"
    elif isinstance(expr, ast.FuncCall):
        base = _log_base(expr)
        if base:  # log(x, 2) -> math.log2(x), as ruff's FURB163 wants
            return f"math.log{base}({to_py(expr.args[0].value)})"
        args = ", ".join((f"{a.name}=" if a.name else "") + to_py(a.value) for a in expr.args)
        return f"{_PY_FUNCS[expr.func]}({args})"
    else:
        items = [to_py(i) for i in expr.items]
        if isinstance(expr, ast.ListExpr):
            return "[" + ", ".join(items) + "]"
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    needs = p < parent or (right and p == parent and expr_op(expr) in ("-", "/", "//", "%", "+", "*"))
    return f"({text})" if needs else text


def _log_base(expr: ast.FuncCall) -> int | None:
    """2 or 10 for `log(x, 2)` and `log(x, 10)`."""
    if expr.func == "log" and len(expr.args) == 2 and all(a.name is None for a in expr.args):
        base = expr.args[1].value
        if isinstance(base, ast.Literal) and base.value in (2, 10) and not isinstance(base.value, bool):
            return base.value
    return None


def _subscript_py(expr) -> str:
    if isinstance(expr, ast.Subscript):
        return to_py(expr.index)
    bounds = ["" if e is None else to_py(e) for e in (expr.start, expr.stop)]
    return ":".join(bounds + ([to_py(expr.step)] if expr.step is not None else []))


def expr_op(expr) -> str | None:
    return getattr(expr, "op", None)


@lru_cache(maxsize=4096)
def from_py(src: str) -> ast.Expr:
    """Read back a small Python arithmetic expression produced by an op's lowering
    (the functions `to_py` spells `math.log` or `_ceil` under their spec names). The
    same few formulas come back for every layer: parsed once each (the AST is immutable)."""
    src = _LOG_BASE.sub(lambda m: f"log({m.group(2)}, {m.group(1)})", src)
    return parse_expression(_SPEC_FUNCS.sub(lambda m: _FROM_PY[m.group(1)] + "(", src), "<codegen>")
