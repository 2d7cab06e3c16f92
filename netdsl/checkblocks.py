"""`netdsl check` on a library of blocks, or on one block: `netdsl check lib.net` checks
every block the file defines (see :mod:`netdsl.library`); `netdsl check FILE --block
Bottleneck --args planes=64,stride=2 --input 256x56x56` checks one block on that input
and prints its output shape, parameters and MACs."""

from __future__ import annotations

import difflib
import json
import sys
from dataclasses import replace

from . import api, codes
from .codes import EXIT_OK, EXIT_USAGE
from .commandline import fail as usage_failure
from .diagnostics import Diagnostic, NetdslError, Reporter, exit_status, format_diagnostics, merge_repeats
from .ir.lint import lint_module
from .library import check_block, check_library
from .ops.merge import describe_shape
from .sarif import to_sarif
from .values import format_value

__all__ = ["check_blocks", "split_args"]


def split_args(text: str) -> dict[str, str]:
    """`planes=64,kernel=(1, 7)` -> {"planes": "64", "kernel": "(1, 7)"}: commas inside
    brackets or strings do not split."""
    pairs, depth, current, quoted = [], 0, "", False
    for ch in text:
        quoted = quoted != (ch == '"')
        depth += (ch in "([") - (ch in ")]") if not quoted else 0
        if ch == "," and depth == 0 and not quoted:
            pairs.append(current)
            current = ""
        else:
            current += ch
    pairs.append(current)
    out = {}
    for pair in (p.strip() for p in pairs if p.strip()):
        name, eq, value = pair.partition("=")
        if not eq or not name.strip().isidentifier():
            raise ValueError(f"--args takes name=value pairs separated by commas, got {pair!r}")
        out[name.strip()] = value.strip()
    return out


def _arguments(args) -> dict[str, object]:
    overrides = api.parse_overrides(split_args(args.args))
    return {name: bound.value for name, bound in overrides.items()}


def _find(program, wanted: str) -> str | None:
    return wanted if wanted in program.blocks else None


def check_blocks(args, result: api.Analysis) -> int:
    program = result.program
    if program is None:  # the file did not load: its diagnostics say why
        print(result.report(), file=sys.stderr)
        return exit_status(result.diagnostics)
    if args.block is not None and _find(program, args.block) is None:
        close = difflib.get_close_matches(args.block, sorted(program.blocks), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; the spec defines {', '.join(sorted(program.blocks))}"
        return usage_failure(f"unknown block '{args.block}'{hint}", EXIT_USAGE)
    try:
        given = _arguments(args)
    except (ValueError, NetdslError) as err:
        message = err.diagnostics[0].message if isinstance(err, NetdslError) else str(err)
        return usage_failure(message.replace("--set ", "--args ", 1), EXIT_USAGE)
    if given and args.block is None:
        return usage_failure("--args needs --block", EXIT_USAGE)
    reporter = Reporter()
    if args.block is not None:
        checks = [check_block(program, args.block, reporter, given, args.input)]
    else:
        checks = check_library(program, reporter)
    earlier = [d for d in result.diagnostics if d.code != codes.NO_NETWORK]
    if program.network is None and not reporter.errors and not any(d.severity == "error" for d in earlier):
        lint_module(program.entry, reporter)  # a library's warnings (a network file got them from analyze)
    diagnostics = merge_repeats(earlier + reporter.diagnostics)
    if args.warnings_as_errors:
        diagnostics = [replace(d, severity="error") if d.severity == "warning" else d for d in diagnostics]
    if args.format == "sarif":
        print(json.dumps(to_sarif(diagnostics), indent=1))
        return exit_status(diagnostics)
    if args.json:
        print(json.dumps(_json(checks, diagnostics), indent=1))
        return exit_status(diagnostics)
    if diagnostics:
        print(format_diagnostics(diagnostics, program.sources), file=sys.stderr)
    status = exit_status(diagnostics)
    if status == EXIT_OK:
        print("\n".join(_lines(program, checks)))
    return status


def _call(check) -> str:
    args = ", ".join(f"{k}={format_value(v)}" for k, v in check.args.items())
    return f"{check.name}({args})"


def _lines(program, checks) -> list[str]:
    if len(checks) == 1 and checks[0].input_shape is not None:
        check = checks[0]
        graph = check.graph
        outs = ", ".join(describe_shape(graph.nodes[o.node].shape) for o in graph.outputs) or "nothing"
        return [
            f"{_call(check)}: input {describe_shape(check.input_shape)} -> {outs}; "
            f"{graph.total_params:,} parameters; {graph.total_macs:,} MACs ({graph.total_macs / 1e9:.2f} G)"
        ]
    names = ", ".join(c.name for c in checks)
    head = f"{program.entry.file}: {len(checks)} block{'s' * (len(checks) != 1)} checked ({names})"
    return [head + ("; shapes not checked (give --block B --input CxHxW)" if checks else "")]


def _json(checks, diagnostics: list[Diagnostic]) -> dict:
    blocks = []
    for check in checks:
        graph, shaped = check.graph, check.input_shape is not None
        blocks.append(
            {
                "block": check.name,
                "args": {k: list(v) if isinstance(v, tuple) else v for k, v in check.args.items()},
                "input": list(check.input_shape) if shaped else None,
                "outputs": [list(graph.nodes[o.node].shape or ()) for o in graph.outputs] if shaped else None,
                "params": graph.total_params if shaped else None,
                "macs": graph.total_macs if shaped else None,
            }
        )
    return {"network": None, "blocks": blocks, "diagnostics": [d.to_json() for d in diagnostics]}
