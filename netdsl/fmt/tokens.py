"""The token stream of a .net file with its comments, as the grammar's own lexer sees it.

Lark drops `%ignore`d terminals, so the comments are collected by a lexer callback while
an interactive parse of the same grammar (contextual lexer, the parser's states) hands
over every other token. Nothing here knows the grammar's rules: a terminal added to
grammars/netdsl.lark is lexed here as it is by the parser."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cache

from lark import Lark
from lark.exceptions import UnexpectedToken

from ..syntax.parser import grammar_path, keyword_as_name

__all__ = ["Comment", "Token", "tokenize"]

_local = threading.local()  # the comment list of the tokenization running in this thread


@dataclass
class Comment:
    text: str
    line: int
    end_line: int
    own_line: bool  # nothing but blanks before it on its line
    blank_before: bool = False  # a blank line between it and what precedes it


@dataclass
class Token:
    type: str  # the grammar's terminal: NAME, INT, STRING, ... or Lark's name for a keyword/punctuation
    text: str
    line: int
    column: int
    end_line: int
    end_column: int
    leading: list[Comment] = field(default_factory=list)  # own-line comments just above it
    trailing: Comment | None = None  # the comment that ends its line
    blank_before: bool = False  # a blank line between it (or its first leading comment) and what precedes

    @property
    def is_word(self) -> bool:
        return self.text[:1].isalpha() or self.text[:1] == "_"

    @property
    def is_keyword(self) -> bool:  # a literal word of the grammar (`block`, `if`, `x`), not a NAME
        return self.is_word and self.type != "NAME"


def _collect(token) -> None:
    _local.comments.append(token)


@cache
def _lexer() -> Lark:
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        start="start",
        lexer_callbacks={"COMMENT": _collect},
        maybe_placeholders=True,
    )


def _raw(text: str) -> tuple[list, list]:
    _local.comments = []
    try:
        interactive = _lexer().parse_interactive(text)
        tokens = []
        for token in interactive.lexer_thread.lex(interactive.parser_state):  # Lark's iter_parse, with names
            try:
                interactive.feed_token(token)
            except UnexpectedToken:  # a keyword where a name stands, as the parser reads it
                token = keyword_as_name(token, interactive.choices())
                if token is None:
                    raise
                interactive.feed_token(token)
            tokens.append(token)
        interactive.feed_eof()
        return tokens, _local.comments
    finally:
        _local.comments = []


def tokenize(text: str) -> tuple[list[Token], list[Comment]]:
    """The tokens of a file that parses, each with the comments attached to it, and the
    comments after the last token. Own-line comments lead the next token; a comment
    after code trails the token before it."""
    raw, raw_comments = _raw(text)
    lines = text.splitlines()
    tokens = [Token(t.type, str(t), t.line, t.column, t.end_line, t.end_column) for t in raw]
    comments = [
        Comment(str(c).rstrip(), c.line, c.end_line, not lines[c.line - 1][: c.column - 1].strip())
        for c in raw_comments
    ]
    return _attach(tokens, comments)


def _attach(tokens: list[Token], comments: list[Comment]) -> tuple[list[Token], list[Comment]]:
    ci = 0
    last = 0  # the last line holding something already placed (a token or a comment)
    before: Token | None = None
    for token in tokens:
        while ci < len(comments) and comments[ci].line < token.line:
            last = _place(comments[ci], before, token.leading, last)
            ci += 1
        token.blank_before = bool(before is not None or token.leading) and token.line > last + 1
        before, last = token, token.end_line
    rest: list[Comment] = []
    for comment in comments[ci:]:
        _place(comment, before, rest, last)
        last = comment.end_line
    return tokens, rest


def _place(comment: Comment, before: Token | None, leading: list[Comment], last: int) -> int:
    """Attach one comment; the last line now placed."""
    if not comment.own_line and before is not None:
        before.trailing = comment
    else:
        comment.blank_before = bool(before is not None or leading) and comment.line > last + 1
        leading.append(comment)
    return comment.end_line
