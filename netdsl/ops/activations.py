"""Activations: parameter-free elementwise functions (and softmax), one class each."""

from __future__ import annotations

from ..values import FLOAT, one_of
from .base import Cost, Op, OpParam, register

__all__ = ["Activation", "ReLU", "ReLU6", "Sigmoid", "Tanh", "Softmax", "Identity", "SiLU", "GELU", "Hardswish",
           "Hardsigmoid", "LeakyReLU", "PReLU"]


class Activation(Op):
    """A function applied after a layer; drawn as `Relu activation` in the layer's box."""

    role, decoration, elementwise = "act", True, True
    title = ""
    module_src = ""  # its nn.Module, e.g. `nn.ReLU()`
    plain = False  # labelled by its title alone, without " activation"

    def label(self, attrs, sym):
        return self.title

    def diagram_label(self, attrs, sym):
        return self.title if self.plain else f"{self.title} activation"

    def torch_module(self, a, in_channels):
        if self.inplace_module and "inplace" in a and a["inplace"].value is True:
            return self.inplace_module
        return self.module_src


# In place (inplace_module) only where a generator sees that nothing else reads the input
# (right after a conv or batch norm of the same body, as torchvision and timm write it); a
# residual shortcut, a sibling branch or a named value keeps the non-in-place module.


@register
class ReLU(Activation):
    name = short = "relu"
    title, module_src, inplace_module = "Relu", "nn.ReLU()", "nn.ReLU(inplace=True)"
    onednn_unary, onednn_after_sum = ("relu", ()), True
    doc, example = "max(x, 0).", "relu"


@register
class ReLU6(Activation):
    name = short = "relu6"
    title, module_src, inplace_module = "Relu6", "nn.ReLU6()", "nn.ReLU6(inplace=True)"
    onednn_unary = ("hardtanh", (0.0, 6.0))
    doc, example = "min(max(x, 0), 6) (MobileNet).", "relu6"


@register
class Sigmoid(Activation):
    name = short = "sigmoid"
    title, module_src = "Sigmoid", "nn.Sigmoid()"
    # oneDNN's "sigmoid" post-op computes it, but fused measured no faster than the conv then
    # torch's sigmoid (0.94-1.07x, 1 thread, b8): not declared (tests/test_inference_conv.py checks the kernel)
    doc, example = "1 / (1 + exp(-x)).", "sigmoid"


@register
class Tanh(Activation):
    name = short = "tanh"
    title, module_src = "Tanh", "nn.Tanh()"
    onednn_unary = ("tanh", ())
    doc, example = "Hyperbolic tangent.", "tanh"


@register
class Softmax(Activation):
    name = short = "softmax"
    role, decoration, elementwise, plain = "dense", False, False, True  # over channels, not per element
    title, module_src = "Softmax", "nn.Softmax(dim=1)"
    doc, example = "Softmax over channels.", "softmax"


@register
class Identity(Activation):
    name = short = "identity"
    elementwise, view, eval_identity, plain = False, True, True, True
    title, module_src = "Identity", "nn.Identity()"
    doc, example = "Passes its input through.", "identity"


@register
class SiLU(Activation):
    name = short = "silu"
    aliases = ("swish",)
    title, module_src, inplace_module = "SiLU", "nn.SiLU()", "nn.SiLU(inplace=True)"
    # oneDNN's "swish" post-op computes it, but fused measured no faster than the conv then an
    # in-place silu (0.99-1.01x after 1x1 convs, 0.84-1.09x after depthwise ones, 1 thread,
    # b8; 1.00-1.05x per layer and 0.965x on efficientnet_b0, 2 threads, quiet machine,
    # benchmarks/kernels.py): not declared (tests/test_inference_conv.py checks the kernel)
    doc, example = "x * sigmoid(x), also called swish (EfficientNet, MobileNetV3's SE-free blocks).", "silu"


@register
class GELU(Activation):
    name = short = "gelu"
    title = "GELU"
    params = (OpParam("approximate", one_of("none", "tanh"), "none", '`"none"` (exact, erf) or `"tanh"`'),)
    onednn_unary = ("gelu", ())

    def onednn_post_op(self, attrs):
        return "gelu", (), attrs.get("approximate", "none")  # oneDNN's algorithm: "none" (erf) or "tanh"
    doc, example = "Gaussian error linear unit, exact or its tanh approximation (ConvNeXt).", 'gelu(approximate="tanh")'

    def torch_module(self, a, in_channels):
        approximate = a["approximate"]
        return "nn.GELU()" if approximate.known and approximate.value == "none" else f"nn.GELU(approximate={approximate.src})"


@register
class Hardswish(Activation):
    name = short = "hardswish"
    title, module_src, inplace_module = "Hardswish", "nn.Hardswish()", "nn.Hardswish(inplace=True)"
    onednn_unary = ("hardswish", ())
    doc, example = "x * relu6(x + 3) / 6 (MobileNetV3).", "hardswish"


@register
class Hardsigmoid(Activation):
    name = short = "hardsigmoid"
    title, module_src, inplace_module = "Hardsigmoid", "nn.Hardsigmoid()", "nn.Hardsigmoid(inplace=True)"
    onednn_unary = ("hardsigmoid", ())
    doc, example = "relu6(x + 3) / 6 (MobileNetV3's squeeze-excitation gate).", "hardsigmoid"


@register
class LeakyReLU(Activation):
    name, short = "leaky_relu", "leaky_relu"
    title = "LeakyReLU"
    params = (OpParam("slope", FLOAT, 0.01, "the slope for negative inputs"),)
    doc, example = "max(x, 0) + slope * min(x, 0).", "leaky_relu(0.1)"
    onednn_unary = ("leaky_relu", (0.01,))

    def onednn_post_op(self, attrs):
        return "leaky_relu", (float(attrs.get("slope", 0.01)),), ""

    def torch_module(self, a, in_channels):
        slope = a["slope"]
        inplace = ", inplace=True" if "inplace" in a and a["inplace"].value is True else ""
        if slope.known and slope.value == 0.01:
            return f"nn.LeakyReLU({inplace[2:]})"
        return f"nn.LeakyReLU({slope.src}{inplace})"

    inplace_module = "nn.LeakyReLU(inplace=True)"  # at the default slope; torch_module writes any slope


@register
class PReLU(Activation):
    name = short = "prelu"
    module_reads_channels = True
    title = "PReLU"
    stateful, fresh_output, elementwise = True, True, False  # a learned slope per channel
    params = (OpParam("init", FLOAT, 0.25, "the slopes' initial value"),)
    doc, example = "max(x, 0) + a * min(x, 0) with a learned slope a per channel.", "prelu"

    def infer(self, attrs, inputs):
        return Cost(inputs[0], inputs[0][0])

    def torch_module(self, a, in_channels):
        init = a["init"]
        return f"nn.PReLU({in_channels})" if init.known and init.value == 0.25 else f"nn.PReLU({in_channels}, init={init.src})"
