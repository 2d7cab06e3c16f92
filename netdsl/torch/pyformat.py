"""Lay out generated statements the way `ruff format` (black style, 88 columns) does,
so the generated file is already formatted: a statement that fits stays on one line;
a call that does not is split one argument per line with a trailing comma."""

from __future__ import annotations

import ast as pyast
import io
import tokenize

__all__ = ["WIDTH", "inert", "layout", "layout_keyword", "split_call"]

WIDTH = 88


def inert(text: str) -> str:
    """Text (a file name, argument values) made safe for a comment or a docstring: no
    line breaks, no quote or backslash that could end the docstring early."""
    return text.encode("unicode_escape").decode("ascii").replace('"', '\\"')


def layout(stmt: str, indent: str) -> str:
    """One simple statement at `indent`, split if it is too long."""
    if "\n" in stmt or len(indent) + len(stmt) <= WIDTH or stmt.startswith("#"):
        return indent + stmt  # a comment (a long path) is left whole
    if stmt.endswith(":"):
        return _layout_header(stmt, indent)
    node = pyast.parse(stmt).body[0]
    value = getattr(node, "value", None)
    if isinstance(node, pyast.Assign) and isinstance(value, pyast.Call):
        target = " = ".join(_unparse(t) for t in node.targets)
        return f"{indent}{target} = {split_call(value, indent)}"
    if isinstance(node, pyast.Assign) and isinstance(value, pyast.BinOp) and isinstance(value.left, pyast.IfExp):
        # `(a if c else b) + d`: split inside the parentheses, as ruff's right-hand split does
        target, left, text = " = ".join(_unparse(t) for t in node.targets), _unparse(value.left), _unparse(value)
        tail = text[len(left) + 2 :] if text.startswith(f"({left})") else None
        if tail is not None and _fits(left, indent + "    ") and _fits(f"){tail}", indent):
            return f"{indent}{target} = (\n{indent}    {left}\n{indent}){tail}"
    if isinstance(node, pyast.Assign) and _fits(_unparse(value), indent + "    "):
        # any other long right-hand side: wrapped in parentheses on a line of its own
        target = " = ".join(_unparse(t) for t in node.targets)
        return f"{indent}{target} = (\n{indent}    {_unparse(value)}\n{indent})"
    if isinstance(node, (pyast.Assign, pyast.Return)) and isinstance(value, pyast.IfExp):
        # a conditional too long even for a line of its own: in parentheses, one part a line
        head = "return" if isinstance(node, pyast.Return) else " = ".join(_unparse(t) for t in node.targets) + " ="
        parts = "".join(f"{indent}    {part}\n" for part in _conditional_parts(value))
        return f"{indent}{head} (\n{parts}{indent})"
    if isinstance(node, (pyast.Expr, pyast.Return)) and isinstance(value, pyast.Call):
        head = "return " if isinstance(node, pyast.Return) else ""
        return f"{indent}{head}{split_call(value, indent)}"
    return indent + stmt


def layout_keyword(item: str, indent: str) -> str:
    """`name=call(...)` as one argument line (without its comma) at `indent`."""
    if len(indent) + len(item) + 1 <= WIDTH:
        return indent + item
    name, _, value = item.partition("=")
    call = pyast.parse(value, mode="eval").body
    return f"{indent}{name}={split_call(call, indent)}" if isinstance(call, pyast.Call) else indent + item


def _fits(text: str, indent: str) -> bool:
    return len(indent) + len(text) <= WIDTH


def split_call(call: pyast.Call, indent: str) -> str:
    """`f(\\n    a,\\n    b,\\n)` with nested calls split the same way when needed
    (`f(\\n    a\\n)` for a sole argument)."""
    inner = indent + "    "
    items: list[pyast.AST] = [*call.args, *call.keywords]
    lines = [_unparse(call.func) + "("]
    for item in items:
        text = _item(item)
        if not _fits(text + ",", inner):
            value = item.value if isinstance(item, pyast.keyword) else item
            if isinstance(value, pyast.Call):
                prefix = f"{item.arg}=" if isinstance(item, pyast.keyword) else ""
                text = prefix + split_call(value, inner)
            elif isinstance(value, pyast.IfExp) and value is item:  # a positional `a if c else b`: one part a line
                text = f"\n{inner}".join(_conditional_parts(value))
            elif isinstance(value, pyast.BinOp) and isinstance(value.op, (pyast.Add, pyast.Sub)) and value is item:
                text = f"\n{inner}".join(_sum_parts(value))  # a long positional sum: one term a line
            elif isinstance(value, (pyast.List, pyast.Tuple)) and value.elts:  # one element a line, as ruff does
                opening, closing = ("(", ")") if isinstance(value, pyast.Tuple) else ("[", "]")
                prefix = f"{item.arg}=" if isinstance(item, pyast.keyword) else ""
                elements = "".join(f"{inner}    {_unparse(e)},\n" for e in value.elts)
                text = f"{prefix}{opening}\n{elements}{inner}{closing}"
            elif isinstance(value, pyast.Starred) and isinstance(value.value, pyast.ListComp):
                text = "*" + _split_comprehension(value.value, inner)
            elif isinstance(value, pyast.ListComp):
                prefix = f"{item.arg}=" if isinstance(item, pyast.keyword) else ""
                text = prefix + _split_comprehension(value, inner)
        lines.append(f"{inner}{text},")
    if len(items) == 1:  # a sole argument takes no trailing comma (ruff's right-hand split)
        lines[-1] = lines[-1][:-1]
    lines.append(f"{indent})")
    return "\n".join(lines)


