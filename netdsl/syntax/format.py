"""Typed AST -> spec text: a pretty printer whose output parses back to the same tree
(sqlglot's generator + identity round trip: `parse(format_module(parse(x))) == parse(x)`).

Layout is canonical (four-space indents, one statement per line, imports first, then
blocks, then the network); comments are not kept. Expressions get the parentheses that
the grammar's precedence needs and no more."""

from __future__ import annotations

from . import ast

__all__ = ["format_module", "format_block", "format_expr", "format_type", "format_chain"]

INDENT = "    "

# precedence levels of the expression grammar, loosest first
_COND, _OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _UNARY, _POWER, _POSTFIX, _ATOM = range(1, 12)
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
_BINARY_LEVEL = {"or": _OR, "and": _AND, "+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "//": _PRODUCT,
                 "%": _PRODUCT, "**": _POWER, **{op: _COMPARE for op in _COMPARISONS}}


# ---- expressions ---------------------------------------------------------------------
def format_expr(expr: ast.Expr, level: int = _COND) -> str:
    """An expression, parenthesised when it binds looser than `level` requires."""
    text, own = _expr(expr)
    return f"({text})" if own < level else text


def _expr(expr: ast.Expr) -> tuple[str, int]:
    if isinstance(expr, ast.Literal):
        return _literal(expr.value)
    if isinstance(expr, ast.Name):
        return expr.name, _ATOM
    if isinstance(expr, ast.BinOp):
        return _binop(expr), _BINARY_LEVEL[expr.op]
    if isinstance(expr, ast.UnaryOp):
        if expr.op == "not":
            return f"not {format_expr(expr.operand, _NOT)}", _NOT
        return f"{expr.op}{format_expr(expr.operand, _UNARY)}", _UNARY
    if isinstance(expr, ast.Conditional):
        text = (f"{format_expr(expr.then, _OR)} if {format_expr(expr.cond, _OR)} "
                f"else {format_expr(expr.otherwise, _COND)}")
        return text, _COND
    if isinstance(expr, ast.FuncCall):
        return f"{expr.func}({format_args(expr.args)})", _ATOM
    if isinstance(expr, ast.TupleExpr):
        items = ", ".join(format_expr(i) for i in expr.items)
        return (f"({items},)" if len(expr.items) == 1 else f"({items})"), _ATOM
    if isinstance(expr, ast.ListExpr):
        return "[" + ", ".join(format_expr(i) for i in expr.items) + "]", _ATOM
    if isinstance(expr, ast.Subscript):
        return f"{format_expr(expr.value, _POSTFIX)}[{format_expr(expr.index)}]", _POSTFIX
    if isinstance(expr, ast.Slice):
        bounds = ["" if b is None else format_expr(b) for b in (expr.start, expr.stop)]
        if expr.step is not None:
            bounds.append(format_expr(expr.step))
        return f"{format_expr(expr.value, _POSTFIX)}[{':'.join(bounds)}]", _POSTFIX
    raise TypeError(f"not an expression: {expr!r}")


def _binop(expr: ast.BinOp) -> str:
    level = _BINARY_LEVEL[expr.op]
    if level == _COMPARE:  # `sum OP sum`: comparisons do not chain
        left, right = _SUM, _SUM
    elif level == _POWER:  # `postfix ** unary`: right-associative
        left, right = _POSTFIX, _UNARY
    else:  # left-associative
        left, right = level, level + 1
    return f"{format_expr(expr.left, left)} {expr.op} {format_expr(expr.right, right)}"


def _literal(value) -> tuple[str, int]:
    if isinstance(value, bool):
        return ("true" if value else "false"), _ATOM
    if isinstance(value, tuple):  # a kernel literal `1x7`
        return f"{value[0]}x{value[1]}", _ATOM
    if isinstance(value, str):
        return _string(value), _ATOM
    text = repr(value)
    return (text, _ATOM) if not text.startswith("-") else (f"-{text[1:]}", _UNARY)


def _string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def format_args(args: tuple[ast.Arg, ...]) -> str:
    return ", ".join(f"{a.name}={format_expr(a.value)}" if a.name else format_expr(a.value) for a in args)


# ---- types -------------------------------------------------------------------------------
def format_type(t: ast.Type) -> str:
    if isinstance(t, ast.NamedType):
        return t.name
    if isinstance(t, ast.LiteralType):
        return _string(t.value)
    if isinstance(t, ast.TupleType):
        return "(" + ", ".join(format_type(i) for i in t.items) + ")"
    if isinstance(t, ast.ListType):
        return f"[{format_type(t.item)}]"
    return " | ".join(format_type(a) for a in t.alternatives)


