// The netdsl extension: starts `netdsl lsp` (the language server, stdio) for .net files.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("netdsl");
  const [command, ...args] = config.get("server.command", ["netdsl", "lsp"]);
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "netdsl" }, { scheme: "untitled", language: "netdsl" }],
    initializationOptions: { debounce: config.get("server.debounce", 0.25) },
  };
  client = new LanguageClient("netdsl", "netdsl language server", serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.commands.registerCommand("netdsl.restartServer", () => client.restart()),
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
