"""Text -> typed AST (:mod:`netdsl.syntax.ast`), with a span on every node.

Syntax errors stop at the first one and become a :class:`Diagnostic` that says what
was expected (Lark's ``UnexpectedInput`` turned into words)."""

from __future__ import annotations

import math
import re
import threading
from functools import cache, lru_cache
from operator import itemgetter
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.grammar import Rule
from lark.parsers.lalr_analysis import Reduce

from .. import codes
from ..diagnostics import Diagnostic, NetdslError, Note, Span
from ..nogc import paused_gc
from . import ast
from .nesting import MAX_NESTING, deepest

__all__ = ["clear_cache", "parse", "parse_expression", "grammar_path", "keyword_as_name"]


def grammar_path() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "grammars" / "netdsl.lark", here.parents[1] / "grammars" / "netdsl.lark"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("netdsl.lark not found next to the package")


@cache
def _parser() -> Lark:
    lark = Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        start=["start", "expr_start"],
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )
    callbacks = lark.parser.parser.parser.callbacks
    for rule, chain in callbacks.items():
        callbacks[rule] = _callback(rule, chain)
    _one_object_per_rule(lark.parser.parser.parser)
    return lark


class _Rule(Rule):
    """A grammar rule that hashes and compares by identity. The LALR parser looks up
    `callbacks[rule]` at every reduction; Lark's Rule hashes and compares in Python, and
    a parse table loaded from Lark's cache holds a separate copy of a rule in every entry
    that reduces by it, so each lookup ran both. With one object per rule in the table
    and as the callbacks' key, the lookup stays in C (~3% of a parse)."""

    __slots__ = ()
    __hash__ = object.__hash__
    __eq__ = object.__eq__


def _one_object_per_rule(parser) -> None:
    """Replace the rules in `parser`'s parse table and callbacks by one `_Rule` each."""
    same: dict[Rule, _Rule] = {}

    def one(rule: Rule) -> _Rule:
        if rule not in same:  # Lark's own equality: the same origin and expansion
            same[rule] = _Rule(rule.origin, rule.expansion, rule.order, rule.alias, rule.options)
        return same[rule]

    for actions in parser.parse_table.states.values():
        for token, (action, arg) in actions.items():
            if action is Reduce:
                actions[token] = (action, one(arg))
    callbacks = {one(key) if isinstance(key, Rule) else key: value for key, value in parser.callbacks.items()}
    parser.callbacks.clear()
    parser.callbacks.update(callbacks)


_local = threading.local()  # the _Builder of the parse running in this thread


class _V:
    """What a reduced rule leaves on Lark's value stack: its AST value and the region of
    source it covers (the "container" positions of Lark's `propagate_positions`: a
    parenthesised expression covers its parentheses) - `line` is None for a rule that
    matched nothing. `height` bounds the depth of the AST below it (see `_parse`)."""

    __slots__ = ("value", "line", "column", "end_line", "end_column", "height")

    def __init__(self, value, line, column, end_line, end_column, height):
        self.value, self.line, self.column = value, line, column
        self.end_line, self.end_column, self.height = end_line, end_column, height

    @property
    def empty(self) -> bool:  # read by Span.from_meta
        return self.line is None


class _Inline(_V):
    """An inlined helper rule (`stmt*`, `_step_kind`): its parent splices `children`."""

    __slots__ = ("children",)


def _callback(rule, chain):
    """One function per grammar rule doing what Lark's wrapper chain for it does
    (propagate positions, filter and splice children, expand a single child of a `?`
    rule) and then the AST builder's method - without building a parse tree, and with
    one Python call per reduction instead of four. `chain` is Lark's own callback, read
    for the rule's child filter."""
    if rule.options.expand1 and not rule.alias and len(rule.expansion) == 1 and not rule.expansion[0].is_term:
        return itemgetter(0)  # a unit rule of the precedence ladder: the child covers the rule already
    name = rule.alias or rule.options.template_source or rule.origin.name
    inline = name.startswith("_")
    expand1 = rule.options.expand1 and not rule.alias
    node = chain.node_builder  # Lark's PropagatePositions wraps the filter (or the builder)
    include = None  # no filter: every child is kept
    if hasattr(node, "to_include"):
        include = [(t[0], t[1], t[2] if len(t) > 2 else 0) for t in node.to_include]
    append_none = getattr(node, "append_none", 0) or 0

    def callback(children):
        first = last = None
        for c in children:
            if c is not None and c.line is not None:
                first = c
                break
        for c in reversed(children):
            if c is not None and c.line is not None:
                last = c
                break
        if include is None:
            kept = children
        else:
            kept = []
            for i, expand, nones in include:
                if nones:
                    kept += [None] * nones
                if expand:
                    if kept:
                        kept += children[i].children
                    else:  # left recursion (`stmt*`): keep extending the same list
                        kept = children[i].children
                else:
                    kept.append(children[i])
            if append_none:
                kept += [None] * append_none
        if first is None:
            line = column = end_line = end_column = None
        else:
            line, column, end_line, end_column = first.line, first.column, last.end_line, last.end_column
        if inline:  # no height: the parent looks at every spliced child (`stmt*` would be quadratic)
            node = _Inline(None, line, column, end_line, end_column, 0)
            node.children = kept
            return node
        height = 0
        for c in kept:
            if c.__class__ is _V and c.height > height:
                height = c.height
        if expand1 and len(kept) == 1:
            child = kept[0]
            if child.__class__ is not _V:
                return child  # a token keeps its own position
            return _V(child.value, line, column, end_line, end_column, child.height)
        result = _V(None, line, column, end_line, end_column, height + 1)
        method = getattr(_local.builder, name)
        result.value = method(result, [c.value if c.__class__ is _V else c for c in kept])
        return result

    return callback


