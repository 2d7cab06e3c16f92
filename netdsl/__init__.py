"""netdsl: convolutional network architectures as checked, drawable, compilable text."""

from .api import Analysis, analyze, check
from .diagnostics import Diagnostic, NetdslError
from .ir import Graph, Limits
from .render import render

__all__ = ["analyze", "check", "render", "Analysis", "Graph", "Limits", "Diagnostic", "NetdslError"]
__version__ = "0.1.0"
