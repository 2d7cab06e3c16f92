"""What every builtin op is: its parameters, shape rule, cost, diagram label and
PyTorch lowering, held in one :class:`Op` subclass per op (timm's registry habit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import codes
from ..syntax import ast
from ..values import format_value

__all__ = ["OpParam", "Op", "ShapeError", "Cost", "REQUIRED", "UNKNOWN", "Lowered", "register", "OPS", "lookup"]

REQUIRED = object()
UNKNOWN = object()  # a lowered argument whose value depends on block parameters


@dataclass(frozen=True)
class Lowered:
    """An op argument on its way into generated code."""

    src: str  # Python source
    value: object = UNKNOWN  # the constant, when the spec fixes it

    @property
    def known(self) -> bool:
        return self.value is not UNKNOWN
Shape = tuple  # (C, H, W) for feature maps, (F,) for flat vectors


@dataclass(frozen=True)
class OpParam:
    name: str
    type: ast.Type
    default: object = REQUIRED
    doc: str = ""
    minimum: float | None = None  # the smallest value the op takes (for a pair: each of the two)
    maximum: float | None = None

    def problem(self, value) -> str | None:
        """What is wrong with `value` (of the right type) for this parameter: `must be at
        least 1, got 0`; None when nothing is (or the value is not given, e.g. stride=None)."""
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if v is None or isinstance(v, (bool, str)):
                continue
            low = self.minimum is not None and v < self.minimum
            high = self.maximum is not None and v > self.maximum
            if (low or high) and self.maximum is not None:
                return f"must be between {format_value(self.minimum)} and {format_value(self.maximum)}, got {format_value(v)}"
            if low:
                return f"must be at least {format_value(self.minimum)}, got {format_value(v)}"
        return None


@dataclass(frozen=True)
class Cost:
    shape: Shape
    params: int = 0
    macs: int = 0


class ShapeError(Exception):
    """An op cannot take its input; `param` names the argument to blame, if any."""

    def __init__(self, code: codes.ErrorCode, message: str, param: str | None = None):
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


class Op:
    name: ClassVar[str]
    short: ClassVar[str]  # prefix of automatic layer names: conv1, bn2, ...
    params: ClassVar[tuple[OpParam, ...]] = ()
    ranged: ClassVar[tuple[OpParam, ...]] = ()  # the params with a range (set by register)
    multi_input: ClassVar[bool] = False
    aliases: ClassVar[tuple[str, ...]] = ()
    doc: ClassVar[str] = ""
    example: ClassVar[str] = ""  # a body line for docs/language.md (checked by a test)

    # -- front end ---------------------------------------------------------------------
    def infer(self, attrs: dict, inputs: list[Shape]) -> Cost:
        """Output shape, parameter count and MACs; raise ShapeError on bad input."""
        return Cost(inputs[0])

    def check_values(self, attrs: dict) -> None:
        """ShapeError for an argument outside its parameter's range (checked before infer)."""
        for p in self.ranged:
            problem = p.problem(attrs.get(p.name))
            if problem:
                raise ShapeError(codes.BAD_VALUE, f"{p.name} {problem}", p.name)

    def label(self, attrs: dict, sym: dict[str, str]) -> str:
        """The paper-style diagram label, e.g. `3x3 Conv (192 stride 2 V)`."""
        return self.name

    # -- PyTorch back end (source text only: the front end never imports torch) --------
    def torch_module(self, args: dict[str, Lowered], in_channels: str) -> str | None:
        """Constructor expression of this op's nn.Module (None for ops that are
        expressions in forward, such as concat). Arguments come as Python source,
        with their constant value when the spec fixes it."""
        return None

    def torch_expr(self, args: dict[str, Lowered], inputs: list[str]) -> str:
        """The forward expression of an op without a module."""
        raise NotImplementedError(self.name)

    def out_channels(self, args: dict[str, Lowered], inputs: list[str]) -> str:
        """Output channels as Python source, given the inputs' channels as source."""
        return inputs[0]

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def require_map(shape: Shape, what: str) -> tuple[int, int, int]:
        if len(shape) != 3:
            raise ShapeError(codes.NEEDS_FEATURE_MAP, f"{what} expects a C x H x W feature map, got a flat vector of {shape[0]}")
        return shape


OPS: dict[str, Op] = {}


def register(cls: type[Op]) -> type[Op]:
    cls.ranged = tuple(p for p in cls.params if p.minimum is not None or p.maximum is not None)
    op = cls()
    for name in (cls.name, *cls.aliases):
        OPS[name] = op
    return cls


def lookup(name: str) -> Op | None:
    return OPS.get(name)


def sym_or(attrs: dict, sym: dict[str, str], name: str) -> str:
    """A parameter as the diagram shows it: its symbolic text when there is one."""
    return sym.get(name) or format_value(attrs[name]).strip('"')
