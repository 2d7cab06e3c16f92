"""Spec text -> the same spec in the one canonical layout, comments kept.

The layout is driven by tokens and bracket nesting, not by grammar rules, so a new
construct mostly formats right without an edit here:

- a line per statement (the AST tells where statements and top-level items start) and
  per concat branch (a `|` directly inside braces); `{` ends a line and `}` starts one,
  so `} else {`, `} shortcut {` and `} -> relu` stay together; four spaces per open brace;
- one space between tokens except after an opening bracket, before a closing one and
  before `,` `:`; no space around the `=` of a keyword argument (`stride=2`) but around
  the `=` of a parameter default (`k: int = 1`) and of an assignment; a call's `(`/`[`
  hugs its name; unary `-` hugs its operand;
- a trailing comma is dropped unless it makes a one-element tuple;
- a line longer than :data:`WIDTH` (comments not counted) or holding a comment inside
  is split: first before each `->` outside brackets (the continuation one level
  deeper), else by putting each comma-separated item of its largest bracket pair on a
  line of its own;
- own-line comments stay above the token they preceded, at its indent; a comment after
  code stays at the end of that token's line, and the comments of consecutive lines
  start in one column (as gofmt aligns them); one blank line at most is kept between
  statements, none after `{` or before `}`, exactly one between top-level items.

What a new grammar rule may need here: a keyword after which `(` or `[` is an operand,
not a call (`for (a, b) in ...`), goes into OPERATOR_WORDS; a new statement is an
`ast.Stmt` (or a class named `...Stmt`) so that it starts a line; a new unary operator
joins `-` and `+` in `_facts`; braces that do not hold statements would need a rule of
their own (every `{` here opens a body).

:func:`format_source` checks that the result parses to the same tree as the input."""

from __future__ import annotations

import dataclasses
from bisect import bisect_left
from typing import get_args

from ..diagnostics import Span
from ..syntax import ast, parse
from .tokens import Comment, Token, tokenize

__all__ = ["WIDTH", "FormatterBug", "format_source"]

WIDTH = 120  # the project's line length (pyproject.toml, ruff)
INDENT = "    "
OPENERS, CLOSERS = "([{", ")]}"
# words after which a bracket is an operand, not a call's: `if (a) ...`, `input [3, 224, 224]`
OPERATOR_WORDS = frozenset(
    {
        "if",
        "elif",
        "else",
        "and",
        "or",
        "not",
        "in",
        "is",
        "x",
        "as",
        "for",
        "import",
        "input",
        "output",
        "when",
        "return",
    }
)
_VALUE_TYPES = frozenset({"NAME", "INT", "FLOAT", "KERNEL", "STRING"})
_UNMOVABLE = (",", "{")  # tokens that never start a line: comments around them move to a neighbour


@dataclasses.dataclass
class _Facts:
    """What the pre-pass learnt about each token (by index)."""

    match: dict[int, int]  # bracket -> its partner
    hug: set[int]  # `(`/`[` of a call or subscript, `=` of a keyword argument, unary signs, `:` of a slice
    dropped: set[int]  # trailing commas left out


def format_source(text: str, path: str | None = None) -> str:
    """`text` (a whole .net file) in the canonical layout. A file that does not parse
    raises :class:`netdsl.diagnostics.NetdslError` with the syntax diagnostic; the result is checked to
    parse to the same tree (an internal error otherwise, never a changed spec)."""
    file = path or "<string>"
    text = text.removeprefix("\ufeff")  # as the parser does: a byte order mark is not part of the spec
    tree = parse(text, file)
    tokens, tail = tokenize(text)
    result = _Layout(tokens, tail, _statement_starts(tree, tokens)).text()
    if parse(result, file) != tree:  # the layout must never change what the spec means
        raise FormatterBug(f"{file}: formatting would change what the spec means (a bug in netdsl fmt)")
    return result


class FormatterBug(RuntimeError):
    """The layout of a file would not parse back to its tree: a bug here, not in the spec."""


# ---- where statements start ---------------------------------------------------------------
_STATEMENTS = tuple(get_args(ast.Stmt))


