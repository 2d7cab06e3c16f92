"""`optimize(model, "inference")`: the inference passes, the flat module generated from
the optimized graph, and its weights computed from the model's state_dict."""

from __future__ import annotations

from typing import Iterable

import torch

from ..ir.graph import Graph
from ..torch.build import load_module
from .flat import FlatCode, generate_flat
from .passes import PASS_NAMES, run_passes

__all__ = ["optimize", "compile_optimized", "MODES"]

MODES = ("inference",)


def compile_optimized(graph: Graph, mode: str = "inference", skip: Iterable[str] = ()) -> tuple[FlatCode, Graph]:
    """(source of the optimized module, the optimized graph) for a checked graph."""
    if mode not in MODES:
        raise ValueError(f"unknown optimization mode {mode!r}; the modes are {', '.join(MODES)}")
    skip = tuple(skip)
    optimized = run_passes(graph, skip)
    return generate_flat(optimized, tuple(p for p in PASS_NAMES if p not in skip)), optimized


def optimize(model: torch.nn.Module, mode: str = "inference", *, skip: Iterable[str] = ()) -> torch.nn.Module:
    """An equivalent module, faster for `mode`, of a model built by `netdsl.build` (with
    any weights, e.g. ported from timm). Passes named in `skip` are not run. The result
    is in eval mode; it owns new tensors (the model is not modified)."""
    graph = getattr(model, "netdsl_graph", None)
    if graph is None:
        raise TypeError("optimize() takes a model built by netdsl.build (it reads model.netdsl_graph)")
    code, optimized = compile_optimized(graph, mode, skip)
    cls = load_module(code)[code.class_name]
    state = {k: v.detach() for k, v in model.state_dict().items()}
    fast = cls.from_state_dict(state)
    fast.netdsl_graph = optimized
    fast.netdsl_source = code.source
    return fast
