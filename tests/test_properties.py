"""Hypothesis properties over specs generated from the grammar (fuzz/specgen.py):
a spec either elaborates and shape-checks or gets diagnostics (never an exception),
and a spec that checks also builds and runs, giving the statically inferred shape."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings

import netdsl
from netdsl.torch.build import build

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
