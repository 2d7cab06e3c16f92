"""`netdsl lsp` end to end: the real server process over stdio, driven by pygls's
LanguageClient (tests/lsp_session.py); nothing here calls the server's functions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lsp_session import ROOT, Session
from lsprotocol import types as lsp

LIB = """\
# A convolution, its batch norm and a ReLU:
# the unit every figure calls "Conv".
block ConvBN(filters: int, kernel: int = 3, stride: int = 1) {
    conv(filters, kernel, stride=stride, padding=1, bias=false)
    bn: batchnorm
    relu
}
"""

MAIN = """\
import "lib.net"

network Tiny(classes: int = 10) {
    input [3, 32, 32]
    stem = ConvBN(16, stride=2)
    ConvBN(32)
    pool: global_avgpool -> flatten
    fc: linear(classes)
}
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("lsp")
    (d / "lib.net").write_text(LIB)
    (d / "main.net").write_text(MAIN)
    return d


@pytest.fixture(scope="module")
def session(files):
    s = Session(debounce=0.02, cwd=files)
    yield s
    s.close()


def position(text: str, needle: str, offset: int = 0) -> tuple[int, int]:
    """0-based (line, character) of the first `needle` in `text`, plus `offset` characters."""
    at = text.index(needle) + offset
    return text.count("\n", 0, at), at - (text.rfind("\n", 0, at) + 1)


def test_clean_document_publishes_no_diagnostics(session, files):
    uri = session.open(files / "main.net")
    assert session.diagnostics(uri).diagnostics == ()


def test_error_has_its_range_and_code_and_goes_away_when_fixed(session, files):
    uri = session.open(files / "typo.net", MAIN.replace("linear(classes)", "linaer(classes)"))
    [d] = session.diagnostics(uri).diagnostics
    assert d.code == "unknown-op" and d.severity == lsp.DiagnosticSeverity.Error
    line, char = position(MAIN, "linear")
    assert (d.range.start.line, d.range.start.character) == (line, char)
    assert d.range.end.line == line and d.range.end.character > char + len("linaer")
    assert "linear" in d.message  # the suggestion
    session.change(uri, MAIN)
    assert session.diagnostics(uri).diagnostics == ()
    session.change(uri, MAIN.replace("ConvBN(32)", "ConvBN(32"))
    [syntax] = session.diagnostics(uri).diagnostics
    assert syntax.code == "syntax" and syntax.range.start.line == position(MAIN, "pool:")[0]


def test_error_in_an_imported_block_is_shown_once_at_the_call_with_its_notes(session, files):
    (files / "badlib.net").write_text(LIB.replace("bn: batchnorm", "bn: batchnorn"))
    text = MAIN.replace('"lib.net"', '"badlib.net"')
    uri = session.open(files / "uses_badlib.net", text)
    [d] = session.diagnostics(uri).diagnostics
    assert d.code == "unknown-op"
    # anchored at the first instantiation in this file, pointing into the library
    assert d.range.start.line == position(text, "stem = ConvBN")[0]
    assert "1 more instantiation" in d.message
    where = {(Path(r.location.uri).name, r.location.range.start.line) for r in d.related_information}
    assert ("badlib.net", position(LIB, "bn: batchnorm")[0]) in where  # the error itself
    assert any("instantiated here" in r.message for r in d.related_information)  # the expansion note


def test_syntax_error_in_an_import_is_shown_at_the_import(session, files):
    (files / "broken.net").write_text("block B() {\n    conv(8, 3\n}\n")
    text = 'import "lib.net"\nimport "broken.net"\n' + MAIN.split("\n", 1)[1]
    uri = session.open(files / "imports_broken.net", text)
    [d] = session.diagnostics(uri).diagnostics
    assert d.code == "syntax" and d.message.startswith("broken.net:3:1: ")
    assert (d.range.start.line, d.range.start.character, d.range.end.character) == (1, 0, len('import "broken.net"'))
    [related] = d.related_information
    assert related.location.uri.endswith("/broken.net") and related.location.range.start.line == 2


def test_hover_on_a_layer_and_on_a_block_call(session, files):
    uri = session.open(files / "main.net")
    fc = session.hover(uri, *position(MAIN, "linear("))
    text = fc.contents.value
    assert "output `10`" in text
    assert "330 parameters" in text  # 32 * 10 + 10
    assert "320 MACs" in text
    stem = session.hover(uri, *position(MAIN, "ConvBN(16", 2)).contents.value
    assert "` with filters=16, kernel=3, stride=2" in stem  # the instance path, its arguments
    assert "block ConvBN(filters: int, kernel: int = 3, stride: int = 1)" in stem
    assert 'the unit every figure calls "Conv".' in stem  # the doc comment
    # conv 3*3*3*16 (no bias) + batchnorm 2*16
    assert "output `16x16x16`" in stem
    assert f"{3 * 3 * 3 * 16 + 32:,} parameters" in stem
    assert f"{3 * 3 * 3 * 16 * 16 * 16:,} MACs" in stem