def _value(node):
    return node.value if isinstance(node, _V) else node


MAX_DIGITS = 19  # 2**62, the evaluator's bound, has 19 digits


def _integer(digits: str, span: Span) -> int:
    """An integer literal; a thousand-digit one is an error, not a ValueError from int()."""
    if len(str(digits).lstrip("0")) > MAX_DIGITS:
        shown = str(digits)[:12] + "..."
        raise NetdslError([Diagnostic(codes.VALUE_TOO_LARGE, f"the number {shown} has {len(str(digits))} digits; "
                                      f"integers have at most {MAX_DIGITS}", span)])
    return int(digits)


# ---- tree -> AST ------------------------------------------------------------------------
def _unescape(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _Builder:
    """One method per grammar rule (or alias): `(meta, children) -> AST value`, called by
    :class:`_Node` while the LALR parser reduces, so no parse tree is kept and nothing
    recurses (10,000 nested brackets included)."""

    def __init__(self, file: str):
        self.file = file

    def _s(self, meta) -> Span:
        if meta.__class__ is _V and meta.line is not None:  # most nodes: no getattr, no `empty` property
            return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)
        return Span.from_meta(self.file, meta)

    # declarations
    def start(self, meta, items):
        imports = tuple(i for i in items if isinstance(i, ast.Import))
        blocks = tuple(i for i in items if isinstance(i, ast.BlockDecl) and not i.is_network)
        networks = tuple(i for i in items if isinstance(i, ast.BlockDecl) and i.is_network)
        return ast.Module(self.file, imports, blocks, networks, self._s(meta))

    def import_decl(self, meta, c):
        return ast.Import(_unescape(c[0]), self._s(meta))

    def block_decl(self, meta, c):
        return ast.BlockDecl(str(c[0]), c[1], c[2], False, self._s(meta))

    def network_decl(self, meta, c):
        return ast.BlockDecl(str(c[0]), c[1], c[2], True, self._s(meta))

    def params(self, meta, c):
        return tuple(p for p in c if p is not None)

    def param(self, meta, c):
        return ast.Param(str(c[0]), c[1], c[2], self._s(meta))

    # types
    def type(self, meta, c):
        return c[0] if len(c) == 1 else ast.UnionType(tuple(c), self._s(meta))

    def named_type(self, meta, c):
        return ast.NamedType(str(c[0]), self._s(meta))

    def literal_type(self, meta, c):
        return ast.LiteralType(_unescape(c[0]), self._s(meta))

    def tuple_type(self, meta, c):
        return ast.TupleType(tuple(c), self._s(meta))

    def list_type(self, meta, c):
        return ast.ListType(c[0], self._s(meta))

    # statements
    def body(self, meta, c):
        return tuple(c)

    def input_stmt(self, meta, c):
        return ast.InputStmt(tuple(c), self._s(meta))

    def output_stmt(self, meta, c):
        train = c[-1] is not None
        return ast.OutputStmt(tuple(str(n) for n in c[:-1]), train, self._s(meta))

    def assign_stmt(self, meta, c):
        return ast.AssignStmt(str(c[0]), c[1], self._s(meta))

    def chain_stmt(self, meta, c):
        return ast.ChainStmt(c[0], self._s(meta))

    def if_stmt(self, meta, c):
        arms = [(c[0], c[1])] + [arm for arm in c[2:-1]]
        return ast.IfStmt(tuple(arms), c[-1] or (), self._s(meta))

    def init_stmt(self, meta, c):
        return ast.InitStmt(str(c[0]), str(c[1]), tuple(c[2] or ()), self._s(meta))

    def elif_clause(self, meta, c):
        return (c[0], c[1])

    def chain(self, meta, c):
        return ast.Chain(tuple(c), self._s(meta))

    def step(self, meta, c):
        return ast.Step(str(c[0]) if c[0] is not None else None, c[1], self._s(meta))

    def branch_chain(self, meta, c):
        first = ast.Step(None, c[0], c[0].span)
        return ast.Chain((first, *c[1:]), self._s(meta))

    def call(self, meta, c):
        args = c[1]
        return ast.Call(str(c[0]), tuple(args) if args is not None else (), args is not None, self._s(meta))

    def concat_call(self, meta, c):  # `concat` is a keyword, so its call form has its own rule
        return ast.Call("concat", tuple(c[0] or ()), True, self._s(meta))

    def concat_group(self, meta, c):
        return ast.Concat(tuple(c), self._s(meta))

    def branch(self, meta, c):
        if len(c) == 2:
            return ast.Branch(str(c[0]), c[1], self._s(meta))
        return ast.Branch(None, c[0], self._s(meta))

    def residual_group(self, meta, c):
        args, body, shortcut = c
        label, sc_body = shortcut if shortcut is not None else (None, None)
        return ast.Residual(tuple(args or ()), body, sc_body, label, self._s(meta))

    def shortcut(self, meta, c):
        return (str(c[0]) if c[0] is not None else None, c[1])

    def gate_group(self, meta, c):
        return ast.Gate(str(c[0]) if c[0] is not None else None, c[1], self._s(meta))

    def repeat_sugar(self, meta, c):
        span = Span.from_meta(self.file, c[0])
        count = ast.Literal(_integer(c[0], span), span)
        call = c[1]
        body = (ast.ChainStmt(ast.Chain((ast.Step(None, call, call.span),), call.span), call.span),)
        return ast.Repeat(count, None, body, True, self._s(meta))

    def repeat_group(self, meta, c):
        return ast.Repeat(c[0], str(c[1]) if c[1] is not None else None, c[2], False, self._s(meta))

    def for_group(self, meta, c):
        (targets, unpack), table, index, body = c
        return ast.ForLoop(targets, unpack, table, str(index) if index is not None else None, body, self._s(meta))

    def for_name(self, meta, c):
        return ((str(c[0]),), False)

    def for_names(self, meta, c):
        return (tuple(str(n) for n in c if n is not None), True)

    def args(self, meta, c):
        return tuple(a for a in c if a is not None)

    def arg(self, meta, c):
        return ast.Arg(str(c[0]) if c[0] is not None else None, c[1], self._s(meta))

    # expressions
    def expr_start(self, meta, c):
        return c[0]

    def int_lit(self, meta, c):
        return ast.Literal(_integer(c[0], self._s(meta)), self._s(meta))

    def float_lit(self, meta, c):
        value = float(c[0])
        if not math.isfinite(value):  # 1e999: `inf` is no literal of the language
            raise NetdslError([Diagnostic(codes.VALUE_TOO_LARGE, f"the number {str(c[0])[:20]} is too large",
                                          self._s(meta))])
        return ast.Literal(value, self._s(meta))

    def str_lit(self, meta, c):
        return ast.Literal(_unescape(c[0]), self._s(meta))

    def kernel_lit(self, meta, c):
        h, w = str(c[0]).split("x")
        span = self._s(meta)
        return ast.Literal((_integer(h, span), _integer(w, span)), span)

    def name_ref(self, meta, c):
        return ast.Name(str(c[0]), self._s(meta))

    def func_call(self, meta, c):
        return ast.FuncCall(str(c[0]), c[1], self._s(meta))

    def tuple_lit(self, meta, c):
        return ast.TupleExpr(tuple(x for x in c if x is not None), self._s(meta))

    def list_lit(self, meta, c):
        return ast.ListExpr(tuple(x for x in c if x is not None), self._s(meta))

    def subscript(self, meta, c):
        return ast.Subscript(c[0], c[1], self._s(meta))

    def slice(self, meta, c):
        return ast.Slice(c[0], c[1], c[2], c[3], self._s(meta))

    def cond(self, meta, c):
        return ast.Conditional(c[0], c[1], c[2], self._s(meta))

    def _bin(op):  # noqa: N805 - a factory used in the class body
        def build(self, meta, c):
            return ast.BinOp(op, c[0], c[1], self._s(meta))

        return build

    add, sub, mul, truediv = _bin("+"), _bin("-"), _bin("*"), _bin("/")
    floordiv, mod, pow = _bin("//"), _bin("%"), _bin("**")
    or_op, and_op = _bin("or"), _bin("and")

    def compare(self, meta, c):
        return ast.BinOp(str(c[1]), c[0], c[2], self._s(meta))

    def neg(self, meta, c):
        return ast.UnaryOp("-", c[0], self._s(meta))

    def pos(self, meta, c):
        return ast.UnaryOp("+", c[0], self._s(meta))

    def not_op(self, meta, c):
        return ast.UnaryOp("not", c[0], self._s(meta))


