"""The builtin op library: one class per op (parameters, shape rule, cost, label and
PyTorch lowering). Importing this package registers them all in :data:`OPS`."""

from . import conv, layers, merge, pool  # noqa: F401  (registration)
from .base import OPS, Cost, Op, OpParam, ShapeError, lookup

__all__ = ["OPS", "Op", "OpParam", "Cost", "ShapeError", "lookup"]
