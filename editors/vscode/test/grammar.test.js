// The TextMate grammar, run by the tokenizer VS Code itself uses (vscode-textmate +
// vscode-oniguruma), over every spec in specs/ and every ```netdsl example in docs/.
//
// "Invalid" means, concretely: a token whose scopes include `invalid` (the grammar's
// catch-all for a character no rule accepts), or a non-whitespace character covered by
// no scope but the root one (`source.netdsl`); "unmatched": a begin/end rule (a string,
// a declaration's parameter list, a bracket in a default value) still open at the end
// of the text.
// A sample then pins the scopes of keywords, ops, blocks, numbers, strings, comments.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { test } = require("node:test");
const oniguruma = require("vscode-oniguruma");
const vsctm = require("vscode-textmate");

const EXTENSION = path.resolve(__dirname, "..");
const REPO = path.resolve(EXTENSION, "..", "..");
const ROOT_SCOPE = "source.netdsl";

async function loadGrammar() {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== ROOT_SCOPE) return null;
      const file = path.join(EXTENSION, "syntaxes", "netdsl.tmLanguage.json");
      return vsctm.parseRawGrammar(fs.readFileSync(file, "utf8"), file);
    },
  });
  return registry.loadGrammar(ROOT_SCOPE);
}

// [{line, text, tokens: [{text, scopes, start}]}] for one text
function tokenize(grammar, text, end = {}) {
  let state = vsctm.INITIAL;
  const lines = text.split(/\r?\n/).map((line, i) => {
    const result = grammar.tokenizeLine(line, state);
    state = result.ruleStack;
    const tokens = result.tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes, start: t.startIndex }));
    return { line: i + 1, text: line, tokens };
  });
  end.depth = state.depth; // 1: only the root rule is open
  return lines;
}

function problems(grammar, text) {
  const found = [];
  const end = {};
  for (const { line, tokens } of tokenize(grammar, text, end)) {
    for (const t of tokens) {
      const where = `${line}:${t.start + 1} ${JSON.stringify(t.text)} [${t.scopes.join(" ")}]`;
      if (t.scopes.some((s) => s.split(".").includes("invalid"))) found.push(`invalid token at ${where}`);
      else if (t.scopes.length === 1 && /\S/.test(t.text)) found.push(`only the root scope at ${where}`);
    }
  }
  if (end.depth !== 1) found.push(`unmatched: ${end.depth - 1} rule(s) still open at the end`);
  return found;
}

function specs() {
  const out = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".net")) out.push(full);
    }
  };
  walk(path.join(REPO, "specs"));
  return out.sort();
}

function docExamples() {
  const out = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".md")) {
        const text = fs.readFileSync(full, "utf8");
        const fence = /^```netdsl[^\n]*\n([\s\S]*?)^```/gm;
        let m;
        while ((m = fence.exec(text)) !== null) {
          out.push({ name: `${path.relative(REPO, full)}:${text.slice(0, m.index).split("\n").length}`, text: m[1] });
        }
      }
    }
  };
  walk(path.join(REPO, "docs"));
  for (const readme of ["README.md"]) {
    const full = path.join(REPO, readme);
    const text = fs.readFileSync(full, "utf8");
    const fence = /^```netdsl[^\n]*\n([\s\S]*?)^```/gm;
    let m;
    while ((m = fence.exec(text)) !== null) out.push({ name: `${readme}:${text.slice(0, m.index).split("\n").length}`, text: m[1] });
  }
  return out;
}

const grammarReady = loadGrammar();

test("every spec in specs/ tokenises without an invalid token", async () => {
  const grammar = await grammarReady;
  const files = specs();
  assert.ok(files.length >= 20, `only ${files.length} specs found`);
  const found = files.flatMap((f) => problems(grammar, fs.readFileSync(f, "utf8")).map((p) => `${path.relative(REPO, f)}: ${p}`));
  assert.deepEqual(found, []);
});

test("every ```netdsl example in docs/ tokenises without an invalid token", async () => {
  const grammar = await grammarReady;
  const examples = docExamples();
  assert.ok(examples.length >= 10, `only ${examples.length} examples found`);
  const found = examples.flatMap((e) => problems(grammar, e.text).map((p) => `${e.name}: ${p}`));
  assert.deepEqual(found, []);
});

