"""`render(spec, ...)`: a spec -> a :class:`Diagram` (DOT text that Graphviz draws).

The whole network is drawn from its checked graph. One block alone is drawn the way
the paper's Figures 3-8 draw it: the block is elaborated again as the root of its own
graph, with the input shape and arguments of its first use in the network (so it is
shape-checked for real) and, with `symbolic`, its parameters spelt by name."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .. import api, files
from ..diagnostics import NetdslError, Reporter
from ..ir import Graph, Limits, Program, elaborate
from ..ir.elaborate import IN_CHANNELS, INVALID, elaborate_block
from ..ir.expr import Bound, EvalError, evaluate
from ..ops.base import Input, op_of
from ..shapes import infer_shapes
from ..syntax import ast
from ..syntax.nesting import walk
from .labels import input_label, op_label, same_name
from .options import FORMATS, RenderError, RenderOptions

if TYPE_CHECKING:
    from .layout import View

# The layout, the DOT writer (and html), the library's stand-ins and subprocess load when
# a diagram is drawn, not at `import netdsl` (which `netdsl check` pays for: ~8 ms).

__all__ = ["Diagram", "render", "write_atomic"]

NO_DOT = "Graphviz's `dot` program is not installed (apt-get install graphviz); .dot output works without it"


class Diagram:
    """A rendered diagram: `.source` is the DOT text; shows itself inline in Jupyter."""

    def __init__(self, source: str, name: str):
        self.source, self.name = source, name

    def __str__(self) -> str:
        return self.source

    def pipe(self, format: str = "svg") -> bytes:
        """The diagram as `svg`, `png`, `pdf` (through Graphviz) or `dot` bytes."""
        if format not in FORMATS:
            raise RenderError(f"unknown output format '{format}'; use one of {', '.join(FORMATS)}", "bad-format")
        if format == "dot":
            return self.source.encode("utf-8")
        import subprocess

        import graphviz  # only to run `dot`: `netdsl check` starts without it

        try:
            return graphviz.Source(self.source).pipe(format=format, quiet=True)
        except graphviz.ExecutableNotFound:
            raise RenderError(NO_DOT, "no-dot") from None
        except (graphviz.CalledProcessError, subprocess.CalledProcessError) as err:
            detail = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines()
            raise RenderError(f"dot failed: {detail[0] if detail else err}", "dot-failed") from None

    def _repr_svg_(self) -> str:
        return self.pipe("svg").decode("utf-8")

    def save(self, path: str | os.PathLike, format: str | None = None) -> Path:
        """Write the diagram; the format comes from the suffix unless given. Nothing is
        left behind on failure (it is written to a temporary file, then renamed)."""
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".")).lower()
        if fmt not in FORMATS:
            raise RenderError(f"{path}: unknown output format '{path.suffix or '(none)'}'; use .svg, .png, .pdf or .dot", "bad-format")
        write_atomic(path, self.pipe(fmt))
        return path


def write_atomic(path: Path, data: bytes) -> None:
    """netdsl.files.write_atomic, failing as a RenderError."""
    try:
        files.write_atomic(path, data)
    except files.WriteError as err:
        raise RenderError(str(err), "io") from None


# ---- the whole network -------------------------------------------------------------------
def _network(spec, opts: RenderOptions, limits: Limits, root) -> tuple[Graph, View]:
    graph = api.check(spec, opts.params, limits=limits, root=root)
    return graph, _view(opts)


def _view(opts: RenderOptions, **extra) -> View:
    from .layout import View

    return View(opts.depth, opts.expand, opts.symbolic, **extra)


# ---- one block ------------------------------------------------------------------------------
def _find_block(program: Program, wanted: str) -> str:
    for name in program.blocks:
        if same_name(name, wanted):
            return name
    close = difflib.get_close_matches(wanted, sorted(program.blocks), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f"; the spec defines {', '.join(sorted(program.blocks)) or 'no blocks'}"
    raise RenderError(f"unknown block '{wanted}'{hint}", "unknown-block")


def _split_params(program: Program, block: str, params: dict) -> tuple[dict, dict]:
    """--set values for the network's parameters and for the block's."""
    net = {p.name for p in program.network.params} if program.network else set()
    mine = {p.name for p in program.blocks[block].params}
    unknown = [k for k in params if k not in net | mine]
    if unknown:
        raise RenderError(f"--set {unknown[0]}: neither a parameter of the network nor of block '{block}'", "unknown-parameter")
    return {k: v for k, v in params.items() if k in net}, {k: v for k, v in params.items() if k in mine}


def _checked(program: Program, graph: Graph, reporter: Reporter) -> Graph:
    if not reporter.errors and graph.nodes:
        infer_shapes(graph, reporter, program.limits)
    if reporter.errors:
        raise NetdslError(reporter.diagnostics, api.Analysis(program, graph, reporter.diagnostics))
    return graph


def _recompute_derived(decl, args: dict, overrides: dict, shape) -> dict:
    """The first use's arguments with those set by hand, and the parameters whose default
    is computed from others (`hidden: int = round(in_channels * t)`) computed again from
    them rather than taken from the first use."""
    out = dict(args)
    for p in decl.params:
        if p.name in overrides or p.default is None or not any(isinstance(n, ast.Name) for n in walk(p.default)):
            continue
        env = {k: Bound(v, k) for k, v in out.items()} | {IN_CHANNELS: Bound(shape[0], IN_CHANNELS)}
        try:
            out[p.name] = evaluate(p.default, env).value
        except EvalError:
            pass  # keep the first use's value; the elaboration reports what is wrong
    return out


def _first_use(graph: Graph, block: str):
    """The first instance of `block` in the network, and the node that feeds it."""
    frame = next((f for f in graph.frames if f.kind == "block" and f.block == block), None)
    if frame is None:
        return None, None
    members = {n.id for n in graph.nodes if frame in graph.frame_chain(n.frame)}
    feed = next(i for n in sorted(members) for i in graph.nodes[n].inputs if i not in members)
    return frame, graph.nodes[feed]


def _feed_label(feed) -> str:
    """What the paper writes on the box under a block: its input, or the op before it."""
    if feed.op == Input.name:
        return input_label(feed.shape)
    if op_of(feed.op).multi_input or op_label(feed, False).endswith("activation"):
        return op_label(feed, False)
    return "Previous layer"


def _block(spec, opts: RenderOptions, limits: Limits, root) -> tuple[Graph, View]:
    program = api.load_spec(spec, limits, root)
    name = _find_block(program, opts.block)
    net_params, block_params = _split_params(program, name, opts.params)
    if program.network is None:  # a library: the block with its defaults (stand-ins for the rest), no shapes
        return _library_block(program, name, block_params, opts)
    reporter = Reporter()
    network = _checked(program, elaborate(program, api.parse_overrides(net_params), reporter), reporter)
    frame, feed = _first_use(network, name)
    if frame is None:  # the network never makes one (with these parameters): drawn as a library's block is
        return _library_block(program, name, block_params, opts)
    overrides = {k: b.value for k, b in api.parse_overrides(block_params).items()}
    args = {**frame.args, **overrides}
    if overrides:
        args = _recompute_derived(program.blocks[name], args, overrides, feed.shape)
    reporter = Reporter()
    graph = elaborate_block(program, name, feed.shape, args, reporter, opts.symbolic)
    _checked(program, graph, reporter)
    return graph, _view(opts, root=0, input_text=_feed_label(feed))


def _library_block(program: Program, name: str, block_params: dict, opts: RenderOptions) -> tuple[Graph, View]:
    from ..library import STAND_IN_INT, stand_in

    decl = program.blocks[name]
    args = {p.name: stand_in(p.type) for p in decl.params if p.default is None}
    args.update({k: b.value for k, b in api.parse_overrides(block_params).items()})
    reporter = Reporter()
    graph = elaborate_block(program, name, (STAND_IN_INT,) * 3, args, reporter, opts.symbolic)
    if reporter.errors:
        raise NetdslError(reporter.diagnostics, api.Analysis(program, graph, reporter.diagnostics))
    return graph, _view(opts, root=0, input_text="Previous layer")


def render(spec: str | os.PathLike, *, limits: Limits = Limits(), root=None, **options) -> Diagram:
    """Draw a spec (a path or spec text). Options are :class:`RenderOptions`' fields:
    `block`, `depth`, `expand`, `shapes`, `direction`, `symbolic`, `params`.
    Spec errors raise NetdslError; bad requests raise RenderError."""
    if isinstance(options.get("expand"), str):
        options["expand"] = (options["expand"],)
    options["expand"] = tuple(options.get("expand") or ())
    options["params"] = dict(options.get("params") or {})
    try:
        opts = RenderOptions(**options)
    except TypeError as err:
        raise RenderError(f"render(): {err}", "bad-option") from None
    opts.validate()
    from .dot import to_dot
    from .layout import plan

    graph, view = (_block if opts.block else _network)(spec, opts, limits, root)
    shapes = opts.show_shapes and all(n.shape is not None for n in graph.nodes if n.op != INVALID)  # a library has none
    return Diagram(to_dot(plan(graph, view), graph.name, opts.direction, shapes), graph.name)
