"""Weight initialisation schemes a network can choose (`init conv: kaiming_normal(...)`).

Without an `init` statement every layer keeps PyTorch's own initialisation (what
`nn.Conv2d` and `nn.Linear` do when they are built; timm's Inception models rely on it).
torchvision's ResNet, VGG and GoogLeNet re-initialise afterwards, walking
`self.modules()`; an `init` statement generates exactly that loop. Each scheme is here
once: its parameters (typed like an op's) and the `torch.nn.init` call it lowers to.
The front end only reads this table; nothing here imports torch."""

from __future__ import annotations

from dataclasses import dataclass

from .ops import OPS
from .ops.base import OpParam as Param
from .values import BOOL, FLOAT, one_of

__all__ = ["Scheme", "SCHEMES", "LAYER_KINDS", "init_lines", "layer_init_lines", "is_pattern"]

# the layer kinds an `init` statement names, and the PyTorch classes they cover (the
# `init_kind` and `torch_class` traits of the ops)
LAYER_KINDS = {op.init_kind: op.torch_class for op in OPS.values() if op.init_kind}

_ZERO_BIAS = Param("zero_bias", BOOL, True)  # torchvision's VGG/ResNet zero the bias, GoogLeNet keeps it
_FAN = [Param("mode", one_of("fan_in", "fan_out"), "fan_in"),
        Param("nonlinearity", one_of("relu", "leaky_relu", "linear", "sigmoid", "tanh"), "leaky_relu"),
        Param("a", FLOAT, 0.0)]


# fan-out as TensorFlow's EfficientNet/MobileNet count it (timm's `_init_weight_goog`):
# per group for a convolution, the output features for a linear layer
FAN_OUT = {"conv": ["fan_out = module.out_channels // module.groups",
                    "fan_out *= module.kernel_size[0] * module.kernel_size[1]"],
           "linear": ["fan_out = module.out_features"]}


@dataclass(frozen=True)
class Scheme:
    name: str
    function: str  # in torch.nn.init
    params: tuple[Param, ...]
    doc: str
    # arguments computed from the layer's fan-out (FAN_OUT) rather than given in the spec:
    # (statements before the call, the call's extra arguments)
    from_layer: tuple[tuple[str, ...], str] | None = None
    fan: bool = False  # computed from the weight's fan-in/out: a conv or linear weight (2-D or more)


SCHEMES = {s.name: s for s in [
    # defaults are torch.nn.init's own, so the generated call shows only what a spec changed
    Scheme("kaiming_normal", "kaiming_normal_", (*_FAN, _ZERO_BIAS),
           "He et al. 2015, normal; torchvision's ResNet and VGG convs use mode=\"fan_out\", nonlinearity=\"relu\"",
           fan=True),
    Scheme("kaiming_uniform", "kaiming_uniform_", (*_FAN, _ZERO_BIAS), "He et al. 2015, uniform", fan=True),
    Scheme("xavier_normal", "xavier_normal_", (Param("gain", FLOAT, 1.0), _ZERO_BIAS), "Glorot & Bengio 2010, normal",
           fan=True),
    Scheme("xavier_uniform", "xavier_uniform_", (Param("gain", FLOAT, 1.0), _ZERO_BIAS), "Glorot & Bengio 2010, uniform",
           fan=True),
    Scheme("normal", "normal_", (Param("mean", FLOAT, 0.0), Param("std", FLOAT, 1.0), _ZERO_BIAS),
           "N(mean, std^2); torchvision's VGG classifier uses std=0.01"),
    Scheme("trunc_normal", "trunc_normal_", (Param("mean", FLOAT, 0.0), Param("std", FLOAT, 1.0),
                                             Param("a", FLOAT, -2.0), Param("b", FLOAT, 2.0), _ZERO_BIAS),
           "N(mean, std^2) cut to [a, b]; torchvision's GoogLeNet uses std=0.01, zero_bias=false"),
    Scheme("fan_out_normal", "normal_", (_ZERO_BIAS,),
           "N(0, 2 / fan_out) with fan_out per group (TensorFlow's MobileNet/EfficientNet convs, timm's)",
           from_layer=((), "std=(2.0 / fan_out) ** 0.5")),
    Scheme("fan_out_uniform", "uniform_", (_ZERO_BIAS,),
           "U(-1/sqrt(fan_out), 1/sqrt(fan_out)) (TensorFlow's MobileNet/EfficientNet classifiers, timm's)",
           from_layer=(("bound = 1.0 / fan_out**0.5",), "-bound, bound"), fan=True),
    # for a layer by name: timm's zero_init_last zeroes the last batch norm of each residual branch
    Scheme("zeros", "zeros_", (_ZERO_BIAS,), "all 0 (`init *.bn3: zeros`: each bottleneck's last batch norm)"),
    Scheme("ones", "ones_", (_ZERO_BIAS,), "all 1"),
    Scheme("constant", "constant_", (Param("val", FLOAT), _ZERO_BIAS), "all `val`"),
]}


