"""Parser tests: every construct of grammars/netdsl.lark gives the expected typed AST,
spans point at the source, and parse -> format -> parse is the identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdsl.diagnostics import NetdslError
from netdsl.syntax import ast, parse, parse_expression
from netdsl.syntax.format import format_expr, format_module

SPECS = sorted((Path(__file__).resolve().parents[1] / "specs").glob("*.net"))


# ---- small constructors so that expected trees read like the spec ---------------------
def lit(v):
    return ast.Literal(v)


def name(n):
    return ast.Name(n)


def binop(op, a, b):
    return ast.BinOp(op, a, b)


def arg(value, key=None):
    return ast.Arg(key, value)


def call(n, *args, parens=True, **kwargs):
    a = [arg(_expr(v)) for v in args] + [arg(_expr(v), k) for k, v in kwargs.items()]
    return ast.Call(n, tuple(a), parens or bool(a))


def bare(n):
    return ast.Call(n, (), False)


def _expr(v):
    if isinstance(v, (ast.Literal, ast.Name, ast.BinOp, ast.UnaryOp, ast.Conditional, ast.FuncCall,
                      ast.TupleExpr, ast.ListExpr)):
        return v
    return lit(v)


def step(kind, label=None):
    return ast.Step(label, kind)


def chain(*kinds):
    return ast.Chain(tuple(k if isinstance(k, ast.Step) else step(k) for k in kinds))


def stmt(*kinds):
    return ast.ChainStmt(chain(*kinds))


def body_of(text: str) -> tuple:
    """The statements of a one-block file `block B() { text }`."""
    return parse(f"block B() {{\n{text}\n}}\n").blocks[0].body


def expr(text: str) -> ast.Expr:
    return parse_expression(text)


def param_of(text: str) -> ast.Param:
    return parse(f"block B({text}) {{}}").blocks[0].params[0]


# ---- declarations and imports ------------------------------------------------------------
def test_empty_file_is_an_empty_module():
    assert parse("") == ast.Module("<string>", (), (), ())


def test_imports_blocks_and_a_network_are_sorted_into_the_module():
    m = parse('import "common.net"\nimport "a/b.net"\nblock A() {}\nnetwork N() {}\nblock C() {}')
    assert m.imports == (ast.Import("common.net"), ast.Import("a/b.net"))
    assert [b.name for b in m.blocks] == ["A", "C"]
    assert m.networks == (ast.BlockDecl("N", (), (), is_network=True),)


def test_string_escapes_in_an_import():
    assert parse(r'import "we\"ird\\name.net"').imports[0].path == 'we"ird\\name.net'


@pytest.mark.parametrize("text, expected", [
    ("k: int", ast.Param("k", ast.NamedType("int"), None)),
    ("k: int = 3", ast.Param("k", ast.NamedType("int"), lit(3))),
    ("alpha: float = 0.5", ast.Param("alpha", ast.NamedType("float"), lit(0.5))),
    ("flag: bool = true", ast.Param("flag", ast.NamedType("bool"), name("true"))),
    ('tag: str = "x"', ast.Param("tag", ast.NamedType("str"), lit("x"))),
    ('pad: "same" | "valid" = same',
     ast.Param("pad", ast.UnionType((ast.LiteralType("same"), ast.LiteralType("valid"))), name("same"))),
    ("k: (int, int) = 1x7",
     ast.Param("k", ast.TupleType((ast.NamedType("int"), ast.NamedType("int"))), lit((1, 7)))),
    ("sizes: [int] = [1, 2, 3]",
     ast.Param("sizes", ast.ListType(ast.NamedType("int")), ast.ListExpr((lit(1), lit(2), lit(3))))),
    ("k: int | (int, int) = (1, 7)",
     ast.Param("k", ast.UnionType((ast.NamedType("int"), ast.TupleType((ast.NamedType("int"),) * 2))),
               ast.TupleExpr((lit(1), lit(7))))),
    ('p: ("same" | int, [float])',
     ast.Param("p", ast.TupleType((ast.UnionType((ast.LiteralType("same"), ast.NamedType("int"))),
                                   ast.ListType(ast.NamedType("float")))), None)),
])
def test_parameter_types_and_defaults(text, expected):
    assert param_of(text) == expected


def test_block_and_network_parameters_allow_a_trailing_comma():
    m = parse("block B(a: int, b: int = 2,) {}\nnetwork N(alpha: float = 1.0,) {}")
    assert [p.name for p in m.blocks[0].params] == ["a", "b"]
    assert m.networks[0].params == (ast.Param("alpha", ast.NamedType("float"), lit(1.0)),)


# ---- statements ----------------------------------------------------------------------------
def test_input_and_outputs():
    net = parse("network N() {\n input [3, 2 * r, 224]\n output main\n output aux1, aux2 when training\n}").networks[0]
    assert net.body == (
        ast.InputStmt((lit(3), binop("*", lit(2), name("r")), lit(224))),
        ast.OutputStmt(("main",), False),
        ast.OutputStmt(("aux1", "aux2"), True),
    )


def test_a_flat_input():
    assert body_of("input [512]") == (ast.InputStmt((lit(512),)),)


def test_chain_with_calls_bare_ops_and_labels():
    assert body_of("conv(64, 3, stride=2) -> bn: batchnorm(eps=0.001) -> relu") == (
        stmt(call("conv", 64, 3, stride=2), step(call("batchnorm", eps=0.001), "bn"), bare("relu")),
    )


def test_empty_parentheses_are_kept_apart_from_a_bare_name():
    assert body_of("Stem()\nrelu") == (stmt(ast.Call("Stem", (), True)), stmt(bare("relu")))


def test_statements_on_separate_lines_and_on_one_line():
    assert body_of("conv(8, 3)\nrelu") == body_of("conv(8, 3) relu")


def test_named_values():
    assert body_of("x = conv(8, 1) -> relu\ny = x -> maxpool(2)") == (
        ast.AssignStmt("x", chain(call("conv", 8, 1), bare("relu"))),
        ast.AssignStmt("y", chain(bare("x"), call("maxpool", 2))),
    )


def test_concat_branches_with_and_without_labels():
    text = "concat {\n | ConvBN(96, 1)\n | tower: ConvBN(64, 1) -> ConvBN(96, 3)\n | maxpool(3, stride=1) -> p: conv(8, 1)\n}"
    expected = ast.Concat((
        ast.Branch(None, chain(call("ConvBN", 96, 1))),
        ast.Branch("tower", chain(call("ConvBN", 64, 1), call("ConvBN", 96, 3))),
        ast.Branch(None, chain(call("maxpool", 3, stride=1), step(call("conv", 8, 1), "p"))),
    ))
    assert body_of(text) == (stmt(expected),)


def test_nested_concat_and_a_labelled_concat():
    text = "mixed: concat {\n | conv(8, 1) -> concat { | conv(4, 1x3) | conv(4, 3x1) }\n | relu\n}"
    inner = ast.Concat((ast.Branch(None, chain(call("conv", 4, (1, 3)))),
                        ast.Branch(None, chain(call("conv", 4, (3, 1))))))
    outer = ast.Concat((ast.Branch(None, chain(call("conv", 8, 1), inner)), ast.Branch(None, chain(bare("relu")))))
    assert body_of(text) == (stmt(step(outer, "mixed")),)


def test_residual_plain_scaled_and_with_a_shortcut():
    plain, scaled, projected = body_of(
        "residual { conv(8, 3) }\n"
        "residual(scale=0.17) { conv(8, 1) -> relu }\n"
        "residual(0.5) { conv(16, 3, stride=2) } shortcut proj { conv(16, 1, stride=2) }\n"
        "residual { relu } shortcut { conv(4, 1) }")[:3]
    assert plain == stmt(ast.Residual((), (stmt(call("conv", 8, 3)),), None))
    assert scaled == stmt(ast.Residual((arg(lit(0.17), "scale"),), (stmt(call("conv", 8, 1), bare("relu")),), None))
    assert projected == stmt(ast.Residual((arg(lit(0.5)),), (stmt(call("conv", 16, 3, stride=2)),),
                                          (stmt(call("conv", 16, 1, stride=2)),), "proj"))


def test_shortcut_without_a_label():
    (res,) = body_of("residual { relu } shortcut { conv(4, 1) }")
    assert res.chain.steps[0].kind.shortcut_label is None
    assert res.chain.steps[0].kind.shortcut == (stmt(call("conv", 4, 1)),)


def test_gate_with_and_without_a_label():
    labelled, plain = body_of("product: gate se { global_avgpool -> conv(8, 1) -> sigmoid }\ngate { sigmoid }")
    assert labelled == stmt(step(ast.Gate("se", (stmt(bare("global_avgpool"), call("conv", 8, 1), bare("sigmoid")),)),
                                 "product"))
    assert plain == stmt(ast.Gate(None, (stmt(bare("sigmoid")),)))


def test_repeat_sugar():
    expected = ast.Repeat(lit(4), None, (stmt(ast.Call("InceptionA", (), True)),), sugar=True)
    assert body_of("4 x InceptionA()") == (stmt(expected),)
    assert body_of("4x InceptionA()") == body_of("4 x InceptionA()")
    labelled = body_of("stage: 2 x Block(k=3)")[0].chain.steps[0]
    assert labelled.label == "stage" and labelled.kind.count == lit(2)


def test_repeat_with_an_index():
    (r,) = body_of("repeat(n + 1) as i { conv(8, 3, stride=2 if i == 0 else 1) }")
    assert r == stmt(ast.Repeat(binop("+", name("n"), lit(1)), "i", (
        stmt(call("conv", 8, 3, stride=ast.Conditional(lit(2), binop("==", name("i"), lit(0)), lit(1)))),)))


def test_repeat_without_an_index():
    assert body_of("repeat(3) { relu }") == (stmt(ast.Repeat(lit(3), None, (stmt(bare("relu")),))),)


def test_for_over_a_table_with_destructuring_and_an_index():
    (loop,) = body_of("stages: for (t, c, n, s) in setting as k { repeat(n) { conv(c * t, 1) } }")
    rep = ast.Repeat(name("n"), None, (stmt(call("conv", binop("*", name("c"), name("t")), 1)),))
    want = ast.ForLoop(("t", "c", "n", "s"), True, name("setting"), "k", (stmt(rep),))
    assert loop == stmt(step(want, "stages"))


def test_for_over_a_list_and_over_a_literal_table():
    plain, single, literal = body_of("for w in widths[1:] { conv(w, 3) }\nfor (w,) in rows {}\n"
                                     "for (a, b) in [(1, 2), (3, 4)] { relu }")[:3]
    widths = ast.Slice(name("widths"), lit(1), None, None)
    assert plain == stmt(ast.ForLoop(("w",), False, widths, None, (stmt(call("conv", name("w"), 3)),)))
    assert single == stmt(ast.ForLoop(("w",), True, name("rows"), None, ()))
    rows = ast.ListExpr((ast.TupleExpr((lit(1), lit(2))), ast.TupleExpr((lit(3), lit(4)))))
    assert literal == stmt(ast.ForLoop(("a", "b"), True, rows, None, (stmt(bare("relu")),)))


def test_if_elif_else():
    (s,) = body_of("if k > 1 { conv(k, 1) } elif small { relu } elif big { } else { identity }")
    assert s == ast.IfStmt(
        ((binop(">", name("k"), lit(1)), (stmt(call("conv", name("k"), 1)),)),
         (name("small"), (stmt(bare("relu")),)),
         (name("big"), ())),
        (stmt(bare("identity")),))


def test_if_without_else():
    assert body_of("if deep { relu }") == (ast.IfStmt(((name("deep"), (stmt(bare("relu")),)),), ()),)


# ---- expressions ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3", binop("+", lit(1), binop("*", lit(2), lit(3)))),
    ("(1 + 2) * 3", binop("*", binop("+", lit(1), lit(2)), lit(3))),
    ("10 - 4 - 3", binop("-", binop("-", lit(10), lit(4)), lit(3))),
    ("a / b // c % d", binop("%", binop("//", binop("/", name("a"), name("b")), name("c")), name("d"))),
    ("-a * b", binop("*", ast.UnaryOp("-", name("a")), name("b"))),
    ("+a - -b", binop("-", ast.UnaryOp("+", name("a")), ast.UnaryOp("-", name("b")))),
    ("a + 1 < b * 2", binop("<", binop("+", name("a"), lit(1)), binop("*", name("b"), lit(2)))),
    ("a == b and c != d or e",
     binop("or", binop("and", binop("==", name("a"), name("b")), binop("!=", name("c"), name("d"))), name("e"))),
    ("not a and b", binop("and", ast.UnaryOp("not", name("a")), name("b"))),
    ("not a <= b", ast.UnaryOp("not", binop("<=", name("a"), name("b")))),
    ("a >= 1 or b > 2", binop("or", binop(">=", name("a"), lit(1)), binop(">", name("b"), lit(2)))),
    ("x if c else y if d else z",
     ast.Conditional(name("x"), name("c"), ast.Conditional(name("y"), name("d"), name("z")))),
    ("1 + x if a or b else 0", ast.Conditional(binop("+", lit(1), name("x")), binop("or", name("a"), name("b")), lit(0))),
    ("min(a, 2 * b)", ast.FuncCall("min", (arg(name("a")), arg(binop("*", lit(2), name("b")))))),
    ("make_divisible(v, divisor=8)", ast.FuncCall("make_divisible", (arg(name("v")), arg(lit(8), "divisor")))),
    ("int(round(0.75 * 64))", ast.FuncCall("int", (arg(ast.FuncCall("round", (arg(binop("*", lit(0.75), lit(64))),))),))),
    ("(1, 7)", ast.TupleExpr((lit(1), lit(7)))),
    ("(3,)", ast.TupleExpr((lit(3),))),
    ("[1, 2,]", ast.ListExpr((lit(1), lit(2)))),
    ("[]", ast.ListExpr(())),
    ('"valid"', lit("valid")),
    ('"a\\"b"', lit('a"b')),
    ("2 ** 3 ** 2", binop("**", lit(2), binop("**", lit(3), lit(2)))),
    ("-2 ** 2", ast.UnaryOp("-", binop("**", lit(2), lit(2)))),
    ("a * b ** -c", binop("*", name("a"), binop("**", name("b"), ast.UnaryOp("-", name("c"))))),
    ("dims[s]", ast.Subscript(name("dims"), name("s"))),
    ("setting[k][2]", ast.Subscript(ast.Subscript(name("setting"), name("k")), lit(2))),
    ("t[-1] ** 2", binop("**", ast.Subscript(name("t"), ast.UnaryOp("-", lit(1))), lit(2))),
    ("depths[:s]", ast.Slice(name("depths"), None, name("s"), None)),
    ("xs[1:]", ast.Slice(name("xs"), lit(1), None, None)),
    ("xs[::2]", ast.Slice(name("xs"), None, None, lit(2))),
    ("f(x)[0]", ast.Subscript(ast.FuncCall("f", (arg(name("x")),)), lit(0))),
    ("[1, 2][i + 1]", ast.Subscript(ast.ListExpr((lit(1), lit(2))), binop("+", name("i"), lit(1)))),
])
def test_expression_precedence(text, expected):
    assert expr(text) == expected


@pytest.mark.parametrize("text, value", [
    ("1x7", (1, 7)), ("7x1", (7, 1)), ("3x3", (3, 3)), ("11x11", (11, 11)),
    ("0.001", 0.001), ("1e-5", 1e-5), ("2.", 2.0), (".5", 0.5), ("1E3", 1000.0), ("42", 42),
])
def test_number_and_kernel_literals(text, value):
    got = expr(text)
    assert got == lit(value) and type(got.value) is type(value)


def test_kernel_literal_as_a_call_argument():
    assert body_of("conv(64, 1x7)") == (stmt(call("conv", 64, (1, 7))),)


# ---- lexical matters --------------------------------------------------------------------------------
def test_comments_are_ignored():
    text = "# header\nblock B() {  # trailing\n    relu  # after a step\n    # a whole line\n}\n# end"
    assert parse(text) == parse("block B() { relu }")


def test_crlf_line_endings_parse_like_lf():
    text = "network N() {\n    input [3, 32, 32]\n    conv(8, 3)   # note\n}\n"
    assert parse(text.replace("\n", "\r\n")) == parse(text)


def test_a_byte_order_mark_is_ignored():
    text = "network N() {\n    input [3, 32, 32]\n}\n"
    assert parse("\ufeff" + text) == parse(text)


def test_spans_point_at_the_source():
    m = parse("block B() {\n    conv(8,\n         3)\n    x = relu\n}\n", "f.net")
    call_stmt, assign = m.blocks[0].body
    c = call_stmt.chain.steps[0].kind
    assert (c.span.file, c.span.line, c.span.column, c.span.end_line) == ("f.net", 2, 5, 3)
    assert (assign.span.line, assign.span.column) == (4, 5)
    assert c.args[1].value.span.line == 3 and c.args[1].value.span.column == 10


def test_spans_are_not_part_of_equality():
    assert parse("block B() { relu }", "a.net").blocks == parse("block B() {\n\n   relu\n}", "b.net").blocks


def test_a_syntax_error_is_a_diagnostic_not_an_exception_of_lark():
    with pytest.raises(NetdslError) as err:
        parse("block B( {}")
    assert err.value.codes == ["syntax"]


# ---- round trip --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_format_round_trip_over_every_spec(path):
    tree = parse(path.read_text(encoding="utf-8"), path.name)
    text = format_module(tree)
    assert parse(text, path.name) == tree
    assert format_module(parse(text, path.name)) == text  # formatting is a fixed point


EVERY_CONSTRUCT = '''
import "common.net"
block Everything(a: int, b: float = 0.5, c: bool = true, d: str = "x\\"y", e: "same" | "valid" = same,
                 f: (int, int) = 1x7, g: [int] = [1, 2], h: int | (int, int) = (3, 3)) {
    x = conv(a, f, padding=e) -> bn: batchnorm(eps=1e-3)
    concat {
        | x -> relu
        | named: conv(a // 2, 1) -> concat { | relu | identity }
    }
    residual(scale=b * 2) { conv(a, 3) -> relu } shortcut proj { conv(a, 1) }
    residual { relu }
    gated: gate se { global_avgpool -> conv(a, 1) -> sigmoid }
    gate { s = relu
        s -> sigmoid }
    stage: 3 x ConvBN(a)
    repeat(-(-a // 2)) as i {
        conv(a if i == 0 else 2 * a, 3, stride=2 if not c and i < 1 else 1)
    }
    if a > 1 or c { relu } elif a % 2 != 0 { identity } elif b >= 0.25 {} else { sigmoid }
    y = maxpool((3, 3), stride=min(2, max(1, int(round(b))))) -> dropout(+b / (1 - b - 0.1))
    conv(g[0] * 2 ** len(g[1:]) + sum(g[:1]) + max(g), f[1])
    for w in g as k { conv(w + k, 1) }
    rows: for (p, q) in [(1, 2), (3, 4)] { conv(p * q, 1) } -> relu
    for (r,) in [(1,)] {}
}
network N(alpha: float = 1.0) {
    input [3, 224, 224]
    init *.bn3: zeros
    init everything.bn: constant(val=0.5)
    Everything(8)
    aux = global_avgpool -> flatten -> linear(10)
    output aux
    output aux when training
}
'''


def test_format_round_trip_over_every_construct():
    tree = parse(EVERY_CONSTRUCT, "all.net")
    assert parse(format_module(tree), "all.net") == tree


@pytest.mark.parametrize("text", [
    "(a + b) * c", "a - (b - c)", "a - b - c", "(a if b else c) + 1", "(a if b else c) if d else e",
    "not (a and b)", "(not a) == b", "(a < b) == c", "-(a + b)", "- -a", "a * -b",
    "(a or b) and c", "x if (y if a else b) else z", "[(1, 2), (3,)]", "f(a=(1 if b else 2))",
    "(a ** b) ** c", "a ** b ** c", "(-a) ** b", "-a ** b", "(a + b)[0]", "(-a)[0]", "(a ** b)[c]",
    "xs[a:b:c]", "xs[:-1][0]", "(a * b) ** (c + 1)",
])
def test_format_expr_keeps_meaning(text):
    tree = expr(text)
    assert expr(format_expr(tree)) == tree


@pytest.mark.parametrize("word", ["block", "network", "import", "else", "elif", "as", "in"])
@pytest.mark.parametrize("before", ["conv(4, 1)", "residual { conv(3, 1) }", "gate { conv(3, 1) -> sigmoid }",
                                    "concat { | conv(2, 1) | conv(2, 1) }", "repeat(2) { relu }"])
def test_a_word_that_is_a_keyword_elsewhere_names_a_value_after_any_statement(word, before):
    """`block = ...` after a residual's `}` was a syntax error (Lark's contextual lexer
    took the keyword in an LALR state shared with the end of a declaration) and a value
    after a conv; now the same everywhere a name may stand."""
    module = parse(f"network N() {{\n    input [3, 8, 8]\n    {before}\n    {word} = conv(4, 1)\n    {word} -> relu\n}}\n")
    body = module.networks[0].body
    assign, use = body[-2], body[-1]
    assert isinstance(assign, ast.AssignStmt) and assign.name == word
    assert use.chain.steps[0].kind.name == word


def test_a_keyword_where_no_name_may_stand_is_still_a_syntax_error():
    with pytest.raises(NetdslError) as err:
        parse("network N() {\n    input [3, 8, 8]\n    conv(4, 1)\n}\nblock = 3\n")
    assert "unexpected 'block'" in str(err.value) or "unexpected '='" in str(err.value)


@pytest.mark.parametrize("line", ["shortcut = conv(4, 1)", "shortcut: conv(4, 1)"])
def test_a_value_named_shortcut_after_a_residual_is_explained(line):
    """Newlines carry no meaning, so `shortcut` right after a residual is its shortcut
    clause; the syntax error says so instead of only 'expected {'."""
    with pytest.raises(NetdslError) as err:
        parse(f"network N() {{\n    input [3, 8, 8]\n    residual {{ conv(3, 1) }}\n    {line}\n}}\n")
    assert "'shortcut' right after a residual starts the residual's shortcut" in str(err.value)
    parse(f"network N() {{\n    input [3, 8, 8]\n    conv(3, 1)\n    {line}\n}}\n")  # elsewhere it is a name
