"""What both code generators (`torch/codegen.py`, the plain module; `optimizer/flat.py`,
the optimized one) share: the names Python and every generated file already bind, the
namespace that hands out a scope's names (:class:`Namespace`), the rule that makes a
layer's name an attribute, the writer that lays out the statements
and keeps where each came from (the line map), and the result type.

The line map is data: every statement is written with the span of the spec it comes
from, and :meth:`Writer.render` turns that into the file's `# file:line` comments by one
rule (one comment per run of statements from the same spec line: after the statement
where the run is one line and the comment fits, above the run otherwise) and into
:attr:`GeneratedCode.line_map`.

Pure Python: `netdsl compile` writes a file without importing torch."""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Callable, Container, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..diagnostics import Span
from ..ir.naming import reserved_label
from ..ops.base import Lowered
from .pyexpr import literal, to_py
from .pyformat import WIDTH, inert, layout

__all__ = ["BUILTINS", "FILE_NAMES", "KEYWORDS", "GeneratedCode", "Line", "Namespace", "Writer", "assemble", "attribute_name", "constant",
           "lowered_arguments"]

KEYWORDS = frozenset(keyword.kwlist)
BUILTINS = frozenset(dir(builtins))
# the names a generated file binds at module level or in every method: its imports and `self`
FILE_NAMES = frozenset({"self", "torch", "nn", "math", "fnmatch", "OrderedDict"})


@dataclass(frozen=True)
class GeneratedCode:
    """A generated module: its source, the network's class name in it, and the spec file
    it was written from (the name it is executed under, for tracebacks)."""

    source: str
    class_name: str
    filename: str
    # (line of `source`, 1-based; the spec span it was written from), for every line of a
    # statement that comes from the spec
    line_map: tuple[tuple[int, Span], ...] = ()

    def spec_span(self, line: int) -> Span | None:
        """The spec position line `line` of the source was written from (None: it was not)."""
        return dict(self.line_map).get(line)


class Namespace:
    """The names one generated scope binds (torch.fx's `_Namespace` is the model): each
    is handed out once, and the spec's own names keep their spelling (`claim` them
    first), so the generator's names give way: `create(base)` is `base` if free, else
    `base2`, `base3`, ... (`sep` between base and number: attributes read `conv1_2`,
    apart from `conv12`). A name `reserved` says is never handed out. A name given back
    with `release` (a dead forward variable) is handed out again before a new one: one of
    `prefer` where released, else the lowest-numbered, so that names stay few and stable."""

    def __init__(self, reserved: Callable[[str], bool] = lambda name: False, taken: Iterable[str] = (), sep: str = ""):
        self.reserved = reserved
        self.taken = set(taken)
        self.sep = sep
        self.released: list[str] = []

    def __contains__(self, name: str) -> bool:
        return name in self.taken

    def claim(self, name: str) -> None:
        """A name bound by other means (a spec name, a constructor argument)."""
        self.taken.add(name)

    def create(self, base: str, prefer: Iterable[str] = ()) -> str:
        for name in (*(p for p in prefer if p in self.released), *sorted(self.released, key=_number)):
            self.released.remove(name)
            return name
        name, n = base, 1
        while name in self.taken or self.reserved(name):
            n += 1
            name = f"{base}{self.sep}{n}"
        self.taken.add(name)
        return name

    def release(self, name: str) -> None:
        self.released.append(name)


def _number(name: str) -> int:
    """The number `Namespace.create` gave a name: `x` 1, `x2` 2."""
    return int(re.search(r"[0-9]*$", name).group() or 1)


def attribute_name(layer: str, names: Namespace, reserved: Container[str] = KEYWORDS) -> str:
    """A module attribute for the layer named `layer` (`stem.conv` -> `stem_conv`), from
    `names` (a namespace numbering with `_`: `conv1_2`): an identifier that is no
    keyword, no name torch.nn.Module reserves and none in `reserved`."""
    base = layer.replace(".", "_")
    if base in KEYWORDS or base in reserved or reserved_label(base) or not base.isidentifier():
        base += "_"
    return names.create(base)


def constant(value) -> str:
    """A constant as Python source, strings in double quotes (as ruff format writes them)."""
    return "None" if value is None else to_py(literal(value))


def lowered_arguments(op, given: dict[str, Lowered], rank: int, flat_features: Lowered | None = None,
                      extra: dict[str, object] | None = None) -> dict[str, Lowered]:
    """What an op's `torch_module` / `torch_expr` is given, in both generators: its
    parameters (`given`, the rest at the op's defaults), the rank of its input, the size a
    `flatten` makes where the op flattens, and `extra` constants a caller or a pass adds
    (`inplace`, `alpha`)."""
    args = {p.name: given[p.name] if p.name in given else Lowered(constant(p.default), p.default) for p in op.params}
    args.update({k: Lowered(constant(v), v) for k, v in (extra or {}).items()})
    args["rank"] = Lowered(str(rank), rank)
    if op.flattens:
        args["flat_features"] = flat_features
    return args


@dataclass
class Line:
    """One physical line of generated code: its text without indentation, its indentation
    (columns), the spec span it comes from, whether it continues the statement (or run of
    statements) of the line before - it then takes no `# file:line` comment of its own -
    whether it is laid out already (copied source, part of a laid-out call) rather
    than a statement `pyformat.layout` may split, and the variable it assigns where it is
    kept only if something reads that variable (see :meth:`Writer.drop_unread`)."""

    text: str
    indent: int
    span: Span | None = None
    continued: bool = False
    verbatim: bool = False
    unless_unread: str | None = None


