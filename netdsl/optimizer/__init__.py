"""Inference optimization: passes over the graph IR, a flat code generator for the
optimized graph, and `optimize(model)` that applies both to a built model with weights."""

from .passes import PASS_NAMES, PASSES, run_passes

__all__ = ["PASSES", "PASS_NAMES", "run_passes", "optimize", "compile_optimized"]


def __getattr__(name: str):
    if name in ("optimize", "compile_optimized"):  # these import torch
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'netdsl.optimizer' has no attribute {name!r}")
