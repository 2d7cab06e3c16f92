"""What the language server answers, computed from an :class:`~netdsl.api.Analysis` and
the document's text: diagnostics, hover, definition, completion, document symbols.

Pure functions from the front end's results to lsprotocol types; the server
(:mod:`netdsl.lsp.server`) owns the documents, the debounce and the transport. Front
end only: nothing here imports torch (or pygls).

Positions: netdsl spans are 1-based lines and columns counted in code points, end
exclusive; LSP positions are 0-based lines and UTF-16 code units. :class:`Lines`
converts both ways."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types as lsp

from .. import codes
from ..api import Analysis
from ..diagnostics import Diagnostic, NetdslError, Span
from ..fmt import format_source
from ..ir import Program
from ..ir.graph import Frame, Graph, Node
from ..ops import OPS, Op, op_of
from ..ops.base import REQUIRED
from ..ops.merge import describe_shape
from ..syntax import ast
from ..syntax.format import format_expr, format_type
from ..values import format_value

__all__ = [
    "Lines",
    "Index",
    "KEYWORDS",
    "absolute",
    "uri_of",
    "path_of",
    "diagnostics",
    "hover",
    "definition",
    "completion",
    "symbols",
    "word_at",
    "block_signature",
    "op_signature",
    "doc_comment",
]

# the words of the grammar (grammars/netdsl.lark) offered by completion
KEYWORDS = (
    "block",
    "network",
    "import",
    "input",
    "output",
    "concat",
    "residual",
    "shortcut",
    "repeat",
    "for",
    "in",
    "gate",
    "as",
    "if",
    "elif",
    "else",
    "init",
    "when training",
    "and",
    "or",
    "not",
    "true",
    "false",
)

_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def absolute(file: str) -> str:
    """A span's file (shown relative to the working directory when under it) as an absolute path."""
    return os.path.abspath(file)


def uri_of(file: str) -> str:
    return Path(absolute(file)).as_uri()