def _statement_starts(tree: ast.Module, tokens: list[Token]) -> set[int]:
    """Indices of the tokens that begin a statement or a top-level item. A statement the
    parser made up (the body of `4 x Block()`) does not count: a statement starts after
    an opening or closing brace or after the end of another statement."""
    spans = [
        item.span
        for f in dataclasses.fields(tree)
        if isinstance(getattr(tree, f.name), tuple)
        for item in getattr(tree, f.name)
    ]
    spans += [n.span for n in _nodes(tree) if isinstance(n, _STATEMENTS) or type(n).__name__.endswith("Stmt")]
    positions = [(t.line, t.column) for t in tokens]
    ends = {(s.end_line, s.end_column) for s in spans}
    starts = set()
    for span in spans:
        i = bisect_left(positions, (span.line, span.column))
        before = tokens[i - 1] if i else None
        if before is None or before.text in "{}" or (before.end_line, before.end_column) in ends:
            starts.add(i)
    return starts


def _nodes(tree):
    """Every syntax node under `tree`, through tuples nested to any depth (the arms of an
    `if` are (condition, body) pairs), without recursion."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            stack.extend(node)
        elif dataclasses.is_dataclass(node) and not isinstance(node, Span):
            yield node
            stack.extend(getattr(node, f.name) for f in dataclasses.fields(node))


# ---- the pre-pass: brackets, calls, keyword arguments, unary signs, trailing commas ----------------
def _facts(tokens: list[Token]) -> _Facts:
    facts = _Facts({}, set(), set())
    stack: list[list] = []  # [index of the opener, index of each comma, does this item have a `:`]
    for i, tok in enumerate(tokens):
        before = tokens[i - 1] if i else None
        text = tok.text
        if text in OPENERS:
            if text != "{" and before is not None and _ends_operand(before):
                facts.hug.add(i)
            stack.append([i, [], False])
        elif text in CLOSERS and stack:
            _close(tokens, facts, stack.pop(), i)
        elif text == "," and stack:
            stack[-1][1].append(i)
            stack[-1][2] = False
        elif text == ":" and stack:
            stack[-1][2] = True
            if tokens[stack[-1][0]].text == "[":
                facts.hug.add(i)
        elif text == "=" and stack and tokens[stack[-1][0]].text in "([" and not stack[-1][2]:
            facts.hug.add(i)
        elif text in ("-", "+") and (before is None or not _is_value_end(before)):
            facts.hug.add(i)
    return facts


def _ends_operand(tok: Token) -> bool:
    """Is a bracket after `tok` a call or a subscript (`conv(`, `repeat(`, `x[`)?"""
    if tok.text in (")", "]"):
        return True
    return tok.type == "NAME" or (tok.is_keyword and tok.text not in OPERATOR_WORDS)


def _is_value_end(tok: Token) -> bool:
    return tok.type in _VALUE_TYPES or tok.text in (")", "]", "}")


def _close(tokens: list[Token], facts: _Facts, frame: list, i: int) -> None:
    opener, commas, _ = frame
    facts.match[opener], facts.match[i] = i, opener
    if commas and commas[-1] == i - 1:  # a trailing comma: kept only where it makes a tuple `(a,)`
        if len(commas) > 1 or opener in facts.hug or tokens[opener].text == "{":
            facts.dropped.add(i - 1)


def _move_comments(tokens: list[Token], facts: _Facts) -> None:
    """Comments around a comma, a `{` or a dropped comma go to a neighbour that can end
    or start a line, so that `a,  # c` and `f(x) {  # c` keep them on that line; the
    order of the comments is kept."""
    for i, tok in enumerate(tokens):
        dropped = i in facts.dropped
        if (tok.text not in _UNMOVABLE and not dropped) or i == 0 or i + 1 == len(tokens):
            continue
        before, after = tokens[i - 1], tokens[i + 1]
        own, tok.trailing = tok.trailing, None
        spill, tok.leading = tok.leading, []
        if dropped and own is not None and not spill and before.trailing is None:
            before.trailing, own = own, None
        elif not dropped and before.trailing is not None:
            tok.trailing, before.trailing = before.trailing, None
        elif not dropped and not spill:
            tok.trailing, own = own, None
        if own is not None:
            spill.append(own)
        after.leading[:0] = [_own_line(c) for c in spill]


def _own_line(comment: Comment) -> Comment:
    return dataclasses.replace(comment, own_line=True, blank_before=False)


# ---- the layout -----------------------------------------------------------------------------
class _Layout:
    def __init__(self, tokens: list[Token], tail: list[Comment], starts: set[int]):
        self.facts = _facts(tokens)
        _move_comments(tokens, self.facts)
        self.tokens, self.tail, self.starts = tokens, tail, starts
        self.out: list[str] = []

    def text(self) -> str:
        previous: tuple[int, list[int]] | None = None
        for depth, line in self._logical_lines():
            self._blank_line(previous, depth, line)
            first = self.tokens[line[0]]
            closing = first.text == "}"  # the comments at the end of a body keep the body's indent
            self.out.extend(
                self._comments(
                    first.leading, depth + closing, blank_lines=True, blank_after=first.blank_before and not closing
                )
            )
            self.out.extend(self._render(line, depth))
            previous = (depth, line)
        for comment in self.tail:
            if comment.blank_before and self.out:
                self.out.append("")
            self.out.append(comment.text)
        return "\n".join(_align_comments(self.out)) + "\n" if self.out else ""

    # -- statements and braces --
    def _logical_lines(self):
        """(brace depth, token indices) per line before any splitting for width."""
        tokens, line, depth = self.tokens, [], 0
        for i, tok in enumerate(tokens):
            if i in self.facts.dropped:
                continue
            if line and self._breaks_before(i):
                yield depth, line
                line = []
            if tok.text == "}":
                depth -= 1
            line.append(i)
            if tok.text == "{":
                depth += 1
                if not self._empty_braces(i):
                    yield depth - 1, line
                    line = []
        if line:
            yield depth, line

    def _breaks_before(self, i: int) -> bool:
        tok = self.tokens[i]
        if i in self.starts:
            return True
        if tok.text == "}":
            return not self._empty_braces(self.facts.match.get(i, -1))
        return tok.text == "|" and self._inside_braces(i)

    def _empty_braces(self, opener: int) -> bool:
        closer = self.facts.match.get(opener)
        return closer == opener + 1 and self.tokens[opener].trailing is None and not self.tokens[closer].leading

    def _inside_braces(self, i: int) -> bool:
        depth = 0
        for j in range(i - 1, -1, -1):
            text = self.tokens[j].text
            if text in CLOSERS:
                depth += 1
            elif text in OPENERS:
                if depth == 0:
                    return text == "{"
                depth -= 1
        return False

    def _blank_line(self, previous, depth: int, line: list[int]) -> None:
        if previous is None:
            return
        first, prev_line = self.tokens[line[0]], previous[1]
        if self.tokens[prev_line[-1]].text == "{":
            return  # none right after an opening brace
        wanted = first.leading[0].blank_before if first.leading else first.blank_before
        if first.text == "}" and not first.leading:
            wanted = False
        if depth == 0 and line[0] in self.starts and self._ends_item(prev_line, line):
            wanted = True
        if wanted:
            self.out.append("")

    def _ends_item(self, previous: list[int], line: list[int]) -> bool:
        """Does the top-level line `previous` end a declaration, or the imports before `line`?"""
        if self.tokens[previous[-1]].text == "}":
            return True
        return self.tokens[previous[0]].text == "import" and self.tokens[line[0]].text != "import"

    # -- one logical line, split when it does not fit --
    def _render(self, line: list[int], depth: int, suffix: str = "") -> list:
        """The lines of `line` (its first token's leading comments are the caller's);
        `suffix` goes at the end of the last one (the comma added after an item)."""
        tokens, out = self.tokens, []
        forced = [k for k in range(len(line) - 1) if tokens[line[k]].trailing or tokens[line[k + 1]].leading]
        flat = INDENT * depth + self._join(line) + suffix
        if not forced and len(flat) <= WIDTH:
            return out + [self._with_comment(flat, line[-1])]
        for split in (self._split_arrows, self._split_brackets):
            parts = split(line, depth, forced)
            if parts:
                for k, (part, part_depth, part_suffix) in enumerate(parts):
                    if k:
                        out += self._comments(tokens[part[0]].leading, part_depth, blank_lines=False)
                    out += self._render(part, part_depth, part_suffix + (suffix if k == len(parts) - 1 else ""))
                return out
        return out + self._split_forced(line, depth, forced, suffix)

    @staticmethod
    def _comments(comments: list[Comment], depth: int, blank_lines: bool, blank_after: bool = False) -> list[str]:
        """Own-line comments at `depth`; with `blank_lines`, the blank lines between them
        (and after them, `blank_after`) are kept."""
        out = []
        for k, comment in enumerate(comments):
            if blank_lines and k and comment.blank_before:
                out.append("")
            out.append(INDENT * depth + comment.text)
        if blank_lines and comments and blank_after:
            out.append("")
        return out

    def _split_arrows(self, line: list[int], depth: int, forced) -> list | None:
        cuts = [k for k in self._top_level(line) if k > 0 and self.tokens[line[k]].text == "->"]
        if not cuts:
            return None
        bounds = [0, *cuts, len(line)]
        return [(line[a:b], depth if a == 0 else depth + 1, "") for a, b in zip(bounds, bounds[1:])]

    def _split_brackets(self, line: list[int], depth: int, forced) -> list | None:
        groups = [
            (k, line.index(self.facts.match[line[k]]))
            for k in self._top_level(line)
            if self.tokens[line[k]].text in "([" and self.facts.match.get(line[k]) in line
        ]
        groups = [(o, c) for o, c in groups if c > o + 1]
        if not groups:
            return None
        holding = [(o, c) for o, c in groups if any(o <= f < c for f in forced)]
        opener, closer = max(holding or groups, key=lambda g: g[1] - g[0])
        items = self._items(line[opener + 1 : closer])
        # a call's or a declaration's items end in a comma, the last one too (the grammar allows it there)
        comma = (
            "," if line[opener] in self.facts.hug and len(items) > 1 and self.tokens[line[opener]].text == "(" else ""
        )
        last = [(items[-1], depth + 1, "" if self.tokens[items[-1][-1]].text == "," else comma)]
        return [
            (line[: opener + 1], depth, ""),
            *((item, depth + 1, "") for item in items[:-1]),
            *last,
            (line[closer:], depth, ""),
        ]

    def _items(self, inner: list[int]) -> list[list[int]]:
        items, current = [], []
        top = set(self._top_level(inner))
        for k, i in enumerate(inner):
            current.append(i)
            if k in top and self.tokens[i].text == ",":
                items.append(current)
                current = []
        return items + ([current] if current else [])

    def _split_forced(self, line: list[int], depth: int, forced, suffix: str) -> list:
        out, start = [], 0
        for k in [*forced, len(line) - 1]:
            part = line[start : k + 1]
            part_depth = depth if start == 0 else depth + 1
            if start:
                out += self._comments(self.tokens[part[0]].leading, part_depth, blank_lines=False)
            end = suffix if k == len(line) - 1 else ""
            out.append(self._with_comment(INDENT * part_depth + self._join(part) + end, part[-1]))
            start = k + 1
        return out

    def _top_level(self, line: list[int]) -> list[int]:
        """Positions in `line` outside any bracket opened within it."""
        result, depth = [], 0
        for k, i in enumerate(line):
            text = self.tokens[i].text
            if text in CLOSERS and depth:
                depth -= 1
            if depth == 0:
                result.append(k)
            if text in OPENERS and self.facts.match.get(i) in line[k + 1 :]:
                depth += 1
        return result

    # -- tokens into text --
    def _with_comment(self, text: str, last: int):
        comment = self.tokens[last].trailing
        return (text, comment.text) if comment else text

    def _join(self, line: list[int]) -> str:
        parts = []
        for k, i in enumerate(line):
            if k:
                parts.append(self._space(line[k - 1], i))
            parts.append(self._text(self.tokens[i]))
        return "".join(parts)

    @staticmethod
    def _text(tok: Token) -> str:
        return tok.text if tok.type == "STRING" else " ".join(tok.text.split())

    def _space(self, a: int, b: int) -> str:
        left, right, hug = self.tokens[a].text, self.tokens[b].text, self.facts.hug
        if right in (")", "]", ",") or left in ("(", "[") or right == ":" or "." in (left, right):
            return ""
        if left == "{" and right == "}":
            return ""
        if right in ("(", "["):
            return "" if b in hug else " "
        if a in hug and left in ("-", "+", ":"):
            return ""
        if (left == "=" and a in hug) or (right == "=" and b in hug):
            return ""
        return " "


def _align_comments(lines: list) -> list[str]:
    """Lines as text; the trailing comments of consecutive lines (a `(code, comment)`
    pair each) start in one column, two spaces after the longest code (as gofmt does)."""
    out, run = [], []
    for line in [*lines, ""]:
        if isinstance(line, tuple):
            run.append(line)
            continue
        if run:
            column = max(len(code) for code, _ in run) + 2
            out += [f"{code:<{column}}{comment}" for code, comment in run]
            run = []
        out.append(line)
    return out[:-1]
