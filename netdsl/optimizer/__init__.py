"""Inference optimization: passes over the graph IR, a flat code generator for the
optimized graph, and `optimize(model)` that applies both to a built model with weights."""

from .passes import PASS_NAMES, PASSES, run_passes

__all__ = ["PASSES", "PASS_NAMES", "compile_optimized", "optimize", "run_passes"]


def __getattr__(name: str):
    if name == "optimize":  # imports torch
        from .api import optimize

        return optimize
    if name == "compile_optimized":
        from .flat import compile_optimized

        return compile_optimized
    raise AttributeError(f"module 'netdsl.optimizer' has no attribute {name!r}")
