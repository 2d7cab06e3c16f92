"""`netdsl lsp`: start the language server on stdin/stdout (a COMMANDS entry that
netdsl/cli.py registers). pygls is imported only when the command runs; without the
`netdsl[lsp]` extra the command says how to get it and exits 2."""

from __future__ import annotations

import argparse
import importlib.util

from ..codes import EXIT_USAGE
from ..commandline import Command, fail

__all__ = ["COMMANDS", "cmd_lsp"]

HINT = "the language server needs pygls: pip install 'netdsl[lsp]'"


def _arguments(p: argparse.ArgumentParser) -> None:
    # editors' clients (vscode-languageclient, ...) pass the transport; stdio is the only one
    p.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default and only transport)")


def cmd_lsp(args) -> int:
    if importlib.util.find_spec("pygls") is None or importlib.util.find_spec("lsprotocol") is None:
        return fail(HINT, EXIT_USAGE)
    from . import server

    return server.main()


COMMANDS = (
    Command("lsp", "run the language server (LSP over stdio) for editors", cmd_lsp, _arguments, takes_spec=False),
)
