"""The `netdsl` command. Exit codes: 0 ok, 1 the spec has errors, 2 usage or I/O error."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import api
from .codes import EXIT_OK, EXIT_USAGE
from .diagnostics import exit_status, format_diagnostics
from .ir import Limits
from .ops.merge import describe_shape

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        self.exit(EXIT_USAGE, f"netdsl: error: {message}\n")


def _set_pair(text: str) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    if not eq or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"--set takes name=value, got {text!r}")
    return name.strip(), value.strip()


def _spec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="the .net spec")
    p.add_argument("--set", dest="sets", action="append", type=_set_pair, default=[], metavar="NAME=VALUE",
                   help="override a network parameter (repeatable)")
    p.add_argument("--root", help="confine imports to this directory")
    defaults = Limits()
    p.add_argument("--max-layers", type=int, default=defaults.max_layers, help="layer limit")
    p.add_argument("--max-params", type=int, default=defaults.max_params, help="parameter limit")
    p.add_argument("--max-depth", type=int, default=defaults.max_depth, help="block nesting limit")
    p.add_argument("--max-file-size", type=int, default=defaults.max_file_bytes, help="bytes per spec file")
    p.add_argument("--max-expr-size", type=int, default=defaults.max_expr_nodes, help="terms per expression")
    p.add_argument("--max-nesting", type=int, default=defaults.max_nesting, help="levels of nested syntax")


def _limits(args) -> Limits:
    return Limits(max_file_bytes=args.max_file_size, max_layers=args.max_layers, max_params=args.max_params,
                  max_depth=args.max_depth, max_expr_nodes=args.max_expr_size, max_nesting=args.max_nesting)


def _analyze(args) -> api.Analysis:
    # an existing file is a file even if its name holds a newline or a brace (never spec text)
    spec = Path(args.file) if os.path.lexists(args.file) else args.file
    return api.analyze(spec, dict(args.sets), limits=_limits(args), root=args.root)


def _print_failure(result: api.Analysis) -> int:
    print(result.report(), file=sys.stderr)
    if result.graph is not None and result.graph.nodes and result.failed_at is not None:
        print("\nshapes up to the first failing layer:", file=sys.stderr)
        print(_shape_table(result, upto=result.failed_at), file=sys.stderr)
    return exit_status(result.diagnostics)


def _shape_table(result: api.Analysis, upto: int | None = None) -> str:
    rows = []
    for node in result.graph.nodes:
        if upto is not None and node.id > upto:
            break
        if node.op == "invalid":
            continue
        shape = describe_shape(node.shape) if node.shape else "?"
        rows.append(f"  {node.span.file}:{node.span.line:<5} {node.name:<48} {node.op:<14} {shape}")
    return "\n".join(rows)


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
    result = _analyze(args)
    if args.json:
        print(json.dumps(graph_json(result.graph, result.diagnostics), indent=1))
        return exit_status(result.diagnostics)
    if not result.ok:
        return _print_failure(result)
    warnings = [d for d in result.diagnostics if d.severity == "warning"]
    if warnings:
        print(format_diagnostics(warnings, result.sources), file=sys.stderr)
    print(summary_line(result.graph))
    return EXIT_OK


def build_parser(check_only: bool = False) -> argparse.ArgumentParser:
    """The whole command line; `check_only` registers just `netdsl check`, so that it
    starts without importing the other commands' modules (networkx, graphviz, ...)."""
    parser = _Parser(prog="netdsl", description="Convolutional network specs: check, compile, render, summarise.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("check", help="parse, elaborate and shape-check a spec")
    _spec_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=cmd_check)
    if check_only:
        return parser
    from .summary.commands import add_summary_commands  # summary, compare (imported here: it uses our helpers)
    add_summary_commands(sub)
    from .render.cli import add_render_parser  # netdsl render (lives with the renderer)
    add_render_parser(sub, _spec_args)
    from .torch.cli import add_torch_commands  # netdsl compile, netdsl port (torch imported on use)
    add_torch_commands(sub, _spec_args)
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
