"""A real `netdsl lsp` process driven over stdio by pygls's LanguageClient, with a
synchronous face for tests and benchmarks (one event loop per session)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[1]


class Session:
    def __init__(self, debounce: float = 0.05, cwd: str | os.PathLike | None = None):
        self.loop = asyncio.new_event_loop()
        self.client = LanguageClient("netdsl-tests", "1")
        self.published: dict[str, list[tuple[float, lsp.PublishDiagnosticsParams]]] = {}
        self.versions: dict[str, int] = {}

        @self.client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: lsp.PublishDiagnosticsParams):
            self.published.setdefault(params.uri, []).append((time.perf_counter(), params))

        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        self.run(self.client.start_io(sys.executable, "-m", "netdsl", "lsp", "--stdio", env=env, cwd=cwd))
        self.run(
            self.client.initialize_async(
                lsp.InitializeParams(
                    capabilities=lsp.ClientCapabilities(), initialization_options={"debounce": debounce}
                )
            )
        )
        self.client.initialized(lsp.InitializedParams())

    def run(self, coro, timeout: float = 30):
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def open(self, path: Path, text: str | None = None) -> str:
        uri = path.resolve().as_uri()
        self.versions[uri] = 1
        self.client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                lsp.TextDocumentItem(uri, "netdsl", 1, path.read_text() if text is None else text)
            )
        )
        return uri

    def change(self, uri: str, text: str) -> int:
        """Replace the whole text; the new version."""
        self.versions[uri] += 1
        self.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(version=self.versions[uri], uri=uri),
                [lsp.TextDocumentContentChangeWholeDocument(text)],
            )
        )
        return self.versions[uri]

    def diagnostics(self, uri: str, version: int | None = None, timeout: float = 30) -> lsp.PublishDiagnosticsParams:
        """The diagnostics published for `version` (default: the latest sent), waiting for them."""
        version = self.versions[uri] if version is None else version

        async def wait():
            while True:
                for _, params in self.published.get(uri, []):
                    if params.version == version:
                        return params
                await asyncio.sleep(0.002)

        return self.run(wait(), timeout)

    def published_at(self, uri: str, version: int) -> float:
        self.diagnostics(uri, version)
        return next(t for t, p in self.published[uri] if p.version == version)

    def hover(self, uri: str, line: int, character: int) -> lsp.Hover | None:
        return self.run(
            self.client.text_document_hover_async(
                lsp.HoverParams(lsp.TextDocumentIdentifier(uri), lsp.Position(line, character))
            )
        )

    def definition(self, uri: str, line: int, character: int):
        return self.run(
            self.client.text_document_definition_async(
                lsp.DefinitionParams(lsp.TextDocumentIdentifier(uri), lsp.Position(line, character))
            )
        )

    def completion(self, uri: str, line: int, character: int):
        return self.run(
            self.client.text_document_completion_async(
                lsp.CompletionParams(lsp.TextDocumentIdentifier(uri), lsp.Position(line, character))
            )
        )

    def symbols(self, uri: str):
        return self.run(
            self.client.text_document_document_symbol_async(lsp.DocumentSymbolParams(lsp.TextDocumentIdentifier(uri)))
        )

    def formatting(self, uri: str):
        return self.run(
            self.client.text_document_formatting_async(
                lsp.DocumentFormattingParams(
                    lsp.TextDocumentIdentifier(uri), lsp.FormattingOptions(tab_size=4, insert_spaces=True)
                )
            )
        )

    def close(self) -> None:
        try:
            self.run(self.client.shutdown_async(None), timeout=10)
            self.client.exit(None)
            self.run(self.client.stop(), timeout=10)
        finally:
            self.loop.close()
