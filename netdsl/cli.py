"""The `netdsl` command. Exit codes: 0 ok, 1 the spec has errors, 2 usage or I/O error.

`check` lives here; the other subcommands are the `COMMANDS` of the modules that
implement them (see :mod:`netdsl.commandline`, which they share)."""

from __future__ import annotations

import argparse
import json
import sys

from .codes import EXIT_OK, EXIT_USAGE
from .commandline import Command, analyze, print_failure, print_warnings
from .diagnostics import exit_status
from .ops.merge import describe_shape

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        self.exit(EXIT_USAGE, f"netdsl: error: {message}\n")


def summary_line(graph) -> str:
    inp = describe_shape(graph.input_shape) if graph.input_shape else "?"
    outs = ", ".join(f"{o.name} {describe_shape(graph.nodes[o.node].shape)}" for o in graph.outputs)
    return (f"{graph.name}: input {inp} -> {outs}; {graph.total_params:,} parameters; "
            f"{graph.total_macs:,} MACs ({graph.total_macs / 1e9:.2f} G)")


def graph_json(graph, diagnostics) -> dict:
    return {
        "network": graph.name if graph else None,
        "input": list(graph.input_shape) if graph and graph.input_shape else None,
        "outputs": [{"name": o.name, "shape": list(graph.nodes[o.node].shape or ()), "train_only": o.train_only}
                    for o in graph.outputs] if graph else [],
        "params": graph.total_params if graph else None,
        "macs": graph.total_macs if graph else None,
        "nodes": [{"name": n.name, "op": n.op, "shape": list(n.shape) if n.shape else None, "params": n.params,
                   "macs": n.macs, "span": f"{n.span.file}:{n.span.line}:{n.span.column}"}
                  for n in (graph.nodes if graph else []) if n.op != "invalid"],
        "diagnostics": [d.to_json() for d in diagnostics],
    }


def cmd_check(args) -> int:
    result = analyze(args)
    if args.json:
        print(json.dumps(graph_json(result.graph, result.diagnostics), indent=1))
        return exit_status(result.diagnostics)
    if not result.ok:
        return print_failure(result)
    print_warnings(result)
    print(summary_line(result.graph))
    return EXIT_OK


def _check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


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
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
