"""Layer names: how every layer of a spec gets its stable, predictable dotted name.

Within a scope (a block body, a branch, a shortcut, an iteration) an unlabelled layer is
named after its op or block in snake case, numbered from 1 when the scope holds more
than one of that kind (`conv`, or `conv1`, `conv2`); a label (`name: op(...)`) names it
explicitly. The elaborator and the code generator both name layers through here, so the
graph's names and the generated module's state_dict keys agree."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ..ops import OPS
from ..syntax import ast

__all__ = ["Names", "DuplicateName", "snake_case", "call_key", "single_call", "count_chain", "count_kinds"]


# Names a layer label cannot take: attributes of torch.nn.Module (a layer named `forward`
# or `__init__` would hide the module's own method in the generated code). Written out
# so that the front end does not import torch; tests/test_robustness.py keeps it complete.
MODULE_ATTRIBUTES = frozenset({
    'add_module', 'apply', 'bfloat16', 'buffers', 'call_super_init', 'children', 'compile', 'cpu', 'cuda',
    'double', 'dump_patches', 'eval', 'extra_repr', 'float', 'forward', 'get_buffer', 'get_extra_state',
    'get_parameter', 'get_submodule', 'half', 'ipu', 'load_state_dict', 'modules', 'mtia', 'named_buffers',
    'named_children', 'named_modules', 'named_parameters', 'parameters', 'register_backward_hook',
    'register_buffer', 'register_forward_hook', 'register_forward_pre_hook', 'register_full_backward_hook',
    'register_full_backward_pre_hook', 'register_load_state_dict_post_hook',
    'register_load_state_dict_pre_hook', 'register_module', 'register_parameter',
    'register_state_dict_post_hook', 'register_state_dict_pre_hook', 'requires_grad_', 'set_extra_state',
    'set_submodule', 'share_memory', 'state_dict', 'to', 'to_empty', 'train', 'training', 'type', 'xpu',
    'zero_grad', 'T_destination'
})


def reserved_label(label: str) -> bool:
    return label.startswith("_") or label in MODULE_ATTRIBUTES


class DuplicateName(Exception):
    pass


def snake_case(name: str) -> str:
    """`InceptionA` -> `inception_a`, `ConvBN` -> `conv_bn`, `Block35` -> `block35`."""
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return s.lower()


@dataclass
class Names:
    """Automatic and explicit layer names within one scope."""

    path: str
    counts: Counter
    used: Counter = field(default_factory=Counter)
    taken: set = field(default_factory=set)

    def full(self, local: str) -> str:
        return f"{self.path}.{local}" if self.path else local

    def local(self, label: str | None, key: str) -> str:
        """The next name for a layer of kind `key`, or its label."""
        if label is not None:
            if label in self.taken:
                raise DuplicateName(label)
            self.taken.add(label)
            return label
        self.used[key] += 1
        n = self.used[key]
        local = f"{key}{n}" if self.counts[key] > 1 else key
        suffix = 2
        while local in self.taken:
            local, suffix = f"{key}{n}_{suffix}", suffix + 1
        self.taken.add(local)
        return local


def call_key(call: ast.Call, program) -> str | None:
    op = OPS.get(call.name)
    if op is not None:
        return op.short
    if call.name in program.blocks:
        return snake_case(call.name)
    return None


def single_call(body: tuple) -> ast.Call | None:
    if len(body) == 1 and isinstance(body[0], ast.ChainStmt) and len(body[0].chain.steps) == 1:
        step = body[0].chain.steps[0]
        if step.label is None and isinstance(step.kind, ast.Call):
            return step.kind
    return None


def count_chain(chain: ast.Chain, program, counts: Counter | None = None) -> Counter:
    counts = Counter() if counts is None else counts
    for step in chain.steps:
        if isinstance(step.kind, ast.Gate):  # its body has a scope of its own; the label names the product
            counts["gate"] += step.kind.label is None
            counts["mul"] += step.label is None
            continue
        if step.label is not None:
            continue
        kind = step.kind
        if isinstance(kind, ast.Call):
            key = call_key(kind, program)
            if key:
                counts[key] += 1
        elif isinstance(kind, ast.Concat):
            counts["concat"] += 1
        elif isinstance(kind, ast.Residual):
            count_kinds(kind.body, program, counts)
            counts["add"] += 1
            counts["scale"] += any(a.name == "scale" or a.name is None for a in kind.args)
            counts["shortcut"] += kind.shortcut is not None
        elif isinstance(kind, (ast.Repeat, ast.ForLoop)):  # a for loop is named as a repeat is
            single = single_call(kind.body)
            counts[(call_key(single, program) if single else None) or "repeat"] += 1
    return counts


def count_kinds(stmts: tuple, program, counts: Counter | None = None) -> Counter:
    counts = Counter() if counts is None else counts
    for stmt in stmts:
        if isinstance(stmt, (ast.ChainStmt, ast.AssignStmt)):
            count_chain(stmt.chain, program, counts)
        elif isinstance(stmt, ast.IfStmt):
            for _, body in stmt.arms:
                count_kinds(body, program, counts)
            count_kinds(stmt.otherwise, program, counts)
    return counts


