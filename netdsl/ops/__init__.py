"""The builtin op library: one class per op (parameters, shape rule, cost, label and
PyTorch lowering). Importing this package registers them all in :data:`OPS`."""

from . import activations, conv, layers, merge, pool, split  # noqa: F401  (registration)
from .activations import Activation
from .base import INTERNAL_OPS, OPS, ROLES, Cost, Input, Invalid, Op, OpParam, ShapeError, Slice, lookup, op_of
from .conv import Conv, DepthwiseConv, SeparableConv
from .layers import BatchNorm, Flatten, Linear
from .merge import Add, Concat, LayerScale, Scale
from .pool import AvgPool

__all__ = ["OPS", "INTERNAL_OPS", "ROLES", "Op", "OpParam", "Cost", "ShapeError", "lookup", "op_of", "Activation", "Input",
           "Invalid", "Slice", "Conv", "DepthwiseConv", "SeparableConv", "BatchNorm", "Flatten", "Linear", "Add", "Concat",
           "LayerScale", "Scale", "AvgPool"]