# ---- syntax errors in words --------------------------------------------------------------
_TOKEN_WORDS = {
    "NAME": "a name", "INT": "an integer", "FLOAT": "a number", "STRING": "a string",
    "KERNEL": "a kernel size like 3x3", "COMP_OP": "an operator", "WHEN_TRAINING": "'when training'",
    "LAYER_PATTERN": "a layer pattern like *.bn3",
    "$END": "end of file",
}
_OPERATORS = {"+", "-", "*", "/", "//", "%", "**", "and", "or"}


def _describe(name: str) -> str:
    if name in _TOKEN_WORDS:
        return _TOKEN_WORDS[name]
    try:
        pattern = _parser().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return "an operator" if pattern.value in _OPERATORS else repr(pattern.value)
    return name.lower()


def _expected(expected) -> str:
    words = {_describe(e) for e in expected}
    if "an operator" in words:  # `if`/`else` of a conditional expression and a subscript's `[` are operators too
        words -= {"'if'", "'else'", "'['"}
    words = sorted(words, key=lambda w: (not w.startswith("'"), w))
    if len(words) > 14:  # a statement's start (13: every keyword, a name, an integer) is listed whole
        return ", ".join(words[:13]) + " or another token"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _syntax_diagnostic(err: UnexpectedInput, file: str, text: str) -> Diagnostic:
    line, col = getattr(err, "line", 1) or 1, getattr(err, "column", 1) or 1
    if isinstance(err, UnexpectedCharacters):
        ch = text[err.pos_in_stream] if err.pos_in_stream < len(text) else "?"
        msg = f"unexpected character {ch!r}"
        if ch == "/" and text[err.pos_in_stream:err.pos_in_stream + 2] == "//":
            msg += "; comments start with '#'"
        return Diagnostic(codes.SYNTAX, msg, Span(file, line, col, line, col + 1))
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        return _eof_diagnostic(err, file, text)
    token: Token = err.token
    width = max(1, len(str(token)))
    span = Span(file, line, col, line, col + width)
    shown = str(token) if len(str(token)) <= 30 else str(token)[:27] + "..."
    msg = f"unexpected {shown!r}; expected {_expected(_accepted(err))}"
    if str(token) == "//":
        msg += "; comments start with '#'"
    if str(token) in ("=", ":") and _after_shortcut(err):
        msg += ("; 'shortcut' right after a residual starts the residual's shortcut, so a value or layer there "
                "needs another name")
        return Diagnostic(codes.SYNTAX, msg, span)
    hint = _HINTS.get(token.type)
    if hint and hint[0] in {str(e) for e in err.expected} | {"*"}:
        msg += f" ({hint[1]})"
    return Diagnostic(codes.SYNTAX, msg, span)


