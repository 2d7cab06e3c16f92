"""The VS Code extension's TextMate grammar, tokenised by VS Code's own tokenizer
(vscode-textmate + vscode-oniguruma, installed by `make setup` with `npm ci`) over every
spec and every ```netdsl example in the docs: editors/vscode/test/grammar.test.js says
what counts as an invalid or unmatched token; editors/vscode/test/extension.test.js runs
extension.js against recorders of the VS Code API."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTENSION = ROOT / "editors" / "vscode"


def test_grammar_tokenises_every_spec_and_doc_example_and_the_extension_starts_the_server():
    assert (EXTENSION / "node_modules" / "vscode-textmate").is_dir(), "run `make setup` (npm ci in editors/vscode)"
    proc = subprocess.run(["node", "--test", "test/"], cwd=EXTENSION, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "# fail 0" in proc.stdout and "# pass 6" in proc.stdout  # 4 grammar tests, 2 of extension.js


def test_extension_manifest_names_the_grammar_the_language_and_the_server():
    manifest = json.loads((EXTENSION / "package.json").read_text())
    [language] = manifest["contributes"]["languages"]
    [grammar] = manifest["contributes"]["grammars"]
    assert language["extensions"] == [".net"] and grammar["language"] == language["id"] == "netdsl"
    assert json.loads((EXTENSION / grammar["path"]).read_text())["scopeName"] == grammar["scopeName"] == "source.netdsl"
    config = json.loads((EXTENSION / language["configuration"]).read_text())
    assert config["comments"]["lineComment"] == "#"
    assert manifest["contributes"]["configuration"]["properties"]["netdsl.server.command"]["default"] == [
        "netdsl",
        "lsp",
    ]
    lock = json.loads((EXTENSION / "package-lock.json").read_text())
    for name in ("vscode-textmate", "vscode-oniguruma", "vscode-languageclient", "@vscode/vsce"):
        pinned = {**manifest.get("dependencies", {}), **manifest["devDependencies"]}[name]
        assert pinned[0].isdigit(), f"{name} is not pinned: {pinned}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == pinned