def init_lines(chosen: dict[str, dict]) -> list[str]:
    """The loop over `self.modules()` that applies `chosen` ({kind: {"scheme", "args"}}),
    as lines of Python (no indentation), or [] when nothing is chosen. Kinds with the same
    choice share one branch."""
    groups: dict[tuple, list[str]] = {}
    for kind in LAYER_KINDS:
        if kind in chosen:
            scheme = SCHEMES[chosen[kind]["scheme"]]
            args = tuple((p.name, chosen[kind]["args"].get(p.name, p.default)) for p in scheme.params)
            layer = (tuple(FAN_OUT[kind]) + scheme.from_layer[0], scheme.from_layer[1]) if scheme.from_layer else None
            groups.setdefault((scheme.name, args, layer), []).append(LAYER_KINDS[kind])
    lines = ["for module in self.modules():"] if groups else []
    for k, ((name, args, layer), classes) in enumerate(groups.items()):
        scheme, values = SCHEMES[name], dict(args)
        shown = [f"{p.name}={_literal(values[p.name])}" for p in scheme.params
                 if p is not _ZERO_BIAS and values[p.name] != p.default] + ([layer[1]] if layer else [])
        classes_src = classes[0] if len(classes) == 1 else f"({', '.join(classes)})"
        lines.append(f"    {'if' if k == 0 else 'elif'} isinstance(module, {classes_src}):")
        lines += [f"        {statement}" for statement in (layer[0] if layer else ())]
        lines.append(f"        nn.init.{scheme.function}({', '.join(['module.weight', *shown])})")
        if values["zero_bias"]:
            lines.append("        if module.bias is not None:")
            lines.append("            nn.init.zeros_(module.bias)")
    return lines


def is_pattern(target: str) -> bool:
    """Whether an `init` target is a layer name or pattern rather than a layer kind."""
    return target not in LAYER_KINDS


def layer_init_lines(chosen: list[dict]) -> list[str]:
    """The loop over `self.named_modules()` that applies `init NAME: ...` statements
    ({"pattern", "scheme", "args"}, in the spec's order, so a later one wins), as lines of
    Python, or [] when there are none. A name is compared, a pattern fnmatch-ed."""
    lines = ["for name, module in self.named_modules():"] if chosen else []
    if any("*" in entry["pattern"] for entry in chosen):  # a pattern may match containers and activations too
        lines += ["    if getattr(module, \"weight\", None) is None:", "        continue"]
    for entry in chosen:
        scheme, values, pattern = SCHEMES[entry["scheme"]], entry["args"], entry["pattern"]
        values = {p.name: values.get(p.name, p.default) for p in scheme.params}
        shown = [f"{p.name}={_literal(values[p.name])}" for p in scheme.params
                 if p is not _ZERO_BIAS and values[p.name] != p.default]
        test = f"fnmatchcase(name, {_literal(pattern)})" if "*" in pattern else f"name == {_literal(pattern)}"
        lines.append(f"    if {test}:")
        lines.append(f"        nn.init.{scheme.function}({', '.join(['module.weight', *shown])})")
        if values["zero_bias"]:
            lines.append("        if getattr(module, \"bias\", None) is not None:")
            lines.append("            nn.init.zeros_(module.bias)")
    return lines


def _literal(value) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)
