// extension.js with `vscode` and `vscode-languageclient/node` replaced by recorders
// (they exist only inside VS Code): it starts `netdsl lsp` over stdio for netdsl
// documents, takes the command and the debounce from the settings, and stops the client.
"use strict";

const assert = require("node:assert/strict");
const Module = require("node:module");
const { test } = require("node:test");

const record = { clients: [], settings: {} };
const stubs = {
  vscode: {
    workspace: {
      getConfiguration: (section) => ({
        get: (key, fallback) => (record.settings[`${section}.${key}`] ?? fallback),
      }),
    },
    commands: { registerCommand: (name) => ({ name, dispose() {} }) },
  },
  "vscode-languageclient/node": {
    TransportKind: { stdio: "stdio-transport" },
    LanguageClient: class {
      constructor(id, name, server, client) {
        this.args = { id, name, server, client };
        this.started = this.stopped = false;
        record.clients.push(this);
      }
      start() { this.started = true; return Promise.resolve(); }
      stop() { this.stopped = true; return Promise.resolve(); }
    },
  },
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return Object.hasOwn(stubs, request) ? stubs[request] : load.call(this, request, ...rest);
};
const extension = require("../extension.js");

test("activate starts `netdsl lsp` over stdio for netdsl documents", async () => {
  const context = { subscriptions: [] };
  await extension.activate(context);
  const client = record.clients.at(-1);
  assert.equal(client.started, true);
  assert.deepEqual(client.args.server, { command: "netdsl", args: ["lsp"], transport: "stdio-transport" });
  assert.ok(client.args.client.documentSelector.some((s) => s.language === "netdsl" && s.scheme === "file"));
  assert.deepEqual(client.args.client.initializationOptions, { debounce: 0.25 });
  assert.deepEqual(context.subscriptions.map((s) => s.name), ["netdsl.restartServer"]);
  await extension.deactivate();
  assert.equal(client.stopped, true);
});

test("the server command and the debounce come from the settings", async () => {
  record.settings = { "netdsl.server.command": ["/opt/venv/bin/netdsl", "lsp"], "netdsl.server.debounce": 1 };
  await extension.activate({ subscriptions: [] });
  const client = record.clients.at(-1);
  assert.deepEqual(client.args.server.command, "/opt/venv/bin/netdsl");
  assert.deepEqual(client.args.server.args, ["lsp"]);
  assert.deepEqual(client.args.client.initializationOptions, { debounce: 1 });
});
