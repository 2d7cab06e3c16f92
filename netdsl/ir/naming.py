"""Layer names: how every layer of a spec gets its stable, predictable dotted name.

Within a scope (a block body, a branch, a shortcut, an iteration) an unlabelled layer is
named after its op or block in snake case, numbered from 1 when the scope holds more
than one of that kind (`conv`, or `conv1`, `conv2`); a label (`name: op(...)`) names it
explicitly. The arms of an `if` are alternatives: each numbers its layers from the same
point (`if c { conv } else { conv }` names both `conv`), and the layers after the `if`
are numbered after the arm that has most, whichever arm runs. A scope's names are
decided from its statements alone (:class:`Names`), once per scope of the spec
(:func:`scope_names`, kept on the program); the elaborator and the code generator both
read that one table, so the graph's names and the generated module's state_dict keys
agree."""

from __future__ import annotations

import re
from collections import Counter

from ..ops import OPS
from ..syntax import ast

__all__ = ["Names", "scope_names", "DuplicateName", "snake_case", "call_key", "single_call", "count_chain", "count_kinds",
           "concat_base"]


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


# Attributes every generated block class sets on itself, read by the code around it
# (`layers[-1].out_channels`, an iteration's `block.in_channels`).
GENERATED_ATTRIBUTES = frozenset({"in_channels", "out_channels"})


def reserved_label(label: str) -> bool:
    return label.startswith("_") or label in MODULE_ATTRIBUTES or label in GENERATED_ATTRIBUTES


class DuplicateName(Exception):
    pass


def snake_case(name: str) -> str:
    """`InceptionA` -> `inception_a`, `ConvBN` -> `conv_bn`, `Block35` -> `block35`."""
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return s.lower()


class Names:
    """The local names of one scope's layers (a block body, a branch, a shortcut, an
    iteration), decided from its statements alone: every `if` arm is named whether or
    not it is taken, so the elaborator (which sees the taken arm) and the code generator
    (which writes them all) read the same names.

    Look a name up by the AST node that makes the layer (a `Call`, `Concat`, `Repeat` or
    `ForLoop` step kind, a `Residual` for its sum, a `Gate` for its product) and, for a
    residual's other parts and a gate's body, its role (`"shortcut"`, `"scale"`, `"gate"`)."""

    __slots__ = ("path", "counts", "_local", "_duplicate", "_computed")

    def __init__(self, path: str, counts: Counter, local: dict | None = None, duplicate: dict | None = None,
                 computed: frozenset = frozenset()):
        self.path, self.counts = path, counts
        self._local = local or {}
        self._duplicate = duplicate or {}
        self._computed = computed

    @classmethod
    def of_body(cls, path: str, stmts: tuple, program) -> Names:
        counts = count_kinds(stmts, program)
        return _Namer(counts, program, _labels(stmts, counts)).body(stmts).names(path)

    @classmethod
    def of_chain(cls, path: str, chain: ast.Chain, program) -> Names:
        counts = count_chain(chain, program)
        return _Namer(counts, program, _chain_labels(chain, counts)).chain(chain).names(path)

    def at(self, path: str) -> Names:
        """The same names in another instance of the scope (another block instance)."""
        return Names(path, self.counts, self._local, self._duplicate, self._computed)

    def modules(self) -> frozenset[str]:
        """The local names of the scope's layers that hold a module (not a residual's sum
        or scale, nor a gate's product, which are computed): what a generated class's
        own attributes may be called."""
        return frozenset(name for key, name in self._local.items() if key not in self._computed)

    def full(self, local: str) -> str:
        return f"{self.path}.{local}" if self.path else local

    def local(self, node, role: str = "") -> str:
        """The name of the layer `node` makes; DuplicateName if its label is taken."""
        key = (id(node), role)
        if key in self._duplicate:
            raise DuplicateName(self._duplicate[key])
        return self._local[key]