def _after_shortcut(err: UnexpectedInput) -> bool:
    """Whether the token before the unexpected one is a residual's `shortcut` keyword."""
    parser = getattr(err, "interactive_parser", None)
    stack = parser.parser_state.value_stack if parser is not None else ()
    return bool(stack) and isinstance(stack[-1], Token) and stack[-1].type == "SHORTCUT"


def _accepted(err: UnexpectedInput) -> set[str]:
    """The terminals the parser would take here: exact (Lark's interactive parser)
    rather than the LALR state's lookahead set, which mixes in other contexts."""
    parser = getattr(err, "interactive_parser", None)
    if parser is not None:
        accepted = parser.accepts()
        if accepted:
            return accepted
    return set(getattr(err, "expected", ()) or ())


_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def _unclosed(text: str, file: str) -> tuple[str, Span] | None:
    """The innermost bracket left open at the end of the text, if any."""
    stack: list[Token] = []
    try:
        for tok in _parser().lex(text):
            if tok.value in _CLOSERS:
                stack.append(tok)
            elif stack and tok.value == _CLOSERS[stack[-1].value]:
                stack.pop()
    except UnexpectedInput:
        return None
    if not stack:
        return None
    tok = stack[-1]
    return tok.value, Span(file, tok.line, tok.column, tok.line, tok.column + 1)