@dataclass
class Writer:
    """Lines of code being written, at the indentation of the block being written
    (`with writer.indented():`), each with where in the spec it comes from."""

    lines: list[Line] = field(default_factory=list)
    indent: int = 0

    @contextmanager
    def indented(self, by: int = 4) -> Iterator[Writer]:
        self.indent += by
        try:
            yield self
        finally:
            self.indent -= by

    def line(self, text: str, span: Span | None = None, continued: bool = False, verbatim: bool = False) -> None:
        """A statement at the current indentation; several lines where it is a compound
        statement (each indented as it is relative to the first, all under one comment).
        `continued`: it belongs to the run of statements before it (a loop's last lines)."""
        for k, part in enumerate(text.split("\n")):
            bare = part.lstrip(" ")
            self.lines.append(Line(bare, self.indent + len(part) - len(bare), span, continued or k > 0, verbatim))

    def verbatim(self, text: str, span: Span | None = None) -> None:
        """Lines laid out already (copied source, a laid-out call): kept as they are."""
        self.line(text, span, verbatim=True)

    def assign_if_read(self, name: str, value: str, span: Span | None = None) -> None:
        """`name = value`, dropped by :meth:`drop_unread` if nothing written later reads `name`."""
        self.lines.append(Line(f"{name} = {value}", self.indent, span, unless_unread=name))

    def drop_unread(self, read: set[str]) -> None:
        """Drop the :meth:`assign_if_read` lines whose variable is not in `read`."""
        self.lines = [ln for ln in self.lines if ln.unless_unread is None or ln.unless_unread in read]

    def blank(self) -> None:
        self.lines.append(Line("", 0, verbatim=True))

    def mark(self) -> int:
        """Where the next line goes (for :meth:`nest`, :meth:`insert`, :meth:`written_since`)."""
        return len(self.lines)

    def written_since(self, mark: int) -> bool:
        return len(self.lines) > mark

    def insert(self, mark: int, text: str, span: Span | None = None) -> None:
        """A one-line statement put at `mark`, before the lines written since, at the
        current indentation."""
        self.lines.insert(mark, Line(text, self.indent, span))

    def nest(self, mark: int, header: str, span: Span | None = None) -> None:
        """Put the lines written since `mark` under `header` (`if self.training:`)."""
        for ln in self.lines[mark:]:
            ln.indent += 4
        self.insert(mark, header, span)

    def extend(self, other: Writer, by: int = 0) -> None:
        """Another writer's lines, indented `by` columns more."""
        self.lines += [Line(ln.text, ln.indent + by, ln.span, ln.continued, ln.verbatim, ln.unless_unread)
                       for ln in other.lines]

    def code(self) -> str:
        """The statements' text alone, unindented, without comments (to search, not to print)."""
        return "\n".join(ln.text for ln in self.lines)

    def render(self, first_line: int = 1) -> tuple[str, list[tuple[int, Span]]]:
        """The text, with its `# file:line` comments, and its line map (line numbers from
        `first_line`)."""
        out: list[str] = []
        spans: list[tuple[int, Span]] = []
        runs = _runs(self.lines)
        for k, ln in enumerate(self.lines):
            pad = " " * ln.indent
            text = pad + ln.text if ln.verbatim or not ln.text else layout(ln.text, pad)
            if k in runs:
                comment = f"# {inert(ln.span.file)}:{ln.span.line}"
                if runs[k] == 1 and "\n" not in text and len(text) + 2 + len(comment) <= WIDTH:
                    text = f"{text}  {comment}"
                else:  # above: ruff format counts a trailing comment in, and would split the statement
                    out.append(pad + comment)
            if ln.span is not None:
                spans += [(first_line + len(out) + j, ln.span) for j in range(text.count("\n") + 1)]
            out += text.split("\n")
        return "\n".join(out), spans


def _runs(lines: list[Line]) -> dict[int, int]:
    """Where a `# file:line` comment goes: line index -> how many lines its run covers. A
    run starts at a statement from a spec line (and indentation) other than the run's
    before it, and takes the lines that continue it; a line from no spec line (a blank
    one, `else:`, `return x`) ends it."""
    runs: dict[int, int] = {}
    start, key = -1, None
    for k, ln in enumerate(lines):
        if ln.continued and key is not None:
            runs[start] += 1
        elif ln.span is not None and ln.span.line:
            this = (ln.span.file, ln.span.line, ln.indent)
            if this == key:
                runs[start] += 1
            else:
                start, key, runs[k] = k, this, 1
        else:
            key = None
    return runs


def assemble(parts: list[str | Writer]) -> tuple[str, tuple[tuple[int, Span], ...]]:
    """A generated file from its top-level parts (copied source as text, classes being
    written as writers), two blank lines apart as ruff format puts them, and its line map."""
    texts: list[str] = []
    line_map: list[tuple[int, Span]] = []
    line = 1
    for part in parts:
        if isinstance(part, Writer):
            text, spans = part.render(first_line=line)
            line_map += spans
        else:
            text = part
        texts.append(text)
        line += text.count("\n") + 3
    return "\n\n\n".join(texts) + "\n", tuple(line_map)