# ---- steps and statements ------------------------------------------------------------------
def format_chain(chain: ast.Chain, depth: int = 0) -> str:
    return " -> ".join(_step(s, depth) for s in chain.steps)


def _step(step: ast.Step, depth: int) -> str:
    text = _kind(step.kind, depth)
    return f"{step.label}: {text}" if step.label else text


def _kind(kind: ast.StepKind, depth: int) -> str:
    if isinstance(kind, ast.Call):
        return f"{kind.name}({format_args(kind.args)})" if kind.has_parens or kind.args else kind.name
    if isinstance(kind, ast.Concat):
        return _concat(kind, depth)
    if isinstance(kind, ast.Residual):
        return _residual(kind, depth)
    return _repeat(kind, depth)


def _concat(group: ast.Concat, depth: int) -> str:
    pad = INDENT * (depth + 1)
    lines = ["concat {"]
    for br in group.branches:
        label = f"{br.label}: " if br.label else ""
        lines.append(f"{pad}| {label}{format_chain(br.chain, depth + 1)}")
    lines.append(INDENT * depth + "}")
    return "\n".join(lines)


def _residual(res: ast.Residual, depth: int) -> str:
    head = f"residual({format_args(res.args)})" if res.args else "residual"
    text = f"{head} {_body(res.body, depth)}"
    if res.shortcut is not None:
        label = f" {res.shortcut_label}" if res.shortcut_label else ""
        text += f" shortcut{label} {_body(res.shortcut, depth)}"
    return text


def _repeat(rep: ast.Repeat, depth: int) -> str:
    if rep.sugar:
        call = rep.body[0].chain.steps[0].kind
        return f"{format_expr(rep.count)} x {_kind(call, depth)}"
    index = f" as {rep.index}" if rep.index else ""
    return f"repeat({format_expr(rep.count)}){index} {_body(rep.body, depth)}"


def _body(stmts: tuple, depth: int) -> str:
    if not stmts:
        return "{}"
    inner = [INDENT * (depth + 1) + _stmt(s, depth + 1) for s in stmts]
    return "{\n" + "\n".join(inner) + "\n" + INDENT * depth + "}"


def _stmt(stmt: ast.Stmt, depth: int) -> str:
    if isinstance(stmt, ast.InputStmt):
        return "input [" + ", ".join(format_expr(d) for d in stmt.dims) + "]"
    if isinstance(stmt, ast.OutputStmt):
        return "output " + ", ".join(stmt.names) + (" when training" if stmt.train_only else "")
    if isinstance(stmt, ast.AssignStmt):
        return f"{stmt.name} = {format_chain(stmt.chain, depth)}"
    if isinstance(stmt, ast.ChainStmt):
        return format_chain(stmt.chain, depth)
    if isinstance(stmt, ast.InitStmt):
        args = f"({format_args(stmt.args)})" if stmt.args else ""
        return f"init {stmt.kind}: {stmt.scheme}{args}"
    return _if(stmt, depth)


def _if(stmt: ast.IfStmt, depth: int) -> str:
    parts = []
    for i, (cond, body) in enumerate(stmt.arms):
        keyword = "if" if i == 0 else "elif"
        parts.append(f"{keyword} {format_expr(cond)} {_body(body, depth)}")
    if stmt.otherwise:
        parts.append(f"else {_body(stmt.otherwise, depth)}")
    return " ".join(parts)


# ---- declarations ---------------------------------------------------------------------------
def _param(p: ast.Param) -> str:
    default = f" = {format_expr(p.default)}" if p.default is not None else ""
    return f"{p.name}: {format_type(p.type)}{default}"


def format_block(decl: ast.BlockDecl) -> str:
    keyword = "network" if decl.is_network else "block"
    params = ", ".join(_param(p) for p in decl.params)
    return f"{keyword} {decl.name}({params}) {_body(decl.body, 0)}"


def format_module(module: ast.Module) -> str:
    """The whole file as canonical spec text (ending in a newline)."""
    parts = []
    if module.imports:
        parts.append("\n".join(f"import {_string(i.path)}" for i in module.imports))
    parts.extend(format_block(b) for b in (*module.blocks, *module.networks))
    return "\n\n".join(parts) + "\n"