def _split_comprehension(comp: pyast.ListComp, indent: str) -> str:
    """`[elt for x in xs]` as ruff breaks it: the element on a line of its own (a call too
    long for it split too), then each `for`/`if` clause on its own line."""
    inner = indent + "    "
    elt = _unparse(comp.elt)
    if not _fits(elt, inner) and isinstance(comp.elt, pyast.Call):
        elt = split_call(comp.elt, inner)
    clauses = []
    for gen in comp.generators:
        clauses.append(f"for {_unparse(gen.target)} in {_unparse(gen.iter)}")
        clauses += [f"if {_unparse(cond)}" for cond in gen.ifs]
    body = "".join(f"{inner}{part}\n" for part in [elt, *clauses])
    return f"[\n{body}{indent}]"


def layout_parameter(param: str, indent: str) -> str:
    """A function parameter (`name=default`, `name: T = default`) as its line at
    `indent`, without the comma: a default tuple or list too long for the line is split
    one element a line inside its brackets, as ruff does."""
    if _fits(param + ",", indent):
        return indent + param
    head, sep, default = param.partition(" = ") if " = " in param else param.partition("=")
    value = pyast.parse(default, mode="eval").body
    if not isinstance(value, (pyast.Tuple, pyast.List)) or not value.elts:
        return indent + param
    opening, closing = ("(", ")") if isinstance(value, pyast.Tuple) else ("[", "]")
    elements = "".join(f"{indent}    {_unparse(e)},\n" for e in value.elts)
    return f"{indent}{head}{sep}{opening}\n{elements}{indent}{closing}"


def _sum_parts(node: pyast.BinOp) -> list[str]:
    """`a + b - c` as ruff breaks a long sum: `a`, `+ b`, `- c`."""
    parts = []
    while isinstance(node, pyast.BinOp) and isinstance(node.op, (pyast.Add, pyast.Sub)):
        right = _unparse(node.right)
        loose = (pyast.IfExp, pyast.Lambda, pyast.NamedExpr, pyast.BoolOp, pyast.Compare)
        if isinstance(node.right, loose) or (isinstance(node.right, pyast.BinOp) and isinstance(node.right.op, (pyast.Add, pyast.Sub))):
            right = f"({right})"  # it binds no tighter than the sum it is a term of
        parts.append(f"{'+' if isinstance(node.op, pyast.Add) else '-'} {right}")
        node = node.left
    return [_unparse(node), *reversed(parts)]


def _layout_header(header: str, indent: str) -> str:
    """A long `for target in iterable:` split inside the iterable's brackets (a tuple or list one
    element a line, a call one argument a line) or else inside added parentheses, as ruff does;
    any other header (`if`, `while`, a `for` too long even so) is left whole."""
    node = pyast.parse(header + " pass").body[0]
    if not isinstance(node, pyast.For) or node.orelse:
        return indent + header
    target = node.target
    names = ", ".join(_unparse(e) for e in target.elts) if isinstance(target, pyast.Tuple) else _unparse(target)
    head, it = f"for {names} in ", node.iter
    if isinstance(it, (pyast.Tuple, pyast.List)) and it.elts:
        opening, closing = ("(", ")") if isinstance(it, pyast.Tuple) else ("[", "]")
        inner = indent + "    "
        long = [isinstance(e, pyast.Call) and not _fits(_unparse(e) + ",", inner) for e in it.elts]
        elements = "".join(f"{inner}{split_call(e, inner) if cut else _unparse(e)},\n" for e, cut in zip(it.elts, long))
        return f"{indent}{head}{opening}\n{elements}{indent}{closing}:"
    if isinstance(it, pyast.Call):
        return f"{indent}{head}{split_call(it, indent)}:"
    if _fits(_unparse(it), indent + "    "):
        return f"{indent}{head}(\n{indent}    {_unparse(it)}\n{indent}):"
    return indent + header


def _conditional_parts(node: pyast.IfExp) -> list[str]:
    """`a if c else b if d else e` as ruff breaks it: `a`, `if c`, `else b`, `if d`, `else e`
    (a conditional in the `else` continues the chain; elsewhere it stays whole, in parentheses)."""
    parts = [_operand(node.body)]
    while True:
        parts.append(f"if {_operand(node.test)}")
        if not isinstance(node.orelse, pyast.IfExp):
            return [*parts, f"else {_operand(node.orelse)}"]
        node = node.orelse
        parts.append(f"else {_operand(node.body)}")


def _operand(node) -> str:
    """A part of a conditional, in parentheses where it binds no tighter than the conditional."""
    text = _unparse(node)
    return f"({text})" if isinstance(node, (pyast.IfExp, pyast.Lambda, pyast.NamedExpr)) else text


def _item(item) -> str:
    if isinstance(item, pyast.keyword):
        return f"{item.arg}={_unparse(item.value)}" if item.arg else f"**{_unparse(item.value)}"
    return _unparse(item)


def _unparse(node) -> str:
    """ast.unparse quotes strings with '...'; the formatter (and the rest of the file) use
    "...": each string token holding no quote or backslash is requoted. The tokenizer
    finds the tokens (a pattern over the text would also match quotes inside other
    strings, and break them)."""
    text = pyast.unparse(node)
    if "'" not in text:
        return text
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    out, last = [], 0
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        s = tok.string
        if tok.type == tokenize.STRING and s[0] == "'" and s[:3] != "'''" and '"' not in s and "\\" not in s:
            begin = starts[tok.start[0] - 1] + tok.start[1]
            out += [text[last:begin], f'"{s[1:-1]}"']
            last = begin + len(s)
    return "".join(out) + text[last:]
