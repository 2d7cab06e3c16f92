"""The graph IR and the stages that build it: loading, elaboration."""

from .elaborate import elaborate, snake_case
from .graph import Frame, Graph, Node, Output
from .program import Limits, Program, load, load_text

__all__ = ["elaborate", "snake_case", "Frame", "Graph", "Node", "Output", "Limits", "Program", "load", "load_text"]
