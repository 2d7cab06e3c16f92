"""One diagnostic type, one renderer (after mypy): `file:line:col: error: message [code]`.

Every user-facing failure in netdsl is a :class:`Diagnostic`. Semantic errors are
collected in a :class:`Reporter` and raised together as :class:`NetdslError`; syntax
errors stop at the first one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from .codes import EXIT_OK, ErrorCode

__all__ = ["Span", "Note", "Diagnostic", "NetdslError", "Reporter", "SourceMap", "exit_status", "format_diagnostics",
           "merge_repeats"]


@dataclass(frozen=True)
class Span:
    """A region of a source file; 1-based lines and columns, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @classmethod
    def from_meta(cls, file: str, meta) -> Span:
        # a parse-tree node (Lark's Meta, the parser's _V) or a token: both carry positions
        if getattr(meta, "line", None) is None or getattr(meta, "empty", False):
            return cls(file, 1, 1, 1, 1)
        return cls(file, meta.line, meta.column, meta.end_line, meta.end_column)


@dataclass(frozen=True)
class Note:
    message: str
    span: Span | None = None


@dataclass(frozen=True)
class Diagnostic:
    code: ErrorCode  # a constant of netdsl.codes (a str: renders and serialises as the code string)
    message: str
    span: Span | None
    severity: str = "error"
    notes: tuple[Note, ...] = ()

    def headline(self) -> str:
        where = f"{self.span}: " if self.span else "netdsl: "
        return f"{where}{self.severity}: {self.message} [{self.code}]"

    @property
    def exit_status(self) -> int:
        """1 (EXIT_SPEC), or 2 (EXIT_USAGE) for a usage code with no position: see netdsl.codes."""
        return self.code.exit_status(self.span is not None)

    def to_json(self) -> dict:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "span": str(self.span) if self.span else None,
            "notes": [{"message": n.message, "span": str(n.span) if n.span else None} for n in self.notes],
        }


class NetdslError(Exception):
    """Raised with every diagnostic that stopped a stage."""

    def __init__(self, diagnostics: Iterable[Diagnostic], partial=None):
        self.diagnostics = list(diagnostics)
        self.partial = partial  # whatever the failing stage got done (e.g. a graph)
        super().__init__("\n".join(d.headline() for d in self.diagnostics))

    @property
    def codes(self) -> list[ErrorCode]:
        return [d.code for d in self.diagnostics]


@dataclass
class Reporter:
    """Collects diagnostics (sqlglot's ErrorLevel.RAISE: report them all together)."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, code: ErrorCode, message: str, span: Span | None, notes: Iterable[Note] = ()) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, "error", tuple(notes)))

    def warning(self, code: ErrorCode, message: str, span: Span | None, notes: Iterable[Note] = ()) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, "warning", tuple(notes)))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def raise_if_errors(self, partial=None) -> None:
        if self.errors:
            raise NetdslError(self.diagnostics, partial)


def exit_status(diagnostics: Iterable[Diagnostic]) -> int:
    """The `netdsl` exit status for these diagnostics: the highest of their errors' (0 if none)."""
    return max((d.exit_status for d in diagnostics if d.severity == "error"), default=EXIT_OK)


class SourceMap(dict):
    """file name -> source text, for quoting lines under a diagnostic."""

    def line(self, file: str, line: int) -> str | None:
        text = self.get(file)
        if text is None:
            return None
        lines = text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else None


def _excerpt(span: Span, sources: SourceMap) -> list[str]:
    text = sources.line(span.file, span.line)
    if text is None:
        return []
    text = text.expandtabs(1)
    if len(text) > 200:
        return []
    end = span.end_column if span.end_line == span.line and span.end_column > span.column else span.column + 1
    width = max(1, min(end, len(text) + 1) - span.column)
    gutter = f"{span.line:>5} | "
    marker = " " * (span.column - 1) + "^" + "~" * (width - 1)
    return [gutter + text, " " * (len(gutter) - 2) + "| " + marker]


def merge_repeats(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per problem: the same error at the same place (a mistake inside a
    block definition, met once per instantiation) is kept once, with the first
    instantiation's notes and `note: in N more instantiations` (rustc's and mypy's way)."""
    first: dict[tuple, int] = {}
    repeats: dict[int, int] = {}
    out: list[Diagnostic] = []
    for d in diagnostics:
        key = (d.severity, d.code, d.message, d.span)
        if d.span is not None and key in first:
            repeats[first[key]] = repeats.get(first[key], 0) + 1
            continue
        first[key] = len(out)
        out.append(d)
    for i, n in repeats.items():
        more = Note(f"in {n} more instantiation{'s' * (n != 1)}")
        out[i] = replace(out[i], notes=(*out[i].notes, more))
    return out


def format_diagnostics(diagnostics: Iterable[Diagnostic], sources: SourceMap | None = None) -> str:
    sources = sources or SourceMap()
    out: list[str] = []
    for d in diagnostics:
        out.append(d.headline())
        if d.span:
            out.extend(_excerpt(d.span, sources))
        for note in d.notes:
            where = f"{note.span}: " if note.span else ""
            out.append(f"{where}note: {note.message}")
    return "\n".join(out)
