"""Activations: parameter-free elementwise functions (and softmax), one class each."""

from __future__ import annotations

from .base import Op, register

__all__ = ["Activation", "ReLU", "ReLU6", "Sigmoid", "Tanh", "Softmax", "Identity"]


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
    onednn_unary = ("relu", ())
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
    doc, example = "1 / (1 + exp(-x)).", "sigmoid"


@register
class Tanh(Activation):
    name = short = "tanh"
    title, module_src = "Tanh", "nn.Tanh()"
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
