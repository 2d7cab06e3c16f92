"""What every builtin op is: its parameters, shape rule, cost, diagram label and
PyTorch lowering, held in one :class:`Op` subclass per op (timm's registry habit)."""

from __future__ import annotations

import ast as pyast
from dataclasses import dataclass
from typing import ClassVar

from .. import codes
from ..syntax import ast
from ..values import format_value

__all__ = ["OpParam", "Op", "ShapeError", "Cost", "REQUIRED", "UNKNOWN", "Lowered", "product", "register", "OPS", "ROLES",
           "lookup", "op_of", "INTERNAL_OPS"]

# the diagram styles of op boxes (render/dot.py colours them), in the order the docs list ops
ROLES = ("conv", "norm", "act", "dense", "merge", "pool")

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


# what binds at least as tightly as `*`, `/`, `//` on the left of one (on the right, the
# same operators need parentheses: `a * (b // c)`)
_ATOMS = (pyast.Name, pyast.Constant, pyast.Attribute, pyast.Call, pyast.Subscript, pyast.List, pyast.Tuple)
_PRODUCTS = (pyast.Mult, pyast.Div, pyast.FloorDiv, pyast.Mod)


def product(left: str, op: str, right: str) -> str:
    """Python source for `left op right` (`op` one of `*`, `/`, `//`, `%`) from the
    sources of two operands, parenthesised where their own operators bind less tightly:
    a multiplier `a + 1` gives `c * (a + 1)`, not `c * a + 1`."""

    def operand(src: str, right_side: bool) -> str:
        node = pyast.parse(src, mode="eval").body
        tight = isinstance(node, _ATOMS) or (
            isinstance(node, pyast.UnaryOp) and isinstance(node.op, pyast.USub)) or (
            isinstance(node, pyast.BinOp) and (isinstance(node.op, pyast.Pow)
                                               or (isinstance(node.op, _PRODUCTS) and not right_side)))
        return src if tight else f"({src})"

    return f"{operand(left, False)} {op} {operand(right, True)}"
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
    construct: ClassVar[str] = ""  # the language construct that also makes it, for messages (`concat { | ... }`)

    # -- traits: what the passes, generators, renderer, initialiser and porter ask of an
    # op (never its name). tests/test_op_registry.py checks every registered op has them.
    role: ClassVar[str] = ""  # diagram style (one of ROLES): conv, pool, merge, norm, dense, act
    principal: ClassVar[bool] = False  # a block of this op plus decorations is drawn as this op ("Conv")
    decoration: ClassVar[bool] = False  # drawn as part of the principal op's box in such a block
    transparent: ClassVar[bool] = False  # no box of its own: drawn as part of the box before it (flatten)
    drawn_into: ClassVar[str] = ""  # the op whose box absorbs this one when it is its sole reader
    input_rank: ClassVar[int] = 3  # what it usually reads: 3 (C x H x W) or 1 (a flat vector)
    stateful: ClassVar[bool] = False  # holds parameters or buffers (state_dict entries)
    fresh_output: ClassVar[bool] = False  # writes a new tensor that a following in-place op may overwrite
    inplace_module: ClassVar[str] = ""  # its module when it may overwrite its input (nn.ReLU(inplace=True))
    # a two-input elementwise merge whose torch_expr writes into input `inplace` when asked
    # (`a.add_(b)`, `a.mul_(g)`; an input of the output's shape)
    inplace_merge: ClassVar[bool] = False
    elementwise: ClassVar[bool] = False  # a function of each element alone (commutes with channel slicing)
    view: ClassVar[bool] = False  # its output may share storage with its input (in eval)
    eval_identity: ClassVar[bool] = False  # the identity in eval mode (dropout): inference drops it
    folds_batchnorm: ClassVar[bool] = False  # a batchnorm right after it folds into its weights and bias
    conv2d: ClassVar[bool] = False  # lowers to one nn.Conv2d (oneDNN fuses post-ops into it)
    # the oneDNN unary post-op it is (name, scalars at its default arguments; see onednn_post_op),
    # each verified on the fused kernel (tests/test_inference_conv.py)
    onednn_unary: ClassVar[tuple[str, tuple[float, ...]] | None] = None
    onednn_after_sum: ClassVar[bool] = False  # oneDNN also runs it right after a fused sum (binary post-op)
    init_kind: ClassVar[str] = ""  # the layer kind `init KIND: scheme` names for it ("conv", "linear")
    torch_class: ClassVar[str] = ""  # the nn class an `init` of its kind applies to
    width_param: ClassVar[tuple[str, str] | None] = None  # (parameter, word) that sets its output width
    flattens: ClassVar[bool] = False  # its lowering needs the flattened size (`flat_features`)
    module_reads_channels: ClassVar[bool] = False  # its torch_module takes the input's channels (nn.Conv2d(C, ...))
    fixed_size: ClassVar[bool] = False  # its output's shape does not depend on its input's height and width
    runtime: ClassVar[tuple[str, ...]] = ()  # classes of netdsl/torch/runtime.py its lowering uses
    # its module has one `weight` (and maybe a `bias`) that `init NAME: scheme` sets; None: as `stateful`
    init_weight: ClassVar[bool | None] = None

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
        """The paper-style label, e.g. `3x3 Conv (192 stride 2 V)` (summaries, diagrams)."""
        return self.name

    def diagram_label(self, attrs: dict, sym: dict[str, str]) -> str:
        """The label of its box in a diagram (an activation says `Relu activation`)."""
        return self.label(attrs, sym)

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

    def onednn_post_op(self, attrs: dict) -> tuple[str, tuple[float, ...], str] | None:
        """The oneDNN unary post-op computing this op with these arguments: (name,
        scalars, algorithm); None where it is none."""
        if self.onednn_unary is None:
            return None
        return self.onednn_unary[0], tuple(self.onednn_unary[1]), ""

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def require_map(shape: Shape, what: str) -> tuple[int, int, int]:
        if len(shape) != 3:
            raise ShapeError(codes.NEEDS_FEATURE_MAP, f"{what} expects a C x H x W feature map, got a flat vector of {shape[0]}")
        return shape


