"""Normalisation, regularisation and dense layers (activations: activations.py)."""

from __future__ import annotations

from .. import codes
from ..values import BOOL, FLOAT, INT
from .base import Cost, Lowered, Op, OpParam, ShapeError, register, sym_or

__all__ = ["BatchNorm", "GroupNorm", "LayerNorm", "LocalResponseNorm", "ChannelShuffle", "Dropout", "DropPath", "Flatten", "Linear", "L2Normalize", "keyword_args"]


def keyword_args(first: str, a: dict[str, Lowered], **defaults) -> str:
    """`first, name=value, ...` leaving out arguments that equal PyTorch's defaults."""
    parts = [first]
    for name, default in defaults.items():
        arg = a[name]
        if not (arg.known and arg.value == default and type(arg.value) is type(default)):
            parts.append(f"{name}={arg.src}")
    return ", ".join(parts)


@register
class BatchNorm(Op):
    name, short, aliases = "batchnorm", "bn", ("bn",)
    module_reads_channels = True
    role, decoration, stateful, fresh_output = "norm", True, True, True
    doc = "Batch normalisation over channels (affine parameters counted, running statistics not)."
    example = "batchnorm(eps=0.001)"
    params = (
        OpParam("eps", FLOAT, 1e-5, "added to the variance"),
        OpParam("momentum", FLOAT, 0.1, "running-statistics momentum (PyTorch convention)"),
        OpParam("affine", BOOL, True, "learned scale and shift"),
    )

    def infer(self, attrs, inputs):
        return Cost(inputs[0], 2 * inputs[0][0] if attrs["affine"] else 0)

    def label(self, attrs, sym):
        return "BatchNorm"

    def torch_module(self, a, in_channels):
        dims = 1 if "rank" in a and a["rank"].value == 1 else 2  # after a flatten: BatchNorm1d
        return f"nn.BatchNorm{dims}d({keyword_args(in_channels, a, eps=1e-5, momentum=0.1, affine=True)})"


@register
class GroupNorm(Op):
    name, short = "groupnorm", "gn"
    module_reads_channels = True
    role, decoration, stateful, fresh_output = "norm", True, True, True
    doc = "Group normalisation: channels in `groups` groups, each normalised over its channels and the map."
    example = "groupnorm(4)"
    params = (
        OpParam("groups", INT, doc="channel groups (1: over all channels and the map)", minimum=1),
        OpParam("eps", FLOAT, 1e-5, "added to the variance"),
        OpParam("affine", BOOL, True, "learned per-channel scale and shift"),
    )

    def infer(self, attrs, inputs):
        c = self.require_map(inputs[0], "groupnorm")[0]
        if c % attrs["groups"]:
            raise ShapeError(codes.BAD_GROUPS, f"groups={attrs['groups']} must divide the {c} input channels", "groups")
        return Cost(inputs[0], 2 * c if attrs["affine"] else 0)

    def label(self, attrs, sym):
        return f"GroupNorm ({sym_or(attrs, sym, 'groups')})"

    def torch_module(self, a, in_channels):
        return f"nn.GroupNorm({keyword_args(a['groups'].src + ', ' + in_channels, a, eps=1e-5, affine=True)})"


@register
class LayerNorm(Op):
    name, short = "layernorm", "ln"
    module_reads_channels = True
    role, decoration, stateful, fresh_output = "norm", True, True, True
    runtime = ("LayerNorm2d",)
    doc = ("Layer normalisation over the channels at each position (ConvNeXt; torchvision's LayerNorm2d), "
           "or over a flat vector.")
    example = "layernorm(eps=1e-6)"
    params = (
        OpParam("eps", FLOAT, 1e-5, "added to the variance"),
        OpParam("affine", BOOL, True, "learned per-channel scale and shift"),
    )

    def infer(self, attrs, inputs):
        return Cost(inputs[0], 2 * inputs[0][0] if attrs["affine"] else 0)

    def label(self, attrs, sym):
        return "LayerNorm"

    def torch_module(self, a, in_channels):
        flat = "rank" in a and a["rank"].value == 1
        args = keyword_args(in_channels, {**a, "elementwise_affine": a["affine"]}, eps=1e-5, elementwise_affine=True)
        return f"nn.LayerNorm({args})" if flat else f"LayerNorm2d({args})"


@register
class LocalResponseNorm(Op):
    name, short, role, decoration = "lrn", "lrn", "norm", True
    doc = "Local response normalisation across channels (AlexNet, GoogLeNet)."
    example = "lrn(size=5, alpha=0.0001, beta=0.75, k=2.0)"
    params = (
        OpParam("size", INT, 5, "channels in the window", minimum=1),
        OpParam("alpha", FLOAT, 1e-4),
        OpParam("beta", FLOAT, 0.75),
        OpParam("k", FLOAT, 1.0),
    )

    def infer(self, attrs, inputs):
        self.require_map(inputs[0], "lrn")
        return Cost(inputs[0])

    def label(self, attrs, sym):
        return "LocalRespNorm"

    def torch_module(self, a, in_channels):
        return f"nn.LocalResponseNorm({keyword_args(a['size'].src, a, alpha=1e-4, beta=0.75, k=1.0)})"


