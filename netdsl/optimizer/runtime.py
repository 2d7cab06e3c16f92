"""What an optimized module runs besides torch: `InferenceConv`, a conv that runs with
what follows it (a residual sum, an activation) as one oneDNN kernel.

Every top-level definition of this file is copied verbatim into the generated optimized
module (see :mod:`.flat`), so that a file written by `netdsl compile --optimize
inference` needs only torch: they may use nothing but `torch`, `nn` and each other, and
they are written as `ruff format` lays them out (88 columns)."""

import torch
from torch import nn

__all__ = ["InferenceConv", "post_op"]

_ONEDNN = torch.backends.mkldnn.is_available() and hasattr(
    torch.ops.mkldnn, "_convolution_pointwise"
)


def post_op(y, name, scalars=(), algorithm=""):
    """oneDNN's unary post-op `name` (with its scalars and algorithm) in PyTorch."""
    f = nn.functional
    if name == "none":
        return y
    if name == "swish":
        return f.silu(y)
    if name == "gelu":
        return f.gelu(y, approximate="tanh" if algorithm == "tanh" else "none")
    if name in ("sigmoid", "tanh"):
        return getattr(torch, name)(y)
    # relu, hardtanh, hardswish, hardsigmoid, leaky_relu
    return getattr(f, name)(y, *scalars)


class InferenceConv(nn.Conv2d):
    """A convolution for inference, with what follows it: a residual sum (`forward(x,
    shortcut)`: the shortcut is added to the conv's output) and/or an activation, as
    oneDNN's unary post-op: `activation` is its name ("relu", "swish", ...) or (name,
    scalars, algorithm), e.g. ("hardtanh", [0.0, 6.0], "") for ReLU6.

    On the CPU in float32 without autograd, they run as one oneDNN kernel
    (mkldnn._convolution_pointwise, the sum as a binary post-op: the kernels
    torch.compile's inductor emits for these patterns). With `prepack=True` the weight
    is reordered into oneDNN's blocked layout once per input shape (again whenever the
    weight changes) instead of at every call; with `inplace=True` the sum is written
    into the shortcut's memory, which nobody reads afterwards. Elsewhere (other devices
    and dtypes, autocast, gradients, and while being traced or compiled, e.g. for an
    ONNX export) they run as separate PyTorch ops."""

    PACKS = 4

    def __init__(
        self,
        *args,
        activation=None,
        residual=False,
        inplace=False,
        prepack=False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.activation, self.residual = activation, residual
        if activation is None:
            self._unary = ("none", [], "")
        elif isinstance(activation, str):
            self._unary = (activation, [], "")
        else:
            self._unary = (activation[0], list(activation[1]), activation[2])
        self.inplace, self.prepack = inplace, prepack
        # (weight, its version, {input shape: the weight in oneDNN's layout})
        self._packed = None

    def forward(self, x, shortcut=None):
        w = self.weight
        if (
            _ONEDNN
            and x.is_cpu
            and x.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu")
            and not (torch.is_grad_enabled() and (w.requires_grad or x.requires_grad))
            and not isinstance(self.padding, str)
            and not torch.jit.is_tracing()
            and not torch.compiler.is_compiling()
        ):
            args = (
                self.packed_weight(x) if self.prepack else w,
                self.bias,
                self.padding,
                self.stride,
                self.dilation,
                self.groups,
            )
            if shortcut is None:
                return torch.ops.mkldnn._convolution_pointwise(x, *args, *self._unary)
            # (after the sum oneDNN runs only an activation without scalars: relu)
            unary = self._unary[0] if self.activation else None
            # (a prepacked weight is in oneDNN's blocked layout, not a torch one)
            own = () if self.prepack else (w,)
            if self.inplace and _same_layout(shortcut, x, *own):
                return torch.ops.mkldnn._convolution_pointwise_.binary(
                    shortcut, x, *args, "add", None, unary, [], None
                )
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, shortcut, *args, "add", None, unary, [], None
            )
        y = self._conv_forward(x, w, self.bias)
        if shortcut is not None:
            y = y + shortcut
        return post_op(y, *self._unary)

    def packed_weight(self, x):
        """The weight in the layout oneDNN chose for x's shape (it differs between
        shapes: a batch-1 layout slows batch 8 down), one per shape for the last PACKS
        shapes."""
        w, shape = self.weight, tuple(x.shape)
        version = None if w.is_inference() else w._version
        cached = self._packed
        if cached is None or cached[0] is not w or cached[1] != version:
            self._packed = (w, version, {})
        packs = self._packed[2]
        packed = packs.get(shape)
        if packed is None:
            with torch.no_grad():
                packed = torch.ops.mkldnn._reorder_convolution_weight(
                    w,
                    list(self.padding),
                    list(self.stride),
                    list(self.dilation),
                    self.groups,
                    list(shape),
                )
            packs[shape] = packed
            # the oldest go (another thread may be evicting too)
            while len(packs) > self.PACKS:
                packs.pop(next(iter(packs), None), None)
        return packed

    def __getstate__(self):
        # copy.deepcopy, torch.save: oneDNN's tensors have no storage to copy
        return {**self.__dict__, "_packed": None}


def _same_layout(*tensors):
    """Whether the tensors are all dense in the same memory format (oneDNN writes an
    in-place sum in the layout of the conv's output, whatever the shortcut's is)."""
    nhwc = all(t.is_contiguous(memory_format=torch.channels_last) for t in tensors)
    return nhwc or all(t.is_contiguous() for t in tensors)
