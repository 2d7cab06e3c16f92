"""Hypothesis properties over specs generated from the grammar (fuzz/specgen.py):
a spec either elaborates and shape-checks or gets diagnostics (never an exception),
a spec that checks also builds and runs, giving the statically inferred shape, and
its inference-optimized module computes what the plain one does."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from references import randomize

import netdsl
from netdsl.optimizer.passes import PASS_NAMES
from netdsl.torch.build import build, build_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fuzz.specgen import valid_specs  # noqa: E402

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(valid_specs(sloppy=True))
def test_generated_spec_checks_or_gets_diagnostics(spec):
    result = netdsl.analyze(spec.text)
    if result.ok:
        assert result.graph.outputs and all(n.shape for n in result.graph.nodes if n.op != "invalid")
    else:
        assert result.diagnostics and not spec.consistent or result.diagnostics
        assert all(d.code and d.message for d in result.diagnostics)
    if spec.consistent:
        assert result.ok, result.report()


@PROPERTY
@given(valid_specs())
def test_checked_spec_builds_and_runs_to_the_inferred_shape(spec):
    graph = netdsl.check(spec.text)
    model = build(spec.text).eval()
    with torch.no_grad():
        out = model(torch.randn(2, *graph.input_shape))
    out = out[0] if isinstance(out, (tuple, list)) else out
    assert tuple(out.shape) == (2, *graph.nodes[graph.outputs[0].node].shape)


@PROPERTY
@given(valid_specs(), st.sets(st.sampled_from(PASS_NAMES), max_size=3))
def test_optimized_module_computes_what_the_plain_one_does(spec, skip):
    """With any passes left out too (`skip`): no pass may rely on another having run
    (left in, identities alias their input; an unexpanded separable conv keeps nested
    weights)."""
    model = build_model(spec.text)
    graph = model.netdsl_graph
    model = randomize(model).eval()  # batch-norm statistics included: folding them must matter
    fast = netdsl.optimize(model, "inference", skip=sorted(skip))
    x = torch.randn(2, *graph.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want, got = model(x), fast(x)
    want = want[0] if isinstance(want, (tuple, list)) else want
    got = got[0] if isinstance(got, (tuple, list)) else got
    assert got.shape == want.shape
    scale = want.norm().item()
    assert (got - want).norm().item() <= 1e-4 * scale + 1e-6, spec.text
