"""Layer names come from one place (netdsl/ir/naming.py): the graph's node names are the
built module's state_dict owners for every construct, `if` arms included, so the
inference optimizer (which finds tensors by node name) works on every built model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from references import randomize

import netdsl
from netdsl.ops import op_of
from netdsl.torch.build import build_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fuzz.specgen import valid_specs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def state_owners(model: torch.nn.Module, graph) -> set[str]:
    """The graph node that owns each state_dict key (the longest node name before a
    `.`), asserting that every key has one."""
    names = {n.name for n in graph.nodes}
    owners = set()
    for key in model.state_dict():
        parts = key.split(".")
        owner = next((".".join(parts[:k]) for k in range(len(parts) - 1, 0, -1) if ".".join(parts[:k]) in names), None)
        assert owner is not None, f"state_dict key {key!r} belongs to no graph node: {sorted(names)}"
        owners.add(owner)
    return owners


def stateful_nodes(graph) -> set[str]:
    return {n.name for n in graph.nodes if op_of(n.op).stateful}


def assert_names_agree_and_optimize(spec: str, **params) -> None:
    model = randomize(build_model(spec, params or None)).eval()
    graph = model.netdsl_graph
    assert state_owners(model, graph) == stateful_nodes(graph)
    fast = netdsl.optimize(model, "inference")
    x = torch.randn(2, *graph.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want, got = model(x), fast(x)
    assert (got - want).norm().item() <= 1e-4 * want.norm().item() + 1e-6


IF_ELSE = """
block B(oup: int, stride: int) {
    if stride == 1 { conv(oup, 1, bias=false) -> batchnorm }
    else { conv(oup, 3, stride=stride, padding=1, bias=false) -> batchnorm }
}
network N(stride: int = 2) {
    input [3, 8, 8]
    B(32, stride)
    relu
}
"""


@pytest.mark.parametrize("stride", [1, 2])
def test_if_else_with_layers_in_both_arms(stride):
    """issue 12: the else arm's layers were conv2/bn2 in the module, conv1/bn1 in the graph."""
    assert_names_agree_and_optimize(IF_ELSE, stride=stride)


def test_if_else_arms_are_alternatives_named_alike():
    """Each arm numbers its layers from the same point: the taken arm's conv is the only
    conv of the instance, whichever arm it is."""
    for stride in (1, 2):
        graph = netdsl.check(IF_ELSE, {"stride": stride})
        assert {n.name for n in graph.nodes} >= {"b.conv", "b.bn"}


ONE_ARM = """
block B(c: int, pre: bool) {
    if pre { conv(c, 1) -> batchnorm } elif c > 100 { conv(c, 3, padding=1) }
    conv(c, 3, padding=1) -> batchnorm -> relu
}
network N(pre: bool = false) {
    input [3, 8, 8]
    B(8, pre)
    B(8, true)
}
"""


@pytest.mark.parametrize("pre", [False, True])
def test_layers_after_an_if_keep_their_number_whichever_arm_runs(pre):
    assert_names_agree_and_optimize(ONE_ARM, pre=pre)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs(alternatives=True))
def test_generated_specs_state_dict_keys_are_graph_names_and_optimize_agrees(spec):
    """Specs with if/elif/else blocks, nested repeats, named values, concat branches and
    residuals: every state_dict key belongs to the graph node of that name (and every
    stateful node has keys), and the inference-optimized module computes the same."""
    assert_names_agree_and_optimize(spec.text)


SPEC_NAMES = """
block Mix(channels: int, l: int, layers: int = 2, i: int = l + 1) {
    block = conv(channels, 1)
    repeat(layers) as k { conv(channels + k, 3, padding=1) -> relu }
    repeat(2) { conv(l, 1) -> batchnorm }
    concat { | conv(i, 1) | block -> conv(l, 1) }
}
network N(channels: int = 4, l: int = 3, layers: int = 1) {
    input [3, 8, 8]
    Mix(channels, l)
    repeat(2) { Mix(channels, l, layers=layers) }
}
"""


SCOPE_CLASHES = {
    # a branch labelled like the residual's shortcut scope, before and after it
    "branch first": "concat { | shortcut: conv(2, 1) | b: conv(2, 3, padding=1) }\n"
                    "    residual { conv(4, 1) } shortcut { conv(4, 1) }",
    "shortcut first": "residual { conv(4, 1) } shortcut { conv(4, 1) }\n"
                      "    concat { | shortcut: conv(2, 1) | b: conv(2, 3, padding=1) }",
    # a branch labelled like a layer's own name, and a layer labelled like a branch's
    "branch named conv": "concat { | conv: relu | b2: batchnorm }\n    conv(4, 1) -> batchnorm",
    "layer named b1": "concat { | relu | batchnorm }\n    b1: conv(4, 1)",
}


