"""The `netdsl` command. Exit codes: 0 ok, 1 the spec has errors, 2 usage or I/O error.

`check` lives here; the other subcommands are the `COMMANDS` of the modules that
implement them (see :mod:`netdsl.commandline`, which they share)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from . import __version__
from .codes import EXIT_OK, EXIT_USAGE
from .commandline import Command, analyze, print_failure, print_warnings
from .diagnostics import exit_status
from .ops.merge import describe_shape
from .sarif import to_sarif

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        self.exit(EXIT_USAGE, f"netdsl: error: {message}\n")


def summary_line(graph) -> str:
    inp = describe_shape(graph.input_shape) if graph.input_shape else "?"
    outs = ", ".join(f"{o.name} {describe_shape(graph.nodes[o.node].shape)}" for o in graph.outputs)
    return (f"{graph.name}: input {inp} -> {outs}; {graph.total_params:,} parameters; "
            f"{graph.total_macs:,} MACs ({graph.total_macs / 1e9:.2f} G)")


def graph_json(graph, diagnostics, complete: bool = True) -> dict:
    """The `--json` report; totals only for a `complete` (error-free) graph, the nodes
    of a failed one up to where it failed."""
    return {
        "network": graph.name if graph else None,
        "input": list(graph.input_shape) if graph and graph.input_shape else None,
        "outputs": [{"name": o.name, "shape": list(graph.nodes[o.node].shape or ()), "train_only": o.train_only}
                    for o in graph.outputs] if graph else [],
        "params": graph.total_params if graph and complete else None,
        "macs": graph.total_macs if graph and complete else None,
        "nodes": [{"name": n.name, "op": n.op, "shape": list(n.shape) if n.shape else None, "params": n.params,
                   "macs": n.macs, "span": f"{n.span.file}:{n.span.line}:{n.span.column}"}
                  for n in (graph.nodes if graph else []) if n.op != "invalid"],
        "diagnostics": [d.to_json() for d in diagnostics],
    }


def cmd_check(args) -> int:
    result = analyze(args)
    if args.warnings_as_errors:
        result.diagnostics = as_errors(result.diagnostics)
    if args.block is not None or _is_library(result):
        from .checkblocks import check_blocks  # only when a library or a block is checked

        return check_blocks(args, result)
    if args.format == "sarif":
        print(json.dumps(to_sarif(result.diagnostics, __version__), indent=1))
        return exit_status(result.diagnostics)
    if args.json:
        status = exit_status(result.diagnostics)
        # a command line the spec rejects (`--set no_such=3`) describes no network: no numbers of the default one
        graph = result.graph if status != EXIT_USAGE else None
        print(json.dumps(graph_json(graph, result.diagnostics, complete=result.ok), indent=1))
        return status
    if not result.ok:
        return print_failure(result)
    print_warnings(result)
    print(summary_line(result.graph))
    return EXIT_OK


def _is_library(result) -> bool:
    """A file of blocks and no network: `check` checks each block."""
    program = result.program
    return program is not None and program.network is None and bool(program.entry.blocks)


def _input_shape(text: str) -> tuple[int, ...]:
    """The argparse type of `--input 256x56x56` (or `256,56,56`; `512` for a vector)."""
    parts = text.replace(",", "x").split("x")
    if not all(p.strip().isdigit() and int(p) > 0 for p in parts) or len(parts) not in (1, 3):
        raise argparse.ArgumentTypeError(f"--input takes CxHxW (or C), positive integers, got {text!r}")
    return tuple(int(p) for p in parts)


def as_errors(diagnostics):
    """`--warnings-as-errors`: every warning reported, and counted, as an error."""
    return [replace(d, severity="error") if d.severity == "warning" else d for d in diagnostics]


def _check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output (the same as --format json)")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                   help="text (default), json, or sarif (SARIF 2.1.0 for code-scanning views)")
    p.add_argument("--warnings-as-errors", action="store_true", help="report warnings as errors (exit 1)")
    p.add_argument("--block", metavar="NAME", help="check this block alone (a file without a network: every block)")
    p.add_argument("--args", default="", metavar="NAME=VALUE,...", help="the --block's arguments (defaults otherwise)")
    p.add_argument("--input", type=_input_shape, metavar="CxHxW",
                   help="the --block's input shape: its shapes, parameters and MACs are checked and printed")


CHECK = Command("check", "parse, elaborate and shape-check a spec", cmd_check, _check_arguments)


def commands() -> tuple[Command, ...]:
    """Every subcommand, in the order of `netdsl --help`. Their modules are imported
    here, when the whole command line is built, not when `netdsl check` starts."""
    from .fmt import cli as fmt_cli  # netdsl fmt (lives with the formatter)
    from .lsp import cli as lsp_cli  # netdsl lsp (pygls imported on use)
    from .render import cli as render_cli  # netdsl render (lives with the renderer)
    from .summary import commands as summary_commands  # summary, compare
    from .torch import cli as torch_cli  # compile, port (torch imported on use)

    return (CHECK, *summary_commands.COMMANDS, *render_cli.COMMANDS, *torch_cli.COMMANDS, *fmt_cli.COMMANDS,
            *lsp_cli.COMMANDS)


def build_parser(check_only: bool = False) -> argparse.ArgumentParser:
    """The whole command line; `check_only` registers just `netdsl check`, so that it
    starts without importing the other commands' modules (networkx, graphviz, ...)."""
    parser = _Parser(prog="netdsl", description="Convolutional network specs: check, compile, render, summarise, format.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in (CHECK,) if check_only else commands():
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(check_only=argv[:1] == ["check"]).parse_args(argv)
    if getattr(args, "format", None) == "json":
        args.json = True
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