OPS: dict[str, Op] = {}
# ops a spec cannot write, made by elaboration (`input`) or by the optimizer (`slice`)
INTERNAL_OPS: dict[str, Op] = {}


def register(cls: type[Op]) -> type[Op]:
    cls.ranged = tuple(p for p in cls.params if p.minimum is not None or p.maximum is not None)
    if cls.init_weight is None:
        cls.init_weight = cls.stateful
    op = cls()
    for name in (cls.name, *cls.aliases):
        OPS[name] = op
    return cls


def register_internal(cls: type[Op]) -> type[Op]:
    INTERNAL_OPS[cls.name] = cls()
    return cls


def lookup(name: str) -> Op | None:
    return OPS.get(name)


def op_of(name: str) -> Op:
    """The op of a graph node (`node.op`): a builtin or an internal one."""
    op = OPS.get(name) or INTERNAL_OPS.get(name)
    if op is None:
        raise KeyError(f"no op {name!r}")
    return op


@register_internal
class Input(Op):
    """The network's input (the `input [C, H, W]` statement)."""

    name, short, role = "input", "input", "io"


@register_internal
class Slice(Op):
    """Channels [start, stop) of a tensor: the optimizer splits a fused conv's output into them."""

    name, short, role, view = "slice", "slice", "merge", True


@register_internal
class Invalid(Op):
    """What a failed statement leaves behind, so that later ones are still checked."""

    name, short, role = "invalid", "invalid", "io"


def sym_or(attrs: dict, sym: dict[str, str], name: str) -> str:
    """A parameter as the diagram shows it: its symbolic text when there is one."""
    return sym.get(name) or format_value(attrs[name]).strip('"')
