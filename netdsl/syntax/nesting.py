"""How deeply a syntax tree nests, measured without recursion.

Every later stage (evaluation, formatting, elaboration) walks the tree recursively, so
the parser rejects a tree deeper than a limit before anyone else sees it: 10,000
nested brackets are a diagnostic at the bracket that crossed the limit, never a
RecursionError."""

from __future__ import annotations

import dataclasses

from ..diagnostics import Span

__all__ = ["MAX_NESTING", "deepest", "node_fields", "walk"]

MAX_NESTING = 100  # levels of syntax nodes; the specs in specs/ reach 16


# Annotations of fields that never hold a syntax node (names, flags): not looked into. Only
# a shortcut - a field left out of it is looked into and its values found not to be nodes.
_LEAF_TYPES = frozenset({"str", "bool", "int", "str | None", "tuple[str, ...]"})
_FIELDS: dict[type, tuple[str, ...] | None] = {}


def node_fields(cls: type) -> tuple[str, ...] | None:
    """The fields of a syntax node class that may hold syntax nodes (not its span, names
    or flags), decided once per class; None for a class that is not a syntax node."""
    try:
        return _FIELDS[cls]
    except KeyError:
        pass
    names = None
    if dataclasses.is_dataclass(cls) and cls is not Span:
        names = tuple(f.name for f in dataclasses.fields(cls) if f.name != "span" and f.type not in _LEAF_TYPES)
    _FIELDS[cls] = names
    return names


def _children(node):
    for name in node_fields(node.__class__):
        value = getattr(node, name)
        for item in value if isinstance(value, tuple) else (value,):
            for child in item if isinstance(item, tuple) else (item,):  # if-arms are (cond, body) pairs
                if node_fields(child.__class__) is not None:
                    yield child


def deepest(tree, limit: int):
    """The first node found deeper than `limit` levels below `tree`, or None."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return node
        stack.extend((child, depth + 1) for child in _children(node))
    return None


def walk(tree):
    """Every syntax node under `tree` (itself included), without recursion."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(_children(node))