test("a character no rule accepts is invalid", async () => {
  const grammar = await grammarReady;
  assert.match(problems(grammar, "block A() { relu $ }").join("\n"), /invalid token at 1:18 "\$"/);
  assert.match(problems(grammar, "network N() { conv(3, 3) ` }").join("\n"), /invalid token/);
  assert.match(problems(grammar, "block A(x: int,\n  y: int {\n  relu\n}").join("\n"), /unmatched: 1 rule/);
});

const SAMPLE = `import "common.net"  # shared blocks
# A residual unit.
block Unit(planes: int, stride: int | (int, int) = 1, mode: "a" | "b" = "a") {
    residual {
        conv1: conv(planes, 3x3, stride=stride, padding=1, bias=false)
        bn1: batchnorm(eps=1e-5) -> relu
    } shortcut downsample {
        if stride != 1 { avgpool(2, stride=stride) }
    }
}
network Net(width: float = 0.5) {
    input [3, 224, 224]
    stem = ConvBN(32, 3, stride=2)
    concat {
        | left: maxpool(3, stride=2)
        | 4 x Unit(64)
    }
    repeat(2) as i { Unit(int(64 * width), stride=2 if i == 0 else 1) }
    output stem when training
}
`;

function scopeOf(grammar, text, line, word, nth = 0) {
  const lines = tokenize(grammar, text);
  const tokens = lines[line - 1].tokens.filter((t) => t.text === word);
  assert.ok(tokens.length > nth, `no token ${JSON.stringify(word)} on line ${line}: ${lines[line - 1].text}`);
  return tokens[nth].scopes.slice(1).join(" ");
}

test("keywords, ops, blocks, numbers, strings and comments get their scopes", async () => {
  const grammar = await grammarReady;
  assert.deepEqual(problems(grammar, SAMPLE), []);
  const expect = [
    [1, "import", /^keyword\.control\.import/],
    [1, '"', /^string\.quoted\.double\.netdsl punctuation\.definition\.string\.begin/],
    [1, "common.net", /^string\.quoted\.double\.netdsl$/],
    [1, "#", /^comment\.line\.number-sign\.netdsl punctuation\.definition\.comment/],
    [1, " shared blocks", /^comment\.line\.number-sign\.netdsl$/],
    [2, " A residual unit.", /^comment\.line\.number-sign\.netdsl$/],
    [3, "block", /^storage\.type\.declaration/],
    [3, "Unit", /^entity\.name\.type\.block/],
    [3, "planes", /^variable\.parameter/],
    [3, "int", /^support\.type/],
    [3, "|", /^keyword\.operator\.union/],
    [4, "residual", /^keyword\.control\.construct/],
    [5, "conv1", /^entity\.name\.tag\.label/],
    [5, "conv", /^entity\.name\.function/],
    [5, "3x3", /^constant\.numeric\.kernel/],
    [5, "stride", /^variable\.parameter\.keyword-argument/],
    [5, "false", /^constant\.language\.boolean/],
    [6, "1e-5", /^constant\.numeric\.float/],
    [6, "->", /^keyword\.operator\.chain/],
    [6, "relu", /^variable\.other/],
    [7, "shortcut", /^keyword\.control\.construct/],
    [8, "if", /^keyword\.control\.flow/],
    [8, "!=", /^keyword\.operator\.comparison/],
    [11, "network", /^storage\.type\.declaration/],
    [11, "0.5", /^constant\.numeric\.float/],
    [12, "input", /^keyword\.other\.io/],
    [12, "224", /^constant\.numeric\.integer/],
    [13, "stem", /^variable\.other\.definition/],
    [13, "ConvBN", /^entity\.name\.type\.block/],
    [15, "|", /^keyword\.operator\.branch/],
    [15, "left", /^entity\.name\.tag\.label/],
    [16, "4", /^constant\.numeric\.integer/],
    [16, "x", /^keyword\.operator\.repeat/],
    [18, "repeat", /^keyword\.control\.construct/],
    [18, "as", /^keyword\.control\.flow/],
    [18, "*", /^keyword\.operator\.arithmetic/],
    [19, "output", /^keyword\.other\.io/],
    [19, "when training", /^keyword\.other\.when-training/],
  ];
  for (const [line, word, scope] of expect) {
    const got = scopeOf(grammar, SAMPLE, line, word);
    assert.match(got, scope, `${line} ${word}: ${got}`);
  }
});
