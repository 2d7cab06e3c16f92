"""Block diagrams of a spec, from the whole network (Figure 9 of Inception-v4) down to
one block (Figures 3-8): IR -> layout (boxes, clusters, edges) -> DOT -> Graphviz.

Front end only: nothing here imports torch."""

from .diagram import Diagram, render, write_atomic
from .dot import to_dot
from .labels import block_title, op_label
from .layout import Layout, View, plan
from .options import DIRECTIONS, FORMATS, RenderError, RenderOptions

__all__ = ["render", "Diagram", "RenderOptions", "RenderError", "plan", "View", "Layout", "to_dot",
           "block_title", "op_label", "write_atomic", "DIRECTIONS", "FORMATS"]
