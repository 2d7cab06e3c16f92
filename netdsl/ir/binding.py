"""Which argument of a call goes to which parameter: the one rule, used by the elaborator
(which then evaluates and checks the arguments, reporting what does not match) and by the
code generator (which writes them over its Python names)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..syntax import ast

__all__ = ["Matched", "match_arguments"]


@dataclass(frozen=True)
class Matched:
    """A call's arguments by parameter: positional ones in order, then keywords.

    `problems` are the arguments that match no parameter, each with its kind, in the
    order a reader should hear of them: a positional argument beyond the parameters
    (`surplus`) first, then keywords in call order that name no parameter (`unknown`) or
    one already given (`repeated`). They are not in `given`."""

    given: dict[str, ast.Arg]
    problems: tuple[tuple[str, ast.Arg], ...] = ()


def match_arguments(names: Sequence[str], call: ast.Call) -> Matched:
    """Match the arguments of `call` to the parameters called `names`."""
    positional = [a for a in call.args if a.name is None]
    given: dict[str, ast.Arg] = dict(zip(names, positional))
    problems = [("surplus", a) for a in positional[len(names):len(names) + 1]]
    for a in call.args:
        if a.name is None:
            continue
        if a.name not in names:
            problems.append(("unknown", a))
        elif a.name in given:
            problems.append(("repeated", a))
        else:
            given[a.name] = a
    return Matched(given, tuple(problems))
