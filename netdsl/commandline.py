"""What every `netdsl` subcommand shares: the :class:`Command` it registers as, the spec
arguments (FILE, --set, --root, limits) and the way a failed analysis is reported.

A module that implements subcommands (netdsl/summary/commands.py, netdsl/render/cli.py,
netdsl/torch/cli.py) lists them in a module-level `COMMANDS` tuple; netdsl/cli.py
registers those. The modules import this one, never netdsl/cli.py, so the command line
has no import cycle. Front end only: nothing here imports torch."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import api
from .diagnostics import exit_status, format_diagnostics
from .ir import Limits
from .ir.elaborate import INVALID
from .ops.merge import describe_shape

__all__ = ["Command", "analyze", "fail", "limits", "print_failure", "print_warnings", "set_pair", "shape_table",
           "spec_args"]


@dataclass(frozen=True)
class Command:
    """One subcommand: most commands read a spec, so `register` adds the spec arguments
    (:func:`spec_args`) before the command's own `arguments` unless `takes_spec` is off
    (`netdsl fmt` takes files and folders); `run(args)` returns the exit status."""

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    takes_spec: bool = True

    def register(self, subparsers) -> argparse.ArgumentParser:
        """Add the command to `subparsers` (what ArgumentParser.add_subparsers returned)."""
        parser = subparsers.add_parser(self.name, help=self.help)
        if self.takes_spec:
            spec_args(parser)
        self.arguments(parser)
        parser.set_defaults(run=self.run)
        return parser


def set_pair(text: str) -> tuple[str, str]:
    """The argparse type of `--set NAME=VALUE`."""
    name, eq, value = text.partition("=")
    if not eq or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"--set takes name=value, got {text!r}")
    return name.strip(), value.strip()


def spec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="the .net spec")
    p.add_argument("--set", dest="sets", action="append", type=set_pair, default=[], metavar="NAME=VALUE",
                   help="override a network parameter (repeatable)")
    p.add_argument("--root", help="confine imports to this directory")
    defaults = Limits()
    p.add_argument("--max-layers", type=int, default=defaults.max_layers, help="layer limit")
    p.add_argument("--max-params", type=int, default=defaults.max_params, help="parameter limit")
    p.add_argument("--max-depth", type=int, default=defaults.max_depth, help="block nesting limit")
    p.add_argument("--max-file-size", type=int, default=defaults.max_file_bytes, help="bytes per spec file")
    p.add_argument("--max-expr-size", type=int, default=defaults.max_expr_nodes, help="terms per expression")
    p.add_argument("--max-nesting", type=int, default=defaults.max_nesting, help="levels of nested syntax")


def limits(args) -> Limits:
    return Limits(max_file_bytes=args.max_file_size, max_layers=args.max_layers, max_params=args.max_params,
                  max_depth=args.max_depth, max_expr_nodes=args.max_expr_size, max_nesting=args.max_nesting)


def analyze(args) -> api.Analysis:
    # an existing file is a file even if its name holds a newline or a brace (never spec text)
    spec = Path(args.file) if os.path.lexists(args.file) else args.file
    return api.analyze(spec, dict(args.sets), limits=limits(args), root=args.root)


def print_failure(result: api.Analysis) -> int:
    """Report a failed analysis on stderr; the exit status its codes give."""
    print(result.report(), file=sys.stderr)
    if result.graph is not None and result.graph.nodes and result.failed_at is not None:
        print("\nshapes up to the first failing layer:", file=sys.stderr)
        print(shape_table(result, upto=result.failed_at), file=sys.stderr)
    return exit_status(result.diagnostics)


def print_warnings(result: api.Analysis) -> None:
    warnings = [d for d in result.diagnostics if d.severity == "warning"]
    if warnings:
        print(format_diagnostics(warnings, result.sources), file=sys.stderr)


def shape_table(result: api.Analysis, upto: int | None = None) -> str:
    rows = []
    for node in result.graph.nodes:
        if upto is not None and node.id > upto:
            break
        if node.op == INVALID:
            continue
        rows.append((f"{node.span.file}:{node.span.line}", node.name, node.op,
                     describe_shape(node.shape) if node.shape else "?"))
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(3)]  # aligned whatever the paths' lengths
    return "\n".join("  " + "  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths)) + "  " + row[3]
                     for row in rows)


def fail(message: str, status: int) -> int:
    """A one-line error that is not a diagnostic (an output that cannot be written, ...)."""
    print(f"netdsl: error: {message}", file=sys.stderr)
    return status
