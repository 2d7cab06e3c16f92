"""Build a PyTorch module from a spec by running the generated source (one path: the
code `netdsl compile` writes is the code `netdsl.build` executes)."""

from __future__ import annotations

import os
from collections import OrderedDict

import torch

from ..api import analyze
from ..diagnostics import NetdslError
from ..ir import Graph, Limits
from ..syntax.parser import clear_cache as clear_parse_cache
from .codegen import GeneratedCode, generate
from .loader import load_module

__all__ = ["compile_spec", "build", "build_model", "clear_cache", "load_module"]


def compile_spec(spec: str | os.PathLike, params: dict | None = None, *, limits: Limits = Limits(), root=None) -> tuple[GeneratedCode, Graph]:
    """Spec -> (generated Python source, the checked graph); NetdslError on any error.

    Like Python's own bytecode cache, the last results are kept in the process, keyed
    by the spec (path or text), parameters, limits, import root and working directory,
    and checked against the size and modification time of every file the spec read: a
    second `netdsl.build` of an unchanged spec skips the front end and the generator."""
    key = (spec if isinstance(spec, str) else os.fspath(spec), repr(sorted((params or {}).items())), limits,
           os.fspath(root) if root is not None else None, os.getcwd())
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] == _stamps(hit[0]):
        _COMPILED.move_to_end(key)
        return hit[1], hit[2]
    result = analyze(spec, params, limits=limits, root=root)
    if not result.ok:
        raise NetdslError(result.diagnostics, result)
    code = generate(result.program, result.graph)
    if len(result.graph.nodes) <= _CACHED_NODES:
        _COMPILED[key] = (_stamps([f for f in result.program.sources if f != "<string>"]), code, result.graph)
        while len(_COMPILED) > 32:
            _COMPILED.popitem(last=False)
    return code, result.graph


_COMPILED: OrderedDict = OrderedDict()  # key -> (file stamps, code, graph)
_CACHED_NODES = 10_000  # larger (generated) networks are not kept


def clear_cache() -> None:
    """Forget every kept compilation and parse (benchmarks measure the cold path so)."""
    _COMPILED.clear()
    clear_parse_cache()


def _stamps(files) -> dict:
    """file -> (size, mtime_ns), or None for a file that is gone."""
    out = {}
    for f in files:
        try:
            st = os.stat(f)
            out[f] = (st.st_size, st.st_mtime_ns)
        except OSError:
            out[f] = None
    return out


def build_model(spec: str | os.PathLike, params: dict | None = None, *, limits: Limits = Limits(), root=None) -> torch.nn.Module:
    code, graph = compile_spec(spec, params, limits=limits, root=root)
    model = load_module(code)[code.class_name]()
    model.netdsl_graph = graph  # for port_weights' error messages; not a parameter
    return model


def build(spec: str | os.PathLike, *, optimize: str | None = None, checkpoint=None, **params) -> torch.nn.Module:
    """The network of `spec` (a path or spec text) as an nn.Module, with network
    parameters overridden by keyword (`build("mobilenet_v1.net", alpha=0.5)`);
    `optimize="inference"` returns it optimized for inference (netdsl.optimize);
    `checkpoint="blocks"` (or block names, or a predicate over netdsl.torch.blocks.BlockInstance)
    recomputes those block instances in the backward pass (netdsl/torch/checkpoint.py)."""
    model = build_model(spec, params)
    if checkpoint is not None:
        if optimize is not None:
            raise ValueError("checkpoint= is for training, optimize= for inference: give one")
        from .checkpoint import checkpoint_blocks

        return checkpoint_blocks(model, checkpoint)
    if optimize is None:
        return model
    from ..optimizer.api import optimize as optimized

    return optimized(model, optimize)
