"""Values of spec expressions and the types that describe them.

The same type language serves block parameters (written in specs) and the parameters
of builtin ops (declared in :mod:`netdsl.ops`)."""

from __future__ import annotations

from .syntax import ast

__all__ = ["INT", "FLOAT", "BOOL", "STR", "ANY", "PAIR", "SIZE", "PADDING", "one_of", "union",
           "type_name", "check_value", "format_value"]

INT = ast.NamedType("int")
FLOAT = ast.NamedType("float")
BOOL = ast.NamedType("bool")
STR = ast.NamedType("str")
ANY = ast.NamedType("any")
PAIR = ast.TupleType((INT, INT))
SIZE = ast.UnionType((INT, PAIR))  # a kernel, stride or dilation: 3 or 1x7 or (1, 7)
KNOWN_TYPES = {"int", "float", "bool", "str", "any"}


def one_of(*words: str) -> ast.Type:
    return union(*(ast.LiteralType(w) for w in words))


def union(*alternatives: ast.Type) -> ast.Type:
    return alternatives[0] if len(alternatives) == 1 else ast.UnionType(tuple(alternatives))


PADDING = union(one_of("same", "valid"), INT, PAIR)


def type_name(t: ast.Type) -> str:
    if isinstance(t, ast.NamedType):
        return t.name
    if isinstance(t, ast.LiteralType):
        return repr(t.value).replace("'", '"')
    if isinstance(t, ast.TupleType):
        return "(" + ", ".join(type_name(i) for i in t.items) + ")"
    if isinstance(t, ast.ListType):
        return "[" + type_name(t.item) + "]"
    return " | ".join(type_name(a) for a in t.alternatives)


def check_value(value: object, t: ast.Type) -> object | None:
    """Return `value` converted to type `t` (an int where a float is wanted becomes a
    float), or None when it does not fit."""
    if isinstance(t, ast.UnionType):
        for alt in t.alternatives:
            got = check_value(value, alt)
            if got is not None:
                return got
        return None
    if isinstance(t, ast.NamedType):
        return _check_named(value, t.name)
    if isinstance(t, ast.LiteralType):
        return value if value == t.value and isinstance(value, str) else None
    if isinstance(t, ast.TupleType):
        if not isinstance(value, (tuple, list)) or len(value) != len(t.items):
            return None
        items = [check_value(v, it) for v, it in zip(value, t.items)]
        return None if any(i is None for i in items) else tuple(items)
    if isinstance(t, ast.ListType):
        if not isinstance(value, (tuple, list)):
            return None
        items = [check_value(v, t.item) for v in value]
        return None if any(i is None for i in items) else tuple(items)
    return None


def _check_named(value: object, name: str) -> object | None:
    if name == "any":
        return value
    if name == "bool":
        return value if isinstance(value, bool) else None
    if isinstance(value, bool):
        return None
    if name == "int":
        return value if isinstance(value, int) else None
    if name == "float":
        return float(value) if isinstance(value, (int, float)) else None
    if name == "str":
        return value if isinstance(value, str) else None
    return None


def format_value(value: object) -> str:
    """A value as the spec language writes it (`1x7`, `true`, `"same"`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return f"{value[0]}x{value[1]}"
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)
