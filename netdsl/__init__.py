"""netdsl: convolutional network architectures as checked, drawable, compilable text."""

from .nogc import paused_gc

# Importing the front end (pydantic, lark, the AST's dataclasses) creates ~50,000 objects
# the cyclic collector tracks, ~30,000 of them for the life of the process: it ran 76
# times over them during the import (5-10 ms of `netdsl check`'s start). Paused, the
# ~20,000 that are garbage (the imports' temporaries, in cycles) wait for the next full
# collection instead; what survives goes to the oldest generation (see nogc).
with paused_gc():
    from .api import Analysis, analyze, check
    from .diagnostics import Diagnostic, NetdslError
    from .ir import Graph, Limits
    from .render import render

__all__ = ["analyze", "check", "render", "build", "port_weights", "optimize", "export_onnx", "block_instances", "shard",
           "compile_blocks", "tune_allocator", "Analysis", "Graph", "Limits", "Diagnostic", "NetdslError"]
__version__ = "0.1.0"

_BACK_END = {"build": ("netdsl.torch.build", "build"), "port_weights": ("netdsl.torch.port", "port_weights"),
             "optimize": ("netdsl.optimizer.api", "optimize"), "export_onnx": ("netdsl.torch.export", "export_onnx"),
             "block_instances": ("netdsl.torch.blocks", "block_instances"),
             "shard": ("netdsl.torch.distributed", "shard"), "compile_blocks": ("netdsl.torch.regional", "compile_blocks"),
             "tune_allocator": ("netdsl.torch.allocator", "tune_allocator")}


def __getattr__(name: str):
    """The PyTorch back end loads on first use, so `import netdsl` (and `netdsl check`)
    never imports torch."""
    if name in _BACK_END:
        import importlib

        module, attr = _BACK_END[name]
        return getattr(importlib.import_module(module), attr)
    if name in ("cli", "torch"):
        import importlib

        return importlib.import_module(f"netdsl.{name}")
    raise AttributeError(f"module 'netdsl' has no attribute {name!r}")
