"""The language server (`netdsl lsp`): diagnostics, hover, definition, completion and
document symbols for .net files over LSP. Needs the `netdsl[lsp]` extra (pygls);
:mod:`netdsl.lsp.cli` registers the command without importing it."""
