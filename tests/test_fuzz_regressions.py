"""Every input that ever broke netdsl under fuzzing (tests/data/fuzz/), run through the
fuzz harness again: each must now end in diagnostics (or a clean check), never in an
exception, a broken round trip or bad generated code. See docs/robustness.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "fuzz"))
sys.path.insert(0, str(ROOT))

from harness import exercise  # noqa: E402
from references import randomize  # noqa: E402

import netdsl  # noqa: E402

CASES = sorted(p for p in (ROOT / "tests" / "data" / "fuzz").glob("*") if p.is_file())
# what each input was, and the diagnostic code it gets now
EXPECTED = {
    "repeat0-unknown-op.net": "unknown-op",  # codegen KeyError: an unknown op inside `repeat(0)`
    "float-literal-inf.net": "value-too-large",  # `1e999` became inf and formatted as the name `inf`
    "int-literal-5000-digits.net": "value-too-large",  # int() refused 5000 digits with a ValueError
    "repeat0-unknown-op-2.net": "unknown-op",
    "repeat0-missing-argument.net": "missing-argument",  # codegen TypeError: `conv` without arguments in repeat(0)  # the same, in a branch of a concat
    "repeat0-index-in-body.net": None,  # found by test_properties: the index of a repeat of 0 was "unknown"
    # a repeat whose body holds only a comment: the generated `for` loop had no body
    "repeat-empty-body-codegen.net": None,
    "repeat-empty-body-codegen-2.net": None,
    # found by test_properties: the generated module ran but mis-wired channels
    "nested-repeat-codegen.net": None,  # both loops in __init__ used the variable `block`
    "residual-in-concat-codegen.net": None,  # the residual overwrote `x`, the other branches' input
    "repeat0-changes-channels-codegen.net": None,  # took the channels of a body that never runs
    "named-values-codegen.net": None,  # the same residual-in-concat bug, found first
    # an unknown name in a repeat(0) nested in a repeat(0): the suggestion code sorted None with str
    "repeat0-unknown-name-nested-repeat.net": "unknown-name",
    # a block called only inside repeat(0) was never checked; codegen KeyError on its unknown op
    "block-only-in-repeat0-unknown-op.net": "unknown-op",
    # repeats nested 3-4 deep in multi-statement repeats: inner lines lost the outer indent
    "nested-repeat-4-deep.net": None,
    "nested-repeat-4-deep-2.net": None,
    "nested-repeat-4-deep-3.net": None,
    "nested-repeat-4-deep-4.net": None,
    "nested-repeat-empty-body-deep.net": None,  # the same, with an empty body: `for` without a body
    # `conv(6, 0)` inside repeat(0): the front end never elaborated it and codegen raised
    # ShapeError; then codegen refused it ([unsupported]); now `check` range-checks constants there
    "repeat0-kernel-0.net": "bad-value",
    # `conv(6, 0.)` inside repeat(0): a float kernel reached codegen (TypeError in `pair`)
    "repeat0-float-kernel.net": "type-error",
    # found by test_properties once it drew branch labels like the generator's own names:
    # a branch labelled `block`: the namespace looked for a free `block<n>` for ever
    "branch-labelled-block-codegen.net": None,
    # a branch labelled `shortcut` beside a residual's shortcut: both layers' scopes were
    # `shortcut`, so the generated class replaced one module with the other
    "branch-labelled-shortcut-codegen.net": None,
    # found by the optimizer property once values were named inside repeats: forward is one
    # Python scope, so a value inside a repeat's, residual's or gate's body named like one of
    # the enclosing scope overwrote it, and later readers got the inner one (wrong outputs,
    # no error when the channels agreed)
    "value-shadowed-found-by-properties-codegen.net": None,
    "value-shadowed-in-repeat-codegen.net": None,
    "value-shadowed-in-residual-codegen.net": None,
    "value-shadowed-in-gate-codegen.net": None,
    # a repeat's body reading a value of the enclosing scope: codegen KeyError (it gave loop
    # bodies no values)
    "value-read-in-repeat-codegen.net": None,
    # `concat { | b2: ... | ... }` beside another concat: the unlabelled second branch's
    # made name `b2` met the label and the spec got "the name 'None' is used twice"; made
    # names give way (`b2_2`), as they do where the branches are the scope's
    "branch-labelled-like-a-later-branch.net": None,
}


@pytest.fixture(autouse=True)
def in_specs(monkeypatch):
    monkeypatch.chdir(ROOT / "specs")


def test_every_regression_input_is_listed():
    assert {p.name for p in CASES} == set(EXPECTED)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_regression_input_passes_the_harness(path):
    assert exercise(path.read_bytes()) in ("encoding", "diagnostics", "ok")


@pytest.mark.parametrize("path", [p for p in CASES if EXPECTED.get(p.name)], ids=lambda p: p.name)
def test_regression_input_gets_its_diagnostic(path):
    result = netdsl.analyze(path.read_text(encoding="utf-8"))
    assert EXPECTED[path.name] in [d.code for d in result.diagnostics]


@pytest.mark.parametrize("path", [p for p in CASES if EXPECTED.get(p.name, "") is None], ids=lambda p: p.name)
def test_regression_input_builds_and_runs(path):
    import torch

    from netdsl.torch.build import build

    graph = netdsl.check(path.read_text(encoding="utf-8"))
    model = randomize(build(path.read_text(encoding="utf-8"))).eval()
    x = torch.randn(2, *graph.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(x)
        # the inference module is generated from the graph, not from the spec's text: the
        # plain module must compute what it does, not only give its shape
        want = netdsl.optimize(model, "inference")(x)
    assert tuple(out.shape) == (2, *graph.nodes[graph.outputs[0].node].shape)
    assert (out - want).norm() <= 1e-4 * want.norm() + 1e-6
