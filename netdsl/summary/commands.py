"""`netdsl summary` and `netdsl compare`: the COMMANDS that netdsl/cli.py registers."""

from __future__ import annotations

import json
import sys

from .. import api
from ..codes import EXIT_OK
from ..commandline import Command, analyze, limits, print_failure, print_warnings, set_pair
from .compare import compare, comparison_json, comparison_markdown, comparison_rich
from .rows import Summary, summarize
from .table import summary_json, summary_markdown, summary_rich

__all__ = ["COMMANDS", "cmd_summary", "cmd_compare"]


def _output_args(p) -> None:
    p.add_argument("--training", action="store_true",
                   help="count the outputs marked `when training` too (auxiliary classifiers)")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--format", choices=_FORMATS, help="table (the default), json or markdown, as `check --format`")
    form.add_argument("--json", dest="format", action="store_const", const="json",
                      help="machine-readable output (the same as --format json)")
    form.add_argument("--markdown", dest="format", action="store_const", const="markdown",
                      help="a Markdown table to paste (the same as --format markdown)")


_FORMATS = ("table", "json", "markdown")


def _print_rich(renderable) -> None:
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        console = Console(width=200)
    console.print(renderable)


def cmd_summary(args) -> int:
    result = analyze(args)
    if not result.ok:
        return print_failure(result)
    print_warnings(result)
    summary = summarize(result.graph, args.depth, args.training)
    if args.format == "json":
        print(json.dumps(summary_json(summary), indent=1))
    elif args.format == "markdown":
        print(summary_markdown(summary))
    else:
        _print_rich(summary_rich(summary))
    return EXIT_OK


def _side_sets(args, index: int) -> dict[str, str]:
    sets = dict(args.sets)
    sets.update(dict(args.sets_a if index == 0 else args.sets_b if index == 1 else []))
    return sets


def _label(file: str, sets: dict[str, str]) -> str:
    return file + (f" ({', '.join(f'{k}={v}' for k, v in sets.items())})" if sets else "")


def cmd_compare(args) -> int:
    files = [args.file, *args.others] if args.others else [args.file, args.file]
    labels, summaries = [], []
    for i, file in enumerate(files):
        sets = _side_sets(args, i)
        result = api.analyze(file, sets, limits=limits(args), root=args.root)
        if not result.ok:
            print(f"netdsl: {chr(ord('A') + i)} = {_label(file, sets)} has errors:", file=sys.stderr)
            return print_failure(result)
        print_warnings(result)
        labels.append(_label(file, sets))
        summaries.append(summarize(result.graph, 0, args.training))
    return _print_comparison(args, labels, summaries)


def _print_comparison(args, labels: list[str], summaries: list[Summary]) -> int:
    c = compare(labels, summaries)
    if args.format == "json":
        print(json.dumps(comparison_json(c, args.totals), indent=1))
    elif args.format == "markdown":
        print(comparison_markdown(c, args.totals))
    else:
        _print_rich(comparison_rich(c, args.totals))
    return EXIT_OK


def _summary_arguments(p) -> None:
    p.add_argument("--depth", type=int, default=0, metavar="N",
                   help="0: top-level blocks, repeats and ops; each level more opens one more scope")
    _output_args(p)


def _compare_arguments(p) -> None:
    p.add_argument("others", nargs="*", metavar="FILE",
                   help="B (and more: totals only); without it, B is A again (vary it with --set-b)")
    p.add_argument("--set-a", dest="sets_a", action="append", type=set_pair, default=[], metavar="NAME=VALUE",
                   help="override a parameter of A only (--set applies to every side)")
    p.add_argument("--set-b", dest="sets_b", action="append", type=set_pair, default=[], metavar="NAME=VALUE",
                   help="override a parameter of B only")
    p.add_argument("--totals", action="store_true", help="one line per network, no per-stage table")
    _output_args(p)


COMMANDS = (
    Command("summary", "cost of each layer or block: params, MACs, memory, receptive field", cmd_summary,
            _summary_arguments),
    Command("compare", "two specs (or one under two --set variants) side by side, stage by stage", cmd_compare,
            _compare_arguments),
)