def path_of(uri: str) -> str:
    """The file of a `file:` URI (others, e.g. an editor's `untitled:`, are kept as names)."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return uri
    return os.path.abspath(unquote(parsed.path))


class Lines:
    """The lines of one text, for converting between spans and LSP positions."""

    def __init__(self, text: str):
        self.lines = text.splitlines() or [""]

    def line(self, n: int) -> str:  # 0-based
        return self.lines[n] if 0 <= n < len(self.lines) else ""

    def position(self, line: int, column: int) -> lsp.Position:
        """A span's 1-based (line, column in code points) as an LSP position."""
        text = self.line(line - 1)
        prefix = text[: max(column - 1, 0)]
        return lsp.Position(max(line - 1, 0), len(prefix.encode("utf-16-le")) // 2)

    def range(self, span: Span) -> lsp.Range:
        start = self.position(span.line, span.column)
        if span.end_line and (span.end_line, span.end_column) > (span.line, span.column):
            return lsp.Range(start, self.position(span.end_line, span.end_column))
        return lsp.Range(start, lsp.Position(start.line, start.character + 1))

    def point(self, position: lsp.Position) -> tuple[int, int]:
        """An LSP position as a 1-based (line, column in code points)."""
        text = self.line(position.line)
        units = 0
        for i, ch in enumerate(text):
            if units >= position.character:
                return position.line + 1, i + 1
            units += 2 if ord(ch) > 0xFFFF else 1
        return position.line + 1, len(text) + 1


def _contains(span: Span, line: int, column: int) -> bool:
    end = (span.end_line, span.end_column) if span.end_line else (span.line, span.column + 1)
    return (span.line, span.column) <= (line, column) < end or (line, column) == end


def _size(span: Span) -> tuple[int, int]:
    return (span.end_line - span.line, span.end_column - span.column if span.end_line == span.line else 10**6)


def word_at(text: str, line: int, column: int) -> str | None:
    """The identifier under a 1-based (line, column), or just before it."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return None
    for m in _WORD.finditer(lines[line - 1]):
        if m.start() + 1 <= column <= m.end() + 1:
            return m.group()
    return None


# ---- what the analysis knows, indexed for position questions ------------------------------------
@dataclass
class Index:
    """An analysis of one open document, with the questions the features ask of it."""

    path: str  # the document's file (absolute)
    text: str  # the text that was analysed
    analysis: Analysis
    program: Program | None = None  # this analysis's program, or the last one that loaded
    _members: dict[int, list[Node]] | None = field(default=None, repr=False)

    def __post_init__(self):
        self.program = self.analysis.program or self.program

    @property
    def graph(self) -> Graph | None:
        graph = self.analysis.graph
        return graph if graph is not None and graph.nodes else None

    def lines_of(self, file: str) -> Lines:
        if absolute(file) == self.path:
            return Lines(self.text)
        sources = self.analysis.sources if self.analysis.program else (self.program.sources if self.program else {})
        text = sources.get(file)
        if text is None:
            try:
                text = Path(absolute(file)).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = ""
        return Lines(text)

    def here(self, span: Span | None) -> bool:
        return span is not None and absolute(span.file) == self.path

    def members(self, frame: int) -> list[Node]:
        """The nodes made inside a frame (at any depth), in topological order."""
        if self._members is None:
            members: dict[int, list[Node]] = {}
            graph = self.graph
            for node in graph.nodes if graph else ():
                f = node.frame
                while f is not None:
                    members.setdefault(f, []).append(node)
                    f = graph.frames[f].parent
            self._members = members
        return self._members.get(frame, [])


# ---- diagnostics ----------------------------------------------------------------------------------
_SEVERITY = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning}


_IMPORT = re.compile(r'^[ \t]*import[ \t]+"([^"\n]*)"', re.M)


def _import_span(index: Index, file: str) -> Span | None:
    """The import statement of the document that brings in `file` (the first import when
    `file` comes in through another file). Read from the text: when an import fails to
    load there is no program to ask."""
    target = absolute(file)
    found = []
    for m in _IMPORT.finditer(index.text):
        line = index.text.count("\n", 0, m.start()) + 1
        column = m.start() - (index.text.rfind("\n", 0, m.start()) + 1) + 1
        span = Span(index.path, line, column + len(m.group()) - len(m.group().lstrip()), line, column + len(m.group()))
        if absolute(os.path.join(os.path.dirname(index.path), m.group(1))) == target:
            return span
        found.append(span)
    return found[0] if found else None


def diagnostics(index: Index) -> list[lsp.Diagnostic]:
    """The analysis's diagnostics for the document. An error in an imported file is shown
    where the document reaches it (the innermost instantiation in this file, else the
    import) with the error's own place as related information; one error repeated by
    every instantiation of a block is shown once, with the count; a library (a file with
    blocks and no network) is no error in an editor."""
    groups: dict[tuple, list[Diagnostic]] = {}
    for d in index.analysis.diagnostics:
        if d.code == codes.NO_NETWORK:
            continue
        groups.setdefault((d.code, d.message, d.span, d.severity), []).append(d)
    out = []
    for same in groups.values():
        d = same[0]
        message = d.message
        related = []
        anchor = d.span if index.here(d.span) else None
        if d.span is not None and anchor is None:
            anchor = next((n.span for n in d.notes if index.here(n.span)), None) or _import_span(index, d.span.file)
            message = f"{os.path.relpath(absolute(d.span.file), os.path.dirname(index.path))}:{d.span.line}:{d.span.column}: {message}"
            related.append(
                lsp.DiagnosticRelatedInformation(
                    lsp.Location(uri_of(d.span.file), index.lines_of(d.span.file).range(d.span)), d.message
                )
            )
        for note in d.notes:
            if note.span is None:
                message += f"\nnote: {note.message}"
                continue
            related.append(
                lsp.DiagnosticRelatedInformation(
                    lsp.Location(uri_of(note.span.file), index.lines_of(note.span.file).range(note.span)), note.message
                )
            )
        if len(same) > 1:
            message += f"\nnote: in {len(same) - 1} more instantiation{'s' if len(same) > 2 else ''}"
        where = Lines(index.text).range(anchor) if anchor else lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
        out.append(
            lsp.Diagnostic(
                where,
                message,
                severity=_SEVERITY.get(d.severity, lsp.DiagnosticSeverity.Error),
                code=str(d.code),
                source="netdsl",
                related_information=related or None,
            )
        )
    return out


# ---- signatures and docs --------------------------------------------------------------------------
def block_signature(decl: ast.BlockDecl) -> str:
    params = []
    for p in decl.params:
        default = f" = {format_expr(p.default)}" if p.default is not None else ""
        params.append(f"{p.name}: {format_type(p.type)}{default}")
    return f"{'network' if decl.is_network else 'block'} {decl.name}({', '.join(params)})"


def op_signature(op: Op) -> str:
    params = []
    for p in op.params:
        default = "" if p.default is REQUIRED else f" = {format_value(p.default)}"
        params.append(f"{p.name}: {format_type(p.type)}{default}")
    return f"{op.name}({', '.join(params)})"


def doc_comment(lines: Lines, span: Span) -> str:
    """The `#` comment lines right above a declaration (its doc comment)."""
    out = []
    n = span.line - 2
    while n >= 0 and lines.line(n).lstrip().startswith("#"):
        out.append(lines.line(n).lstrip()[1:].removeprefix(" "))
        n -= 1
    return "\n".join(reversed(out)).strip()


def _block_doc(index: Index, decl: ast.BlockDecl) -> str:
    return doc_comment(index.lines_of(decl.span.file), decl.span)


def _markdown(*parts: str) -> lsp.MarkupContent:
    return lsp.MarkupContent(lsp.MarkupKind.Markdown, "\n\n".join(p for p in parts if p))


def _code(text: str) -> str:
    return f"```netdsl\n{text}\n```"


def _where(span: Span, index: Index) -> str:
    return f"{os.path.relpath(absolute(span.file), os.path.dirname(index.path))}:{span.line}"


# ---- hover ----------------------------------------------------------------------------------------
def _cost(shape, params: int, macs: int) -> str:
    return f"output `{describe_shape(shape) if shape else '?'}` · {params:,} parameters · {macs:,} MACs"


def _instances(rows: list[str]) -> str:
    if len(rows) == 1:
        return rows[0]
    counts = {r: rows.count(r) for r in dict.fromkeys(rows)}
    lines = [f"- {r}" + (f" (x{n})" if n > 1 else "") for r, n in counts.items()]
    shown = "\n".join(lines[:6]) + (f"\n- ... ({len(lines) - 6} more)" if len(lines) > 6 else "")
    return f"{len(rows)} instances:\n{shown}"


def _node_hover(index: Index, nodes: list[Node]) -> lsp.MarkupContent:
    node = nodes[0]
    op = op_of(node.op)
    label = op.label(node.attrs, node.sym)
    rows = [_cost(n.shape, n.params, n.macs) for n in nodes]
    names = ", ".join(f"`{n.name}`" for n in nodes[:3]) + (", ..." if len(nodes) > 3 else "")
    return _markdown(_code(op_signature(op)) if node.op in OPS else "", f"**{label}** — {names}", _instances(rows))


def _frame_hover(index: Index, frames: list[Frame]) -> lsp.MarkupContent:
    rows = []
    for f in frames:
        members = [n for n in index.members(f.id) if n.op != "invalid"]
        shape = members[-1].shape if members else None
        rows.append(_cost(shape, sum(n.params for n in members), sum(n.macs for n in members)))
    decl = index.program.blocks.get(frames[0].block) if index.program else None
    head = [_code(block_signature(decl)), _block_doc(index, decl)] if decl else [f"block `{frames[0].block}`"]
    args = ", ".join(f"{k}={format_value(v)}" for k, v in frames[0].args.items())
    return _markdown(*head, f"`{frames[0].path}`" + (f" with {args}" if args else ""), _instances(rows))


def _network_hover(index: Index, decl: ast.BlockDecl) -> lsp.MarkupContent:
    graph = index.graph
    parts = [_code(block_signature(decl)), _block_doc(index, decl)]
    if graph is not None and graph.name == decl.name:
        inp = describe_shape(graph.input_shape) if graph.input_shape else "?"
        # (an output's shape is unknown where its shape check failed)
        shapes = [graph.nodes[o.node].shape for o in graph.outputs]
        outs = ", ".join(f"{o.name} `{describe_shape(s) if s else '?'}`" for o, s in zip(graph.outputs, shapes))
        parts.append(
            f"input `{inp}` → {outs} · {graph.total_params:,} parameters · {graph.total_macs:,} MACs "
            f"· {len(graph.nodes)} layers"
        )
    return _markdown(*parts)


def hover(index: Index, position: lsp.Position) -> lsp.Hover | None:
    line, column = Lines(index.text).point(position)
    word = word_at(index.text, line, column)
    if word is None:
        return None
    graph = index.graph
    if graph is not None:
        nodes = [
            n
            for n in graph.nodes
            if n.op not in ("input", "invalid") and index.here(n.span) and _contains(n.span, line, column)
        ]
        frames = [
            f for f in graph.frames if f.kind == "block" and index.here(f.span) and _contains(f.span, line, column)
        ]
        best_node = min((_size(n.span) for n in nodes), default=None)
        best_frame = min((_size(f.span) for f in frames), default=None)
        if best_frame is not None and (best_node is None or best_frame <= best_node):
            span = min((f.span for f in frames), key=_size)
            same = [f for f in frames if f.span == span]
            return lsp.Hover(_frame_hover(index, same), Lines(index.text).range(span))
        if best_node is not None:
            span = min((n.span for n in nodes), key=_size)
            same = [n for n in nodes if n.span == span]
            return lsp.Hover(_node_hover(index, same), Lines(index.text).range(span))
    program = index.program
    decl = program.blocks.get(word) if program else None
    if decl is None and program is not None:
        decl = next((n for n in program.entry.networks if n.name == word), None)
    if decl is not None:
        if decl.is_network:
            return lsp.Hover(_network_hover(index, decl))
        return lsp.Hover(
            _markdown(_code(block_signature(decl)), _block_doc(index, decl), f"defined at {_where(decl.span, index)}")
        )
    op = OPS.get(word)
    if op is not None:
        return lsp.Hover(_markdown(_code(op_signature(op)), op.doc))
    return None


# ---- definition -----------------------------------------------------------------------------------
def _import_at(module: ast.Module, line: int, column: int) -> ast.Import | None:
    return next((i for i in module.imports if _contains(i.span, line, column)), None)


def definition(index: Index, position: lsp.Position) -> lsp.Location | None:
    """A block's declaration (in this file or an imported one), or the file an import names."""
    line, column = Lines(index.text).point(position)
    program = index.program
    if program is None:
        return None
    imp = _import_at(program.entry, line, column)
    if imp is not None:
        target = os.path.join(os.path.dirname(index.path), imp.path)
        if os.path.isfile(target):
            return lsp.Location(
                Path(os.path.abspath(target)).as_uri(), lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
            )
    word = word_at(index.text, line, column)
    decl = program.blocks.get(word) if word else None
    if decl is None:
        return None
    return lsp.Location(uri_of(decl.span.file), index.lines_of(decl.span.file).range(decl.span))


# ---- completion -----------------------------------------------------------------------------------
def _open_call(text: str) -> str | None:
    """The name of the call whose argument list the end of `text` is in, if any."""
    code = re.sub(r'"([^"\\\n]|\\.)*"', '""', text)
    code = re.sub(r"#[^\n]*", "", code)
    depth = 0
    for i in range(len(code) - 1, -1, -1):
        ch = code[i]
        if ch in ")]":
            depth += 1
        elif ch in "([":
            if depth == 0:
                if ch == "[":
                    return None
                m = re.search(r"([A-Za-z_][A-Za-z_0-9]*)\s*$", code[:i])
                return m.group(1) if m else None
            depth -= 1
        elif ch in "{}" and depth == 0:
            return None
    return None


def _param_items(params: list[tuple[str, str, str]], given: set[str]) -> list[lsp.CompletionItem]:
    return [
        lsp.CompletionItem(
            label=f"{name}=",
            kind=lsp.CompletionItemKind.Property,
            detail=detail,
            documentation=doc or None,
            insert_text=f"{name}=",
            sort_text=f"0{i:03}",
        )
        for i, (name, detail, doc) in enumerate(params)
        if name not in given
    ]


def completion(index: Index | None, text: str, position: lsp.Position, program: Program | None) -> lsp.CompletionList:
    """In a call's argument list: the op's or block's parameters (those not yet given);
    elsewhere: ops, blocks and keywords, each with its signature."""
    lines = Lines(text)
    line, column = lines.point(position)
    offset = sum(len(x) + 1 for x in lines.lines[: line - 1]) + column - 1
    before = text[:offset]
    callee = _open_call(before)
    if callee is not None:
        start = before.rfind("(")
        given = set(re.findall(r"([A-Za-z_][A-Za-z_0-9]*)\s*=(?!=)", before[start:]))
        op = OPS.get(callee)
        if op is not None:
            return lsp.CompletionList(
                False,
                _param_items(
                    [
                        (
                            p.name,
                            f"{p.name}: {format_type(p.type)}"
                            + ("" if p.default is REQUIRED else f" = {format_value(p.default)}"),
                            p.doc,
                        )
                        for p in op.params
                    ],
                    given,
                ),
            )
        decl = program.blocks.get(callee) if program else None
        if decl is not None:
            return lsp.CompletionList(
                False,
                _param_items(
                    [
                        (
                            p.name,
                            f"{p.name}: {format_type(p.type)}" + (f" = {format_expr(p.default)}" if p.default else ""),
                            "",
                        )
                        for p in decl.params
                    ],
                    given,
                ),
            )
    items = [
        lsp.CompletionItem(
            label=name,
            kind=lsp.CompletionItemKind.Function,
            detail=op_signature(op),
            documentation=op.doc or None,
            sort_text=f"1{name}",
        )
        for name, op in sorted(OPS.items())
    ]
    for name, decl in sorted((program.blocks if program else {}).items()):
        doc = doc_comment(index.lines_of(decl.span.file), decl.span) if index else ""
        items.append(
            lsp.CompletionItem(
                label=name,
                kind=lsp.CompletionItemKind.Class,
                detail=block_signature(decl),
                documentation=doc or None,
                sort_text=f"0{name}",
            )
        )
    items += [lsp.CompletionItem(label=k, kind=lsp.CompletionItemKind.Keyword, sort_text=f"2{k}") for k in KEYWORDS]
    return lsp.CompletionList(False, items)


# ---- document symbols -----------------------------------------------------------------------------
def _name_range(lines: Lines, span: Span, name: str) -> lsp.Range:
    """Where `name` is written in the first line of `span` (its selection range)."""
    text = lines.line(span.line - 1)
    at = text.find(name, max(span.column - 1, 0))
    at = at if at >= 0 else span.column - 1
    return lines.range(Span(span.file, span.line, at + 1, span.line, at + 1 + len(name)))


def _symbols_in(stmts, lines: Lines) -> list[lsp.DocumentSymbol]:
    out: list[lsp.DocumentSymbol] = []

    def chain(c: ast.Chain):
        for step in c.steps:
            if step.label:
                out.append(
                    lsp.DocumentSymbol(
                        step.label,
                        lsp.SymbolKind.Field,
                        lines.range(step.span),
                        _name_range(lines, step.span, step.label),
                        detail=_kind_name(step.kind),
                    )
                )
            kind(step.kind)

    def kind(k):
        if isinstance(k, ast.Concat):
            for b in k.branches:
                if b.label:
                    out.append(
                        lsp.DocumentSymbol(
                            b.label,
                            lsp.SymbolKind.Field,
                            lines.range(b.span),
                            _name_range(lines, b.span, b.label),
                            detail="branch",
                        )
                    )
                chain(b.chain)
        elif isinstance(k, ast.Residual):
            body(k.body)
            body(k.shortcut or ())
        elif isinstance(k, (ast.Repeat, ast.ForLoop, ast.Gate)):
            body(k.body)

    def body(items):
        for s in items:
            if isinstance(s, ast.AssignStmt):
                out.append(
                    lsp.DocumentSymbol(
                        s.name,
                        lsp.SymbolKind.Variable,
                        lines.range(s.span),
                        _name_range(lines, s.span, s.name),
                        detail="named value",
                    )
                )
                chain(s.chain)
            elif isinstance(s, ast.ChainStmt):
                chain(s.chain)
            elif isinstance(s, ast.IfStmt):
                for _, arm in s.arms:
                    body(arm)
                body(s.otherwise)

    body(stmts)
    return out


def _kind_name(k) -> str:
    return k.name if isinstance(k, ast.Call) else type(k).__name__.lower()


def symbols(module: ast.Module, text: str) -> list[lsp.DocumentSymbol]:
    """Blocks and the network, with their named values and labelled layers inside."""
    lines = Lines(text)
    out = []
    for decl in sorted((*module.blocks, *module.networks), key=lambda d: (d.span.line, d.span.column)):
        kind = lsp.SymbolKind.Module if decl.is_network else lsp.SymbolKind.Class
        out.append(
            lsp.DocumentSymbol(
                decl.name,
                kind,
                lines.range(decl.span),
                _name_range(lines, decl.span, decl.name),
                detail=block_signature(decl),
                children=_symbols_in(decl.body, lines),
            )
        )
    return out


# ---- formatting -----------------------------------------------------------------------------------
def formatting(text: str, path: str) -> list[lsp.TextEdit]:
    """The whole document in `netdsl fmt`'s layout, as one edit (none when it is already
    formatted, or does not parse: the syntax error is already among the diagnostics)."""
    try:
        formatted = format_source(text, path)
    except NetdslError:
        return []
    if formatted == text:
        return []
    lines = text.split("\n")
    end = lsp.Position(len(lines) - 1, len(lines[-1].encode("utf-16-le")) // 2)
    return [lsp.TextEdit(lsp.Range(lsp.Position(0, 0), end), formatted)]