@register
class Dropout(Op):
    name, short, role, view, eval_identity = "dropout", "dropout", "dense", True, True
    doc = "Dropout (active in training only)."
    example = "dropout(0.2)"
    params = (OpParam("p", FLOAT, 0.5, "probability of zeroing an element", minimum=0, maximum=1),)

    def label(self, attrs, sym):
        return f"Dropout (keep {1 - attrs['p']:.2g})"

    def torch_module(self, a, in_channels):
        return f"nn.Dropout({a['p'].src})"


@register
class DropPath(Op):
    name, short, role, view, eval_identity = "drop_path", "drop_path", "dense", True, True
    runtime = ("DropPath",)
    doc = ("Stochastic depth: in training, drop a residual branch for a whole sample with probability `p` "
           "(the others scaled by 1 / (1 - p)); the identity in eval.")
    example = "drop_path(0.1)"
    params = (OpParam("p", FLOAT, 0.0, "probability of dropping the sample's branch", minimum=0, maximum=1),)

    def label(self, attrs, sym):
        return f"Stochastic depth ({sym_or(attrs, sym, 'p')})"

    def torch_module(self, a, in_channels):
        return f"DropPath({a['p'].src})"


@register
class ChannelShuffle(Op):
    name, short, role, fresh_output = "channel_shuffle", "shuffle", "merge", True
    doc = "Interleave the channels of `groups` groups (ShuffleNet): group-major becomes channel-major order."
    example = "channel_shuffle(2)"
    params = (OpParam("groups", INT, doc="how many groups the channels form", minimum=1),)

    def infer(self, attrs, inputs):
        c = self.require_map(inputs[0], "channel_shuffle")[0]
        if c % attrs["groups"]:
            raise ShapeError(codes.BAD_GROUPS, f"groups={attrs['groups']} must divide the {c} input channels", "groups")
        return Cost(inputs[0])

    def label(self, attrs, sym):
        return f"Channel shuffle ({sym_or(attrs, sym, 'groups')})"

    def torch_module(self, a, in_channels):
        return f"nn.ChannelShuffle({a['groups'].src})"


@register
class Flatten(Op):
    name, short, role, view, transparent, flattens = "flatten", "flatten", "dense", True, True, True
    doc = "C x H x W -> C*H*W."
    example = "flatten"

    def infer(self, attrs, inputs):
        n = 1
        for d in inputs[0]:
            n *= d
        return Cost((n,))

    def label(self, attrs, sym):
        return "Flatten"

    def torch_module(self, a, in_channels):
        return "nn.Flatten()"

    def out_channels(self, a, inputs):
        return a["flat_features"].src  # supplied by the code generator: C*H*W at this point


@register
class Linear(Op):
    name, short, aliases = "linear", "fc", ("fc",)
    module_reads_channels = True
    role, principal, stateful, fresh_output, folds_batchnorm, input_rank = "dense", True, True, True, True, 1
    init_kind, torch_class, width_param = "linear", "nn.Linear", ("features", "outputs")
    doc = "Fully connected layer on a flat vector (flatten first)."
    example = "linear(1000)"
    params = (OpParam("features", INT, doc="outputs", minimum=1), OpParam("bias", BOOL, True, "add a learned bias"))

    def infer(self, attrs, inputs):
        if len(inputs[0]) != 1:
            c, h, w = inputs[0]
            raise ShapeError(codes.NEEDS_FLATTEN, f"linear expects a flat vector, got a {h}x{w}x{c} feature map; add `flatten` first")
        f = attrs["features"]
        n = inputs[0][0]
        return Cost((f,), n * f + (f if attrs["bias"] else 0), n * f)

    def label(self, attrs, sym):
        return f"Linear ({sym_or(attrs, sym, 'features')})"

    def torch_module(self, a, in_channels):
        return f"nn.Linear({keyword_args(in_channels + ', ' + a['features'].src, a, bias=True)})"

    def out_channels(self, a, inputs):
        return a["features"].src


@register
class L2Normalize(Op):
    name, short, role = "l2norm", "l2norm", "norm"
    doc = "Divide by the L2 norm over channels: unit-length embeddings (FaceNet); `F.normalize(x, dim=1)`."
    example = "l2norm"

    def label(self, attrs, sym):
        return "L2 Normalize"

    def torch_expr(self, a, inputs):
        return f"nn.functional.normalize({inputs[0]}, p=2.0, dim=1)"