def test_hover_on_the_network_whose_output_shape_is_unknown(session, files):
    # found by hovering every word of generated specs: the hover of a network whose last
    # layer failed its shape check raised IndexError in the server
    text = MAIN.replace("fc: linear(classes)", "fc: linear(classes)\n    conv(4, 3)")
    uri = session.open(files / "bad_shape.net", text)
    assert [d.code for d in session.diagnostics(uri).diagnostics] == ["needs-feature-map"]
    hover = session.hover(uri, *position(text, "Tiny")).contents.value
    assert "network Tiny(classes: int = 10)" in hover and "input `32x32x3` → out `?`" in hover


def test_definition_across_an_import(session, files):
    uri = session.open(files / "main.net")
    found = session.definition(uri, *position(MAIN, "ConvBN(32", 3))
    location = found[0] if isinstance(found, list) else found
    assert Path(location.uri[len("file://") :]) == (files / "lib.net").resolve()
    assert location.range.start.line == position(LIB, "block ConvBN")[0]
    imported = session.definition(uri, *position(MAIN, "lib.net"))
    imported = imported[0] if isinstance(imported, list) else imported
    assert imported.uri.endswith("/lib.net")


def test_completion_of_ops_blocks_and_parameters(session, files):
    uri = session.open(files / "main.net")
    everything = {i.label: i for i in session.completion(uri, *position(MAIN, "    ConvBN(32)")).items}
    assert {"conv", "batchnorm", "relu", "ConvBN", "concat", "residual"} <= set(everything)
    assert everything["ConvBN"].detail.startswith("block ConvBN(filters: int")
    assert "A convolution, its batch norm" in everything["ConvBN"].documentation
    assert everything["conv"].detail.startswith("conv(") and "stride" in everything["conv"].detail
    text = MAIN.replace("ConvBN(32)", "ConvBN(32, )")
    session.change(uri, text)
    block = {i.label for i in session.completion(uri, *position(text, "ConvBN(32, ", len("ConvBN(32, "))).items}
    assert {"filters=", "kernel=", "stride="} <= block and "conv" not in block
    text = MAIN.replace("linear(classes)", "conv(8, stride=2, )")
    session.change(uri, text)
    op = {i.label for i in session.completion(uri, *position(text, "stride=2, ", len("stride=2, "))).items}
    assert {"filters=", "padding="} <= op and "stride=" not in op  # given already
    session.change(uri, MAIN)


def test_document_symbols(session, files):
    uri = session.open(files / "main.net")
    [network] = session.symbols(uri)
    assert (network.name, network.kind) == ("Tiny", lsp.SymbolKind.Module)
    children = {c.name: c for c in network.children}
    assert {"stem", "pool", "fc"} <= set(children)
    assert children["stem"].kind == lsp.SymbolKind.Variable
    assert children["fc"].selection_range.start.line == position(MAIN, "fc:")[0]
    lib = session.open(files / "lib.net")
    [block] = session.symbols(lib)
    assert (block.name, block.kind) == ("ConvBN", lsp.SymbolKind.Class)
    assert [c.name for c in block.children] == ["bn"]
    assert session.diagnostics(lib).diagnostics == ()  # a library is no error in an editor


def test_server_does_not_import_torch():
    code = "import sys, netdsl.lsp.server, netdsl.lsp.features, netdsl.fmt; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_without_pygls_the_command_says_how_to_install_it():
    code = "import sys; sys.modules['pygls'] = None; from netdsl.cli import main; sys.exit(main(['lsp']))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "netdsl: error: the language server needs pygls: pip install 'netdsl[lsp]'"
    ]


def test_formatting_through_netdsl_fmt(session, files):
    messy = MAIN.replace("    stem = ConvBN(16, stride=2)", "  stem  =   ConvBN( 16,stride = 2 )  ").replace(
        "    ConvBN(32)", "        ConvBN(32)   # wider"
    )
    uri = session.open(files / "messy.net", messy)
    [edit] = session.formatting(uri)
    assert (edit.range.start.line, edit.range.start.character) == (0, 0)
    assert edit.range.end.line == messy.count("\n")
    assert edit.new_text == MAIN.replace("    ConvBN(32)", "    ConvBN(32)  # wider")
    session.change(uri, MAIN)
    assert tuple(session.formatting(uri)) == ()  # already in the layout
    session.change(uri, MAIN.replace("ConvBN(32)", "ConvBN(32"))
    assert tuple(session.formatting(uri)) == ()  # does not parse: nothing to do (the diagnostic says why)