@pytest.mark.parametrize("body", SCOPE_CLASHES.values(), ids=SCOPE_CLASHES.keys())
def test_branches_share_their_scope_with_its_layers(body):
    """A concat's branches (when they live in the scope) and the scope's layers are
    named from one namespace: the spec's labels keep their spelling, made names give way
    (before, both were `shortcut`: the shortcut module replaced the branch's in the
    generated class, and forward called an empty nn.Module)."""
    spec = f"network N() {{\n    input [4, 6, 6]\n    {body}\n}}\n"
    graph = netdsl.check(spec)
    names = [n.name for n in graph.nodes]
    assert len(names) == len(set(names)), names
    scopes = {n.rpartition(".")[0] for n in names if "." in n}
    assert not scopes & {n for n in names if "." not in n}, names  # no layer is also a scope
    assert_names_agree_and_optimize(spec)


def test_spec_names_keep_their_spelling_the_generator_renames_its_own():
    """`channels`, `l`, `layers`, `i` and a value `block` are names the generator also
    uses for its loops: the public signatures keep the spec's spelling."""
    import inspect

    from netdsl.torch.build import compile_spec, load_module

    code, _ = compile_spec(SPEC_NAMES)
    namespace = load_module(code)
    assert list(inspect.signature(namespace["Mix"]).parameters) == ["in_channels", "channels", "l", "layers", "i"]
    assert list(inspect.signature(namespace["N"]).parameters) == ["channels", "l", "layers"]
    model = namespace["N"](channels=5, l=2, layers=2)
    ref = netdsl.build(SPEC_NAMES, channels=5, l=2, layers=2)
    assert [(k, v.shape) for k, v in model.state_dict().items()] == [(k, v.shape) for k, v in ref.state_dict().items()]
    assert model(torch.randn(1, 3, 8, 8)).shape == (1, 2 * 2 + 1, 8, 8)  # i + l


@pytest.mark.parametrize("spec", ["resnet50.net", "inception_v4.net", "mobilenet_v1.net"])
def test_generator_reads_the_elaborators_names_and_bindings(spec, monkeypatch):
    """Names and argument matches are decided once, by the front end, and kept on the
    program: generating the code decides none anew for what the elaborator saw (it reads
    the very `Names` objects the elaborator made), so the two cannot drift apart."""
    from netdsl.api import analyze
    from netdsl.torch.codegen import generate

    result = analyze(ROOT / "specs" / spec)
    assert result.ok
    before = dict(result.program.resolved)
    assert any(k[0] == "names" for k in before) and any(k[0] == "arguments" for k in before)
    from netdsl.ir.naming import Names

    decided = []  # every scope named while generating, however the generator asked
    for making in ("of_body", "of_chain"):
        real = getattr(Names, making)
        monkeypatch.setattr(Names, making, classmethod(lambda cls, *a, _real=real: decided.append(a) or _real(*a)))
    generate(result.program, result.graph)
    new_scopes = [k for k in result.program.resolved if k not in before and k[0] == "names"]
    assert len(decided) == len(new_scopes), "the generator named scopes past the program's table"
    # the generator names only scopes the elaborator never entered (an `if` arm not taken
    # here, whose layers the generated class still writes): none of their lines made a node
    made = {(n.span.file, n.span.line) for n in result.graph.nodes if n.span is not None}
    for key in (k for k in result.program.resolved if k not in before and k[0] == "names"):
        body = result.program.resolved[key][0]
        stmts = body.steps if hasattr(body, "steps") else body
        lines = {(s.span.file, line) for s in stmts for line in range(s.span.line, s.span.end_line + 1)}
        assert not lines & made, f"the generator named anew a scope the elaborator named: {sorted(lines & made)}"
    # a call's match (a residual's `scale`/`when` included): the elaborator's; new ones only for calls it never saw
    seen = {k[1] for k in before}
    assert not {k for k in result.program.resolved if k not in before and k[0] == "arguments" and k[1] in seen}
    assert all(result.program.resolved[k] is before[k] for k in before)


def test_a_branch_label_meeting_a_later_branchs_made_name_keeps_its_spelling():
    spec = (ROOT / "tests" / "data" / "fuzz" / "branch-labelled-like-a-later-branch.net").read_text()
    names = [n.name for n in netdsl.check(spec).nodes]
    assert "concat2.b2.conv" in names and "concat2.b2_2.conv" in names  # the label, then the made name
    assert_names_agree_and_optimize(spec)
    twice = spec.replace("| b2: conv(2, 1)\n      | conv(3, 1)", "| b: conv(2, 1)\n      | b: conv(3, 1)")
    [d] = netdsl.analyze(twice).diagnostics
    assert d.code == "duplicate-name" and "the name 'b' is used twice" in d.message
