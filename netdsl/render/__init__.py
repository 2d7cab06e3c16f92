"""Block diagrams of a spec, from the whole network (Figure 9 of Inception-v4) down to
one block (Figures 3-8): IR -> layout (boxes, clusters, edges) -> DOT -> Graphviz.

Front end only: nothing here imports torch."""

from .diagram import Diagram, render, write_atomic
from .labels import block_title, op_label
from .options import DIRECTIONS, FORMATS, RenderError, RenderOptions

_LAZY = {"to_dot": "netdsl.render.dot", "Layout": "netdsl.render.layout", "View": "netdsl.render.layout",
         "plan": "netdsl.render.layout"}

__all__ = ["render", "Diagram", "RenderOptions", "RenderError", "plan", "View", "Layout", "to_dot",
           "block_title", "op_label", "write_atomic", "DIRECTIONS", "FORMATS"]


def __getattr__(name: str):
    """The layout and the DOT writer load on first use: `import netdsl` (and so `netdsl
    check`) does not pay for them."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'netdsl.render' has no attribute {name!r}")