def _eof_diagnostic(err: UnexpectedInput, file: str, text: str) -> Diagnostic:
    lines = text.splitlines() or [""]
    span = Span(file, len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
    open_bracket = _unclosed(text, file)
    if open_bracket is None:
        return Diagnostic(codes.SYNTAX, f"unexpected end of file; expected {_expected(_accepted(err))}", span)
    bracket, where = open_bracket
    msg = f"unexpected end of file; the '{bracket}' on line {where.line} is never closed"
    return Diagnostic(codes.SYNTAX, msg, span, notes=(Note(f"'{bracket}' opened here", where),))


_HINTS = {
    "EQUAL": ("*", "keyword arguments are written name=value inside parentheses"),
}


def _too_deep(file: str, span: Span | None, limit: int) -> NetdslError:
    span = span or Span(file, 1, 1, 1, 2)
    return NetdslError([Diagnostic(codes.LIMIT, f"the spec nests more than {limit} levels deep here (groups, brackets "
                                   "and operators; raise the limit with --max-nesting)", span)])


# The AST is at most this many times as deep as the parse tree (`repeat_sugar` builds
# Repeat > ChainStmt > Chain > Step above its Call), so a parse tree no deeper than
# limit // _AST_PER_RULE cannot hold an AST deeper than the limit.
_AST_PER_RULE = 5


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _keyword_as_name(err: UnexpectedInput) -> bool:
    """Where a word that is a keyword elsewhere (`block`, `network`, `else`) stands where
    the grammar wants a name, read it as the name and go on (Lark's `on_error`: True to
    resume). Lark's contextual lexer picks the keyword in a parse state LALR shares
    between contexts: the state after a residual's `}` may be followed by a `block`
    declaration in some other context, so `block = conv(4, 1)` after a residual was a
    syntax error while after a conv it was a value. A keyword the state accepts stays
    one: `shortcut` right after a residual starts its shortcut."""
    if not isinstance(err, UnexpectedToken):
        return False
    name = keyword_as_name(err.token, err.interactive_parser.choices())
    if name is None:
        return False
    err.interactive_parser.feed_token(name)
    return True


def keyword_as_name(token: Token, choices) -> Token | None:
    """`token` as a NAME where the parse state (its `choices`, once the parser has
    reduced on the token and failed) takes a name but not this keyword; None where it
    stays what it is. The one rule for the parser and the formatter's token stream."""
    if token.type == "NAME" or token.type in choices or "NAME" not in choices or not _IDENTIFIER.fullmatch(token):
        return None
    return Token.new_borrow_pos("NAME", str(token), token)


def _parse(text: str, file: str, start: str, max_nesting: int = MAX_NESTING):
    text = text.removeprefix("\ufeff")  # a byte order mark is not part of the spec
    outer = getattr(_local, "builder", None)
    _local.builder = _Builder(file)
    try:
        with paused_gc():
            tree = _parser().parse(text, start=start, on_error=_keyword_as_name)
            result = _value(tree)
    except UnexpectedInput as err:
        raise NetdslError([_syntax_diagnostic(err, file, text)]) from None
    except RecursionError:  # Lark's LALR parser is iterative; kept as a safety net
        raise _too_deep(file, None, max_nesting) from None
    finally:
        _local.builder = outer
    if getattr(tree, "height", 0) * _AST_PER_RULE > max_nesting:  # only then walk the AST to find where
        too_deep = deepest(result, max_nesting)
        if too_deep is not None:
            raise _too_deep(file, too_deep.span, max_nesting)
    return result


def parse(text: str, file: str = "<string>", max_nesting: int = MAX_NESTING) -> ast.Module:
    """Parse the text of a .net file into an :class:`ast.Module`.

    Syntax trees are immutable, so the last few parses are kept by (text, file name):
    building a model again in the same process (a notebook, a sweep, a test session)
    does not parse `common.net` again. A file that changed is parsed anew; files over
    64 KB (generated specs) are not kept."""
    if len(text) > _CACHED_TEXT:
        return _parse(text, file, "start", max_nesting)
    return _parse_cached(text, file, max_nesting)


_CACHED_TEXT = 64 * 1024


def clear_cache() -> None:
    """Forget the kept parses."""
    _parse_cached.cache_clear()


@lru_cache(maxsize=64)
def _parse_cached(text: str, file: str, max_nesting: int) -> ast.Module:
    return _parse(text, file, "start", max_nesting)


def parse_expression(text: str, file: str = "<set>") -> ast.Expr:
    """Parse a single expression, e.g. the value of `--set alpha=0.5`."""
    return _parse(text, file, "expr_start")
