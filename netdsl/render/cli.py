"""`netdsl render FILE -o OUT.(svg|png|pdf|dot)`: the command-line face of :func:`render`
(a COMMANDS entry that netdsl/cli.py registers)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..codes import EXIT_OK, EXIT_USAGE
from ..commandline import Command, fail, limits
from ..diagnostics import NetdslError, SourceMap, exit_status, format_diagnostics
from .diagram import render
from .options import DIRECTIONS, FORMATS, RenderError

__all__ = ["COMMANDS", "cmd_render"]


def _depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--depth takes a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--depth must not be negative, got {value}")
    return value


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file: .svg, .png, .pdf or .dot")
    p.add_argument("--block", metavar="NAME", help="draw this block alone, as the paper's figures do")
    p.add_argument("--depth", type=_depth, default=0, metavar="N", help="block levels drawn open (default 0)")
    p.add_argument("--expand", action="append", default=[], metavar="NAME",
                   help="draw this block (name or layer path) open; repeatable")
    p.add_argument("--shapes", action=argparse.BooleanOptionalAction, default=None,
                   help="tensor shapes on the edges (default: on, off with --symbolic)")
    p.add_argument("--direction", type=str.upper, choices=DIRECTIONS, default="TB", help="flow direction")
    p.add_argument("--symbolic", action="store_true", help="filter counts as the block's parameter names")


def cmd_render(args) -> int:
    out = Path(args.output)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        return fail(f"{out}: unknown output format '{out.suffix or '(none)'}'; use .svg, .png, .pdf or .dot", EXIT_USAGE)
    try:
        diagram = render(args.file, block=args.block, depth=args.depth, expand=tuple(args.expand), shapes=args.shapes,
                         direction=args.direction, symbolic=args.symbolic, params=dict(args.sets),
                         limits=limits(args), root=args.root)
        diagram.save(out, fmt)
    except RenderError as err:
        return fail(err.message, EXIT_USAGE)
    except NetdslError as err:
        sources = getattr(err.partial, "sources", None) or SourceMap()
        print(format_diagnostics(err.diagnostics, sources), file=sys.stderr)
        return exit_status(err.diagnostics)
    print(f"wrote {out}")
    return EXIT_OK


COMMANDS = (Command("render", "draw a block diagram (SVG, PNG, PDF or DOT)", cmd_render, _arguments),)
