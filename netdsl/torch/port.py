"""Weights from someone else's implementation of the same architecture.

Tensors are matched by structure, not by name: both sides are listed module by module
in order of use (forward hooks on one pass over a zero input; modules that pass did not
reach, such as auxiliary heads in eval mode, follow in registration order), and each
module's tensors pair up in order. A module that holds tensors of its own and also has
children with tensors (torchvision's ConvNeXt block scales its branch by its own
`layer_scale`) is placed where one of its own tensors is first used, not where it is
entered. Every tensor of both sides must be used exactly once with the same shape (a
1x1 convolution also takes the weight of a linear layer applied channels-last, as
ConvNeXt's); any mismatch names the spec layer, its line and the parameter - nothing
is loaded partially."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from ..ir.graph import Graph, Node
from ..ops.base import op_of
from ..ops.merge import describe_shape
from ..values import format_value

__all__ = ["port_weights", "PortError", "module_groups"]


class PortError(ValueError):
    """The source does not have this architecture's tensors."""


@dataclass
class _Group:
    module: str
    tensors: list[tuple[str, torch.Tensor]]  # (full state_dict key, tensor)


def _owned(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    # the order of Module.state_dict(): parameters, then persistent buffers
    persistent = [(k, v) for k, v in module.named_buffers(recurse=False)
                  if k not in module._non_persistent_buffers_set and v is not None]
    return [(k, v) for k, v in module.named_parameters(recurse=False) if v is not None] + persistent


class _FirstUse(TorchFunctionMode):
    """Appends a module's name to `used` when one of its tensors (`owner_of`: tensor id
    -> module name) first takes part in a torch function."""

    def __init__(self, owner_of: dict[int, str], used: list[str]):
        super().__init__()
        self.owner_of, self.used = owner_of, used

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for leaf in tree_leaves((args, kwargs)):
            name = self.owner_of.pop(id(leaf), None) if isinstance(leaf, torch.Tensor) else None
            if name is not None:
                self.used.append(name)
        return func(*args, **kwargs)


def _is_composite(name: str, owners: list[tuple[str, nn.Module]]) -> bool:
    prefix = f"{name}." if name else ""
    return any(other != name and other.startswith(prefix) for other, _ in owners)


def module_groups(model: nn.Module, example: torch.Tensor | None) -> list[_Group]:
    """The model's tensors grouped by owning module, in order of use."""
    owners = [(name, m) for name, m in model.named_modules() if _owned(m)]
    used: list[str] = []
    if example is not None:
        composite = {name for name, _ in owners if _is_composite(name, owners)}
        hooks = [m.register_forward_pre_hook(lambda mod, args, name=name: used.append(name))
                 for name, m in owners if name not in composite]
        owner_of = {id(t): name for name, m in owners if name in composite for _, t in _owned(m)}
        was_training = model.training
        try:
            model.eval()
            with torch.no_grad(), _FirstUse(owner_of, used):
                model(example)
        finally:
            model.train(was_training)
            for h in hooks:
                h.remove()
    seen: dict[str, None] = OrderedDict.fromkeys(used)
    for name, _ in owners:
        seen.setdefault(name, None)
    modules = dict(owners)
    groups = []
    for name in seen:
        prefix = f"{name}." if name else ""
        groups.append(_Group(name, [(prefix + k, v) for k, v in _owned(modules[name])]))
    return groups


def _state_dict_groups(state: dict[str, torch.Tensor]) -> list[_Group]:
    groups: OrderedDict[str, _Group] = OrderedDict()
    for key, value in state.items():
        module = key.rsplit(".", 1)[0] if "." in key else ""
        groups.setdefault(module, _Group(module, [])).tensors.append((key, value))
    return list(groups.values())


def _node_for(graph: Graph | None, module: str) -> Node | None:
    if graph is None:
        return None
    for node in graph.nodes:
        if node.name == module:
            return node
    return None


def _where(graph: Graph | None, module: str) -> str:
    node = _node_for(graph, module)
    if node is None:
        return f"layer '{module}'"
    where = f"{node.op} '{module}' at {node.span.file}:{node.span.line}"
    return where


def _because(graph: Graph, node: Node, param: str) -> str:
    """` (m=256)`: the outermost block parameter that set this argument, if any."""
    text = node.written.get(param)
    named = None
    for frame in graph.frame_chain(node.frame):
        if frame.kind != "block":
            continue  # branches, repeats: no parameters of their own
        if text not in frame.args:
            break
        named, text = (text, frame.args[text]), frame.written.get(text)
    return f" ({named[0]}={format_value(named[1])})" if named else ""


def _describe(graph, module: str, key: str, ours: torch.Tensor, theirs: torch.Tensor, their_key: str) -> str:
    node = _node_for(graph, module)
    role = key.rsplit(".", 1)[-1]
    width = op_of(node.op).width_param if node is not None else None
    if width is not None and role == "weight" and ours.shape[0] != theirs.shape[0]:
        param, word = width
        what = f"expects {ours.shape[0]} {word}{_because(graph, node, param)}, checkpoint has {theirs.shape[0]}"
    else:
        what = f"expects {role} of shape {tuple(ours.shape)}, checkpoint has {tuple(theirs.shape)}"
    shape = f"; its output is {describe_shape(node.shape)}" if node is not None and node.shape else ""
    return f"{_where(graph, module)} {what} (checkpoint tensor '{their_key}'){shape}"


def port_weights(model: nn.Module, source: nn.Module | dict, *, example: torch.Tensor | None = None, strict_order: bool = False) -> dict[str, str]:
    """Load `source`'s tensors into `model` by structure; returns the key mapping
    (ours -> theirs). Raises PortError and changes nothing on any mismatch."""
    graph: Graph | None = getattr(model, "netdsl_graph", None)
    if example is None and graph is not None and graph.input_shape:
        example = torch.zeros(1, *graph.input_shape)
    ours = module_groups(model, example)
    if isinstance(source, nn.Module):
        mapping, new_state = _pair(graph, ours, module_groups(source, example))
    else:
        theirs = _state_dict_groups(dict(source))
        try:
            mapping, new_state = _pair(graph, ours, theirs)
        except PortError as first:
            # a checkpoint lists its tensors in its modules' registration order, where a
            # training-only head declared before the main path sits in the middle, not
            # after it as in an eval pass: ours in registration order, else the first error
            try:
                mapping, new_state = _pair(graph, module_groups(model, None), theirs)
            except PortError:
                raise first from None
    model.load_state_dict(new_state, strict=True)
    return mapping


def _pointwise_linear(ours: torch.Tensor, theirs: torch.Tensor) -> bool:
    """A 1x1 convolution's weight (out, in, 1, 1) from a linear layer's (out, in)."""
    return ours.dim() == 4 and tuple(ours.shape[2:]) == (1, 1) and theirs.dim() == 2 and ours.shape[:2] == theirs.shape


def _pair(graph, ours: list[_Group], theirs: list[_Group]):
    mapping: dict[str, str] = {}
    new_state: dict[str, torch.Tensor] = {}
    for i, group in enumerate(ours):
        if i >= len(theirs):
            missing = sum(len(g.tensors) for g in ours[i:])
            raise PortError(f"{_where(graph, group.module)} and {len(ours) - i - 1} later layers ({missing} tensors) "
                            f"have no counterpart: the checkpoint has only {len(theirs)} layers with weights, this spec {len(ours)}")
        other = theirs[i]
        if len(group.tensors) != len(other.tensors):
            names = ", ".join(k.rsplit(".", 1)[-1] for k, _ in other.tensors)
            raise PortError(f"{_where(graph, group.module)} has {len(group.tensors)} tensors, its counterpart "
                            f"'{other.module}' has {len(other.tensors)} ({names})")
        for (key, ours_t), (their_key, theirs_t) in zip(group.tensors, other.tensors):
            if ours_t.shape != theirs_t.shape and not _pointwise_linear(ours_t, theirs_t):
                raise PortError(_describe(graph, group.module, key, ours_t, theirs_t, their_key))
            mapping[key] = their_key
            new_state[key] = theirs_t.detach().reshape(ours_t.shape).clone()
    if len(theirs) > len(ours):
        extra = ", ".join(g.module for g in theirs[len(ours):][:3])
        raise PortError(f"the checkpoint has {len(theirs) - len(ours)} layers with weights that this spec lacks: {extra}...")
    return mapping, new_state
