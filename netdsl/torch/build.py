"""Build a PyTorch module from a spec by running the generated source (one path: the
code `netdsl compile` writes is the code `netdsl.build` executes)."""

from __future__ import annotations

import linecache
import os

import torch

from ..api import analyze
from ..diagnostics import NetdslError
from ..ir import Graph, Limits
from .codegen import GeneratedCode, generate

__all__ = ["compile_spec", "build", "build_model", "load_module"]


def compile_spec(spec: str | os.PathLike, params: dict | None = None, *, limits: Limits = Limits(), root=None) -> tuple[GeneratedCode, Graph]:
    """Spec -> (generated Python source, the checked graph); NetdslError on any error."""
    result = analyze(spec, params, limits=limits, root=root)
    if not result.ok:
        raise NetdslError(result.diagnostics, result)
    return generate(result.program, result.graph), result.graph


def load_module(code: GeneratedCode) -> dict:
    """Execute generated source as a module; tracebacks show its lines (linecache)."""
    filename = f"<netdsl {code.filename}>"
    linecache.cache[filename] = (len(code.source), None, code.source.splitlines(True), filename)
    namespace: dict = {"__name__": f"netdsl_generated_{abs(hash(code.source)) % 10**8}"}
    exec(compile(code.source, filename, "exec"), namespace)
    return namespace


def build_model(spec: str | os.PathLike, params: dict | None = None, *, limits: Limits = Limits(), root=None) -> torch.nn.Module:
    code, graph = compile_spec(spec, params, limits=limits, root=root)
    model = load_module(code)[code.class_name]()
    model.netdsl_graph = graph  # for port_weights' error messages; not a parameter
    return model


def build(spec: str | os.PathLike, *, optimize: str | None = None, **params) -> torch.nn.Module:
    """The network of `spec` (a path or spec text) as an nn.Module, with network
    parameters overridden by keyword (`build("mobilenet_v1.net", alpha=0.5)`);
    `optimize="inference"` returns it optimized for inference (netdsl.optimize)."""
    model = build_model(spec, params)
    if optimize is None:
        return model
    from ..optimizer.api import optimize as optimized

    return optimized(model, optimize)
