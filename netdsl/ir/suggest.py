""""Did you mean": suggestions of the same kind as the name that was not found.

An unknown op or block is matched against ops and blocks (a value only where a bare
name could be one), and among the ops first against those of the role its name
suggests (`mish` is an activation, `layer_norm` a normalisation), so that a misspelt
activation is not offered a pooling op. An unknown name in an expression is matched
against parameters, values and constants first, then functions."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from ..ops import OPS

__all__ = ["closest", "closest_op", "guessed_role"]

# word parts that tell an op's role (the ROLES of netdsl.ops.base)
_ROLE_HINTS = (
    (r"norm|^bn|_bn", "norm"),
    (r"pool", "pool"),
    (r"conv", "conv"),
    (r"lu$|lu\d|sigmoid|tanh|swish|mish|softplus|gelu|^act|hard", "act"),
    (r"linear|dense|^fc|drop|flatten", "dense"),
    (r"concat|cat$|add|sum|mul|shuffle|split|scale", "merge"),
)


def closest(name: str, *groups: Iterable[str]) -> str | None:
    """The closest name of the first group that has one close enough."""
    for group in groups:
        close = difflib.get_close_matches(name, sorted(set(group)), n=1)
        if close:
            return close[0]
    return None


def guessed_role(name: str) -> str | None:
    lowered = name.lower()
    return next((role for pattern, role in _ROLE_HINTS if re.search(pattern, lowered)), None)


def closest_op(name: str, blocks: Iterable[str], values: Iterable[str] = ()) -> str | None:
    """An op of the role the name suggests (or a block), else any op or block, else a value."""
    blocks = list(blocks)
    role = guessed_role(name)
    same_role = [*(n for n, op in OPS.items() if op.role == role), *blocks] if role else []
    return closest(name, same_role, [*OPS, *blocks], values)
