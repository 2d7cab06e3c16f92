"""The front end in one call: load -> parse -> elaborate -> infer shapes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import codes
from .diagnostics import Diagnostic, NetdslError, Reporter, SourceMap, format_diagnostics, merge_repeats
from .ir import Graph, Limits, Program, elaborate, load, load_text
from .ir.expr import Bound, EvalError, evaluate
from .ir.lint import lint_module, set_defaults
from .ir.program import decode
from .nogc import paused_gc
from .shapes import infer_shapes
from .syntax import parse_expression

__all__ = ["Analysis", "analyze", "check", "load_spec", "parse_overrides"]


@dataclass
class Analysis:
    """Everything the front end learnt about a spec, errors included."""

    program: Program | None
    graph: Graph | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    failed_at: int | None = None  # first node whose shape failed
    loaded: SourceMap | None = None  # source text when loading failed before a Program existed

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    @property
    def sources(self) -> SourceMap:
        return self.program.sources if self.program else (self.loaded or SourceMap())

    def report(self) -> str:
        return format_diagnostics(self.diagnostics, self.sources)


def _is_text(spec: str | os.PathLike) -> bool:
    return isinstance(spec, str) and ("\n" in spec or "{" in spec)


def load_spec(spec: str | os.PathLike, limits: Limits = Limits(), root=None, file: str | os.PathLike | None = None) -> Program:
    """A path to a .net file, or spec text itself; with `file`, `spec` is the text of that
    file (an editor's unsaved buffer): spans name it and its imports resolve beside it."""
    if file is not None:
        path = Path(file).resolve()
        return load_text(str(spec), str(file), limits, root, base=path.parent, _self=path)
    if _is_text(spec):
        return load_text(spec, "<string>", limits, root)
    return load(Path(spec), limits, root)


def parse_overrides(pairs: dict[str, object] | None) -> dict[str, Bound]:
    """Network parameter overrides. String values are read as spec expressions
    (`--set alpha=0.5`, `--set pad="valid"`); other Python values are taken as they are."""
    out: dict[str, Bound] = {}
    for name, raw in (pairs or {}).items():
        if isinstance(raw, str):
            try:
                out[name] = evaluate(parse_expression(raw, f"--set {name}"), {})
            except NetdslError as err:
                raise NetdslError([Diagnostic(codes.BAD_SET, f"--set {name}={raw}: not a value ({err.diagnostics[0].message})", None)]) from None
            except EvalError as err:
                raise NetdslError([Diagnostic(codes.BAD_SET, f"--set {name}={raw}: {err.message}", None)]) from None
        else:
            out[name] = Bound(tuple(raw) if isinstance(raw, list) else raw, name)
    return out


def _quoted_sources(spec, diagnostics: list[Diagnostic], limits: Limits, file=None) -> SourceMap:
    """The text of the files that diagnostics point into, for quoting their lines when
    loading failed (a syntax error) before a Program held the sources."""
    sources = SourceMap()
    if file is not None:
        sources[str(file)] = str(spec).removeprefix("\ufeff")
    elif _is_text(spec):
        sources["<string>"] = spec.removeprefix("\ufeff")
    spans = [s for d in diagnostics for s in (d.span, *(n.span for n in d.notes)) if s is not None]
    for file in {s.file for s in spans} - set(sources):
        try:
            path = Path(file)
            if path.is_file() and path.stat().st_size <= limits.max_file_bytes:
                sources[file] = decode(path.read_bytes(), file)
        except (OSError, ValueError, NetdslError):
            continue
    return sources


def analyze(spec: str | os.PathLike, params: dict | None = None, *, limits: Limits = Limits(), root=None,
            file: str | os.PathLike | None = None) -> Analysis:
    """Run the whole front end and keep going as far as it can; never raises for a
    problem in the spec (those are `Analysis.diagnostics`). `file`: `spec` is the text of
    that file, not yet saved (the language server's open documents)."""
    try:
        with paused_gc():
            return _analyze(spec, params, limits, root, file)
    except RecursionError:  # only reachable with --max-nesting / --max-depth raised far past their defaults
        message = (f"the spec nests too deeply to process; keep {Limits.OVERRIDES['max_nesting']} and "
                   f"{Limits.OVERRIDES['max_depth']} near their defaults ({Limits().max_nesting}, {Limits().max_depth})")
        return Analysis(None, None, [Diagnostic(codes.LIMIT, message, None)])


def _analyze(spec, params, limits: Limits, root, file) -> Analysis:
    try:
        program = load_spec(spec, limits, root, file)
        overrides = parse_overrides(params)
    except NetdslError as err:
        return Analysis(None, None, err.diagnostics, loaded=_quoted_sources(spec, err.diagnostics, limits, file))
    reporter = Reporter()
    graph = elaborate(program, overrides, reporter)
    failed = infer_shapes(graph, reporter, limits) if graph.nodes else None
    if not reporter.errors:  # warnings about a spec that checks (a typo'd name would leave its parameter "unused")
        lint_module(program.entry, reporter)
        if program.network is not None:
            set_defaults(program.network, overrides, reporter)
    return Analysis(program, graph, merge_repeats(reporter.diagnostics), failed)


def check(spec: str | os.PathLike, params: dict | None = None, *, limits: Limits = Limits(), root=None) -> Graph:
    """The shape-checked graph of a spec, or NetdslError with every diagnostic."""
    result = analyze(spec, params, limits=limits, root=root)
    if not result.ok:
        raise NetdslError(result.diagnostics, result)
    return result.graph
