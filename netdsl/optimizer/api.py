"""`optimize(model, "inference")`: the inference passes, the flat module generated from
the optimized graph, and its weights computed from the model's state_dict."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from ..torch.loader import load_module
from .flat import MODES, compile_optimized

__all__ = ["MODES", "compile_optimized", "optimize"]


def optimize(model: torch.nn.Module, mode: str = "inference", *, skip: Iterable[str] = ()) -> torch.nn.Module:
    """An equivalent module, faster for `mode`, of a model built by `netdsl.build` (with
    any weights, e.g. ported from timm). Passes named in `skip` are not run. The result
    is in eval mode; the model is not modified (layers copied unchanged may share its tensors)."""
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
