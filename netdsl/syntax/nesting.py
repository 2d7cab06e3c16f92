"""How deeply a syntax tree nests, measured without recursion.

Every later stage (evaluation, formatting, elaboration) walks the tree recursively, so
the parser rejects a tree deeper than a limit before anyone else sees it: 10,000
nested brackets are a diagnostic at the bracket that crossed the limit, never a
RecursionError."""

from __future__ import annotations

import dataclasses

from ..diagnostics import Span

__all__ = ["MAX_NESTING", "deepest", "walk"]

MAX_NESTING = 100  # levels of syntax nodes; the specs in specs/ reach 16


def _children(node):
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        for item in value if isinstance(value, tuple) else (value,):
            for child in item if isinstance(item, tuple) else (item,):  # if-arms are (cond, body) pairs
                if dataclasses.is_dataclass(child) and not isinstance(child, Span):
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