class _Namer:
    """One walk over a scope's statements in the order the elaborator makes layers."""

    def __init__(self, counts: Counter, program, labels: set[str]):
        self.counts, self.program = counts, program
        self.used: Counter = Counter()
        self.taken: set[str] = set()
        self.local: dict[tuple[int, str], str] = {}
        self.duplicate: dict[tuple[int, str], str] = {}
        self.computed: set[tuple[int, str]] = set()  # names of values computed, not modules
        self.labels = labels  # the labels the scope's layers have (an `if` arm adds its own): made names give way

    def names(self, path: str) -> Names:
        return Names(path, self.counts, self.local, self.duplicate, frozenset(self.computed))

    def name(self, node, role: str, label: str | None, key: str) -> None:
        if label is not None:
            if label in self.taken:
                self.duplicate[(id(node), role)] = label
            self.taken.add(label)
            self.local[(id(node), role)] = label
            return
        self.used[key] += 1
        n = self.used[key]
        local = f"{key}{n}" if self.counts[key] > 1 else key
        self.made(node, role, local, local)

    def made(self, node, role: str, local: str, stem: str) -> None:
        """A name the namer makes (not a label): `local`, else `stem_2`, `stem_3`, ... where
        a layer or a label of the scope has it."""
        suffix = 2
        while local in self.taken or local in self.labels:
            local, suffix = f"{stem}_{suffix}", suffix + 1
        self.taken.add(local)
        self.local[(id(node), role)] = local

    def branches(self, group: ast.Concat, in_scope: bool) -> None:
        """A concat's branches: `b1`, `b2`, ... or their labels; named among the scope's
        layers when they live in the scope itself, else among themselves (under the
        concat's name)."""
        if in_scope:
            for i, br in enumerate(group.branches, start=1):
                if br.label is not None:
                    self.name(br, "", br.label, "")
                else:
                    self.made(br, "", f"b{i}", f"b{i}")
            return
        labels = {br.label for br in group.branches if br.label is not None}
        seen: set[str] = set()
        for i, br in enumerate(group.branches, start=1):
            if br.label is not None:
                if br.label in seen:
                    self.duplicate[(id(br), "")] = br.label
                local = br.label
            else:  # a made name gives way to the group's labels (`| b2: ... | ...`: `b2_2`)
                local, suffix = f"b{i}", 2
                while local in labels or local in seen:
                    local, suffix = f"b{i}_{suffix}", suffix + 1
            seen.add(local)
            self.local[(id(br), "")] = local

    def body(self, stmts: tuple) -> _Namer:
        for stmt in stmts:
            if isinstance(stmt, (ast.ChainStmt, ast.AssignStmt)):
                self.chain(stmt.chain)
            elif isinstance(stmt, ast.IfStmt):
                self.alternatives([*(body for _, body in stmt.arms), stmt.otherwise])
        return self

    def alternatives(self, bodies: list[tuple]) -> None:
        """`if` arms: each numbers its layers from the same point; after the `if`,
        numbering goes on after the arm that used most."""
        used, taken, labels = self.used, self.taken, self.labels
        end_used, end_taken, end_labels = Counter(used), set(taken), set(labels)
        for body in bodies:
            self.used, self.taken, self.labels = Counter(used), set(taken), labels | _labels(body, self.counts)
            self.body(body)
            end_used |= self.used
            end_taken |= self.taken
            end_labels |= self.labels
        self.used, self.taken, self.labels = end_used, end_taken, end_labels

    def chain(self, chain: ast.Chain) -> _Namer:
        for step in chain.steps:
            kind = step.kind
            if isinstance(kind, ast.Call):
                key = call_key(kind, self.program)
                if key:  # None: a named value read (`a -> conv`), or an unknown op (reported elsewhere)
                    self.name(kind, "", step.label, key)
            elif isinstance(kind, ast.Concat):
                self.name(kind, "", step.label, "concat")
                self.branches(kind, _in_scope(kind, step.label, self.counts))
            elif isinstance(kind, ast.Residual):
                self.body(kind.body)
                if kind.shortcut is not None:
                    self.name(kind, "shortcut", kind.shortcut_label, "shortcut")
                if _scaled(kind):
                    self.name(kind, "scale", None, "scale")
                self.name(kind, "", step.label, "add")
                self.computed |= {(id(kind), "scale"), (id(kind), "")}
            elif isinstance(kind, ast.Gate):  # its body's scope (`gate` or the gate's label), then the product
                self.name(kind, "gate", kind.label, "gate")
                self.name(kind, "", step.label, "mul")
                self.computed.add((id(kind), ""))
            elif isinstance(kind, (ast.Repeat, ast.ForLoop)):  # a for loop is named as a repeat is
                single = single_call(kind.body)
                self.name(kind, "", step.label, (call_key(single, self.program) if single else None) or "repeat")
        return self


def scope_names(program, body) -> Names:
    """The layer names of a scope of `program`'s spec (a statement tuple or a branch's
    chain), at the scope's own root (`Names.at` places them in an instance): decided once,
    read by every instance and every stage."""
    if isinstance(body, ast.Chain):
        return program.decided("names", body, lambda: Names.of_chain("", body, program))
    return program.decided("names", body, lambda: Names.of_body("", body, program))


def concat_base(names: Names, group: ast.Concat, label: str | None) -> str:
    """Where a concat's branches live: in the scope itself, or under the concat's own
    name when the scope holds several concats (`concat2.b1`) or the concat is labelled."""
    return names.path if _in_scope(group, label, names.counts) else names.full(names.local(group))


def _in_scope(group: ast.Concat, label: str | None, counts: Counter) -> bool:
    """Whether a concat's branches are named in the scope itself (the scope's only
    concat, unlabelled), beside its layers."""
    return counts["concat"] <= 1 and not label


def _labels(stmts: tuple, counts: Counter) -> set[str]:
    """The labels of a scope's statements outside its `if` arms (each arm adds its own
    while it is named): layers', shortcuts', gates' and, for a concat named in the scope,
    its branches'."""
    return {label for stmt in stmts if isinstance(stmt, (ast.ChainStmt, ast.AssignStmt))
            for label in _chain_labels(stmt.chain, counts)}


def _chain_labels(chain: ast.Chain, counts: Counter) -> set[str]:
    out: set[str] = set()
    for step in chain.steps:
        kind = step.kind
        out |= {step.label} - {None}
        if isinstance(kind, ast.Concat) and _in_scope(kind, step.label, counts):
            out |= {br.label for br in kind.branches} - {None}
        elif isinstance(kind, ast.Residual):
            out |= _labels(kind.body, counts) | ({kind.shortcut_label} - {None})
        elif isinstance(kind, ast.Gate):
            out |= {kind.label} - {None}
    return out


def _scaled(res: ast.Residual) -> bool:
    return any(a.name == "scale" or a.name is None for a in res.args)


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
            counts["scale"] += _scaled(kind)
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
        elif isinstance(stmt, ast.IfStmt):  # alternatives: the arm with most of a kind counts
            arms = Counter()
            for body in (*(body for _, body in stmt.arms), stmt.otherwise):
                arms |= count_kinds(body, program)
            counts.update(arms)
    return counts


