"""Lay out generated statements the way `ruff format` (black style, 88 columns) does,
so the generated file is already formatted: a statement that fits stays on one line;
a call that does not is split one argument per line with a trailing comma."""

from __future__ import annotations

import ast as pyast
import re

__all__ = ["WIDTH", "inert", "layout", "layout_keyword", "split_call"]

WIDTH = 88


def inert(text: str) -> str:
    """Text (a file name, argument values) made safe for a comment or a docstring: no
    line breaks, no quote or backslash that could end the docstring early."""
    return text.encode("unicode_escape").decode("ascii").replace('"', '\\"')


def layout(stmt: str, indent: str) -> str:
    """One simple statement at `indent`, split if it is too long."""
    if "\n" in stmt or len(indent) + len(stmt) <= WIDTH or stmt.startswith("#") or stmt.endswith(":"):
        return indent + stmt  # a comment (a long path) or the header of an `if`/`for`: left whole
    node = pyast.parse(stmt).body[0]
    value = getattr(node, "value", None)
    if isinstance(node, pyast.Assign) and isinstance(value, pyast.Call):
        target = " = ".join(_unparse(t) for t in node.targets)
        return f"{indent}{target} = {split_call(value, indent)}"
    if isinstance(node, pyast.Assign) and _fits(_unparse(value), indent + "    "):
        # any other long right-hand side: wrapped in parentheses on a line of its own
        target = " = ".join(_unparse(t) for t in node.targets)
        return f"{indent}{target} = (\n{indent}    {_unparse(value)}\n{indent})"
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
    """`f(\\n    a,\\n    b,\\n)` with nested calls split the same way when needed."""
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
                parts = (_unparse(value.body), f"if {_unparse(value.test)}", f"else {_unparse(value.orelse)}")
                text = f"\n{inner}".join(parts)
        lines.append(f"{inner}{text},")
    lines.append(f"{indent})")
    return "\n".join(lines)


def _item(item) -> str:
    if isinstance(item, pyast.keyword):
        return f"{item.arg}={_unparse(item.value)}" if item.arg else f"**{_unparse(item.value)}"
    return _unparse(item)


def _unparse(node) -> str:
    # ast.unparse quotes strings with '...'; the formatter (and the rest of the file) use "..."
    return re.sub(r"'([^'\"\\\n]*)'", r'"\1"', pyast.unparse(node))
