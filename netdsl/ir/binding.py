"""Which argument of a call goes to which parameter: the one rule, decided once per call of
the spec (:func:`arguments`, kept on the program) and read by the elaborator (which then
evaluates and checks the arguments, reporting what does not match) and by the code
generator (which writes them over its Python names)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..syntax import ast

__all__ = ["Matched", "arguments", "match_arguments", "residual_call"]


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


def arguments(program, names: Sequence[str], call: ast.Call) -> Matched:
    """`match_arguments` for a call of `program`'s spec, decided once: every instance of
    the call's block, the elaborator's checks and the code generator read the same match."""
    return program.decided("arguments", call, lambda: match_arguments(names, call), tuple(names))


def residual_call(program, res: ast.Residual) -> ast.Call:
    """A residual's arguments (`scale`, `when`) as the call they are matched as: one per
    residual of the spec, so its match is decided once too."""
    return program.decided("residual", res, lambda: ast.Call("residual", res.args, True, res.span))
