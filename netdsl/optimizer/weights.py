"""Weights of an optimized network from the state_dict of the unoptimized one, following
each layer's provenance (an `origin`, see :mod:`.rewrite`).

Every function of this file is copied verbatim into the generated optimized module (so
that a file written by `netdsl compile --optimize inference` needs only torch): they
may use nothing but torch and each other, and are written as `ruff format` lays them out
(88 columns)."""

from __future__ import annotations

import torch

__all__ = ["convert_state_dict", "fold_batchnorm_tensors", "layer_tensors"]


def layer_tensors(origin, state, memory_format=torch.contiguous_format):
    """The tensors of one layer (name -> tensor, e.g. weight, bias), made as `origin`
    says (new 4-D weights are laid out in `memory_format`)."""
    kind = origin["kind"]
    if kind == "copy":
        # all of the layer's tensors, its submodules' too (an unexpanded separable conv's
        # `0.weight`, `1.weight`); a layer's name is never a prefix of another layer's
        prefix = origin["from"] + "."
        return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if kind == "fold_bn":
        conv = layer_tensors(origin["conv"], state, memory_format)
        return fold_batchnorm_tensors(conv, origin, state, memory_format)
    if kind == "scale":
        # a layer whose output is multiplied by a constant: weights and bias times it
        scaled = layer_tensors(origin["of"], state, memory_format)
        return {k: v * origin["factor"] for k, v in scaled.items()}
    if kind == "scale_channels":
        # a conv whose output channels are multiplied by a layer scale's learned factors
        conv = layer_tensors(origin["of"], state, memory_format)
        gamma = state[origin["by"] + ".weight"].reshape(-1)
        weight = conv["weight"]
        bias = conv["bias"] if "bias" in conv else torch.zeros_like(gamma)
        factor = gamma.to(weight.dtype).reshape(-1, *[1] * (weight.dim() - 1))
        return {"weight": weight * factor, "bias": bias * gamma.to(bias.dtype)}
    if kind == "concat_filters":
        parts = [layer_tensors(part, state, memory_format) for part in origin["parts"]]
        out = {"weight": torch.cat([p["weight"] for p in parts], 0)}
        if any("bias" in p for p in parts):
            zeros = [torch.zeros_like(p["weight"][:, 0, 0, 0]) for p in parts]
            biases = [p.get("bias", z) for p, z in zip(parts, zeros)]
            out["bias"] = torch.cat(biases, 0)
        return out
    raise ValueError(f"unknown origin {kind!r}")


def fold_batchnorm_tensors(conv, origin, state, memory_format=torch.contiguous_format):
    """A conv (or linear) followed by an eval-mode batchnorm, as one layer:
    w' = w * g / sqrt(var + eps), b' = beta + (b - mean) * g / sqrt(var + eps)
    (the per-channel factors in float64, the weights multiplied once in their dtype)."""
    bn = origin["bn"] + "."
    weight = conv["weight"]
    mean, var = state[bn + "running_mean"].double(), state[bn + "running_var"].double()
    gamma = state[bn + "weight"].double() if origin["affine"] else torch.ones_like(mean)
    beta = state[bn + "bias"].double() if origin["affine"] else torch.zeros_like(mean)
    scale = gamma / torch.sqrt(var + origin["eps"])
    bias = conv["bias"].double() if "bias" in conv else torch.zeros_like(mean)
    folded_bias = beta + (bias - mean) * scale
    factor = scale.to(weight.dtype).reshape(-1, *[1] * (weight.dim() - 1))
    layout = memory_format if weight.dim() == 4 else torch.contiguous_format
    empty = torch.empty_like(weight, memory_format=layout)
    folded_weight = torch.mul(weight, factor, out=empty)
    return {"weight": folded_weight, "bias": folded_bias.to(weight.dtype)}


def convert_state_dict(origins, state, memory_format=torch.contiguous_format):
    """The optimized module's state_dict: for each of its layers (attribute name ->
    origin), the layer's tensors; 4-D weights laid out in `memory_format`."""
    out = {}
    for attr, origin in origins.items():
        for key, tensor in layer_tensors(origin, state, memory_format).items():
            if tensor.dim() == 4:
                tensor = tensor.contiguous(memory_format=memory_format)
            out[f"{attr}.{key}"] = tensor
    return out
