"""`netdsl lsp`: the language server (pygls, stdio).

Each open document is analysed by the whole front end (:func:`netdsl.api.analyze` on
the unsaved text, imports read from disk) on one worker thread, `debounce` seconds
after the last edit, so typing in a 2,000-layer spec does not queue an analysis per
keystroke; the event loop keeps answering meanwhile, and a result for a version that
has since changed is dropped. Requests that need the current text's analysis (hover,
definition, symbols) run it at once when the last one is stale; completion uses the
last program that loaded, since text being typed rarely parses. The answers are
computed in :mod:`netdsl.lsp.features`; formatting is `netdsl fmt`'s
(:func:`netdsl.fmt.format_source`). Front end only: nothing here imports torch."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from .. import __version__, api
from ..ir import Program
from . import features
from .features import Index

__all__ = ["NetdslServer", "DEBOUNCE", "create_server", "main"]

DEBOUNCE = 0.25  # seconds from the last edit to the semantic check (initializationOptions "debounce")


@dataclass
class _State:
    version: int | None = None  # the version `index` analysed
    index: Index | None = None
    program: Program | None = None  # the last program that loaded (blocks for completion)
    pending: asyncio.Task | None = None


class NetdslServer(LanguageServer):
    def __init__(self):
        super().__init__("netdsl", __version__)
        self.debounce = DEBOUNCE
        self.documents: dict[str, _State] = {}
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netdsl-analysis")

    def state(self, uri: str) -> _State:
        return self.documents.setdefault(uri, _State())

    # -- analysis ---------------------------------------------------------------------------
    def schedule(self, uri: str, delay: float | None = None) -> None:
        """(Re)start the debounce timer of a document's semantic check."""
        state = self.state(uri)
        if state.pending is not None and not state.pending.done():
            state.pending.cancel()
        state.pending = asyncio.get_running_loop().create_task(
            self._check_later(uri, self.debounce if delay is None else delay)
        )

    async def _check_later(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.refresh(uri)

    async def refresh(self, uri: str) -> _State:
        """Analyse the document's current text (unless already done) and publish its diagnostics."""
        state = self.state(uri)
        doc = self.workspace.get_text_document(uri)
        version, text = doc.version, doc.source
        if state.index is not None and state.version == version and state.index.text == text:
            return state
        path = features.path_of(uri)
        analysis = await asyncio.get_running_loop().run_in_executor(self.worker, _analyze, text, path)
        current = self.workspace.get_text_document(uri)
        if current.version != version or current.source != text:
            return state  # edited meanwhile: the next check is already scheduled
        state.index = Index(path, text, analysis, state.program)
        state.version = version
        if analysis.program is not None:
            state.program = analysis.program
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri, features.diagnostics(state.index), version=version)
        )
        return state

    async def current(self, uri: str) -> Index | None:
        if uri not in self.workspace.text_documents:
            return None
        return (await self.refresh(uri)).index


def _analyze(text: str, path: str) -> api.Analysis:
    return api.analyze(text, file=path)


def create_server() -> NetdslServer:
    server = NetdslServer()

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: NetdslServer, params: lsp.InitializeParams):
        options = params.initialization_options or {}
        if isinstance(options, dict) and isinstance(options.get("debounce"), (int, float)):
            ls.debounce = max(0.0, float(options["debounce"]))

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: NetdslServer, params: lsp.DidOpenTextDocumentParams):
        ls.schedule(params.text_document.uri, delay=0.0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: NetdslServer, params: lsp.DidChangeTextDocumentParams):
        ls.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: NetdslServer, params: lsp.DidSaveTextDocumentParams):
        for uri in list(ls.documents):  # another open document may import the saved one
            if uri in ls.workspace.text_documents:
                ls.schedule(uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: NetdslServer, params: lsp.DidCloseTextDocumentParams):
        state = ls.documents.pop(params.text_document.uri, None)
        if state is not None and state.pending is not None:
            state.pending.cancel()
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(params.text_document.uri, []))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    async def hover(ls: NetdslServer, params: lsp.HoverParams):
        index = await ls.current(params.text_document.uri)
        return features.hover(index, params.position) if index else None

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    async def definition(ls: NetdslServer, params: lsp.DefinitionParams):
        index = await ls.current(params.text_document.uri)
        return features.definition(index, params.position) if index else None

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["(", ",", "|", ">"]))
    async def completion(ls: NetdslServer, params: lsp.CompletionParams):
        uri = params.text_document.uri
        state = ls.state(uri)
        if state.index is None:
            await ls.refresh(uri)
        doc = ls.workspace.get_text_document(uri)
        return features.completion(state.index, doc.source, params.position, state.program)

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def document_symbol(ls: NetdslServer, params: lsp.DocumentSymbolParams):
        uri = params.text_document.uri
        index = await ls.current(uri)
        program = ls.state(uri).program
        if index is None or program is None:
            return []
        module = index.analysis.program.entry if index.analysis.program else program.entry
        text = index.text if index.analysis.program else program.sources.get(module.file, "")
        return features.symbols(module, text)

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    async def formatting(ls: NetdslServer, params: lsp.DocumentFormattingParams):
        doc = ls.workspace.get_text_document(params.text_document.uri)
        path = features.path_of(params.text_document.uri)
        # on the analysis thread: the parser is used by one thread at a time
        return await asyncio.get_running_loop().run_in_executor(ls.worker, features.formatting, doc.source, path)

    return server


def main() -> int:
    create_server().start_io()
    return 0
