"""A (possibly optimized) graph as ONE readable nn.Module: a module per layer, named
after its node (`inception_a.0.b1.conv` -> `self.inception_a_0_b1_conv`), and a forward
that is straight-line code over the nodes in order, each statement traceable to its spec
line (the `# file:line` comments and the line map of :class:`..torch.emit.Writer`).
Variables are reused once their value is dead, so a chain reads `x = self.conv(x)` and
tensors are freed as soon as possible. The file is laid out as `ruff format` would.

Every op is lowered by its own `torch_module` / `torch_expr` (netdsl/ops), given the
concrete values the graph holds. The file also carries how to make its weights from the
unoptimized network's state_dict (`STATE_ORIGINS` and the functions of :mod:`.weights`)
and, where a conv runs fused, the definitions of :mod:`.runtime` (InferenceConv), copied
from their source: it needs only torch."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from ..ir.graph import Graph, Node
from ..ops import OPS, Input, Slice, op_of
from ..ops.base import Lowered
from ..torch.emit import (
    FILE_NAMES,
    GeneratedCode,
    Namespace,
    Writer,
    assemble,
    attribute_name,
    constant,
    lowered_arguments,
)
from ..torch.pyformat import WIDTH
from ..torch.pyformat import inert as _inert
from ..torch.sources import definitions, runtime_used
from .passes import PASS_NAMES, run_passes
from .rewrite import origin_of

__all__ = ["MODES", "FlatCode", "compile_optimized", "generate_flat"]

MODES = ("inference",)

# attribute names the flat module's own methods need (from_state_dict's arguments)
_RESERVED = FILE_NAMES | {"cls", "state_dict", "model"}


FlatCode = GeneratedCode  # one result type for both generators (the old name kept)


@dataclass
class _Flat:
    """The flat module being written: __init__'s and forward's statements, and the names
    given to the nodes' modules and values."""

    graph: Graph
    init: Writer = field(default_factory=lambda: Writer(indent=8))
    fwd: Writer = field(default_factory=lambda: Writer(indent=8))
    attrs: dict[int, str] = field(default_factory=dict)  # node id -> module attribute
    vars: dict[int, str] = field(default_factory=dict)  # node id -> forward variable
    attr_names: Namespace = field(default_factory=lambda: Namespace(sep="_"))
    # forward's variables, `x`, `x2`, ...: a dead one is reused (a chain reads `x = self.conv(x)`)
    var_names: Namespace = field(default_factory=lambda: Namespace(_RESERVED.__contains__))
    last_block: str = ""

    def attribute(self, node: Node) -> str:
        name = attribute_name(node.name, self.attr_names, _RESERVED)
        self.attrs[node.id] = name
        return name

    def new_var(self, prefer: list[str]) -> str:
        return self.var_names.create("x", prefer)

    def statement(self, node: Node, text: str) -> None:
        """A forward statement of `node`; a header comment where a new top-level block instance starts."""
        block = _top_block(self.graph, node)
        if block is not None and block.path != self.last_block:
            self.fwd.line(f"# {block.path}: {block.block} ({_inert(block.span.file)}:{block.span.line})")
            self.last_block = block.path
        self.fwd.line(text, node.span)


def _top_block(graph: Graph, node: Node):
    """The outermost block instance the node belongs to (None at the network's top level)."""
    blocks = [f for f in graph.frame_chain(node.frame) if f.kind == "block"]
    return blocks[-1] if blocks else None


# what the passes add to a node that its op's lowering reads (mark_inplace, fuse_scale_add)
_PASS_ATTRS = ("inplace", "alpha")


def _lowered_args(node: Node, graph: Graph) -> dict[str, Lowered]:
    given = {k: Lowered(constant(v), v) for k, v in node.attrs.items()}
    extra = {k: node.attrs[k] for k in _PASS_ATTRS if k in node.attrs}
    rank = len(graph.nodes[node.inputs[0]].shape) if node.inputs else 3
    op = OPS[node.op]
    flat = Lowered(str(node.shape[0]), node.shape[0]) if op.flattens else None
    return lowered_arguments(op, given, rank, flat, extra)


def _module_source(node: Node, graph: Graph) -> str | None:
    in_channels = str(graph.nodes[node.inputs[0]].shape[0])
    src = OPS[node.op].torch_module(_lowered_args(node, graph), in_channels)
    extra = _conv_extras(node)
    if extra:  # the conv's own torch_module, as an InferenceConv
        assert src.startswith("nn.Conv2d(") and src.endswith(")"), src
        args = "".join(f", {k}={v!r}" for k, v in extra.items())
        src = f"InferenceConv({src[len('nn.Conv2d('):-1]}{args})".replace("'", '"')
    return src


# what fuse_conv_activation, fuse_conv_add, mark_inplace and prepack_weights ask of a conv
_CONV_EXTRAS = ("activation", "residual", "inplace", "prepack")


def _conv_extras(node: Node) -> dict:
    """The InferenceConv arguments a conv node asks for (none: a plain nn.Conv2d)."""
    return {k: node.attrs[k] for k in _CONV_EXTRAS if node.attrs.get(k)} if op_of(node.op).conv2d else {}


def _last_uses(graph: Graph) -> dict[int, int]:
    last = {}
    for n in graph.nodes:
        for i in n.inputs:
            last[i] = n.id
    for o in graph.outputs:
        last[o.node] = len(graph.nodes)
    return last


def _expression(node: Node, graph: Graph, ins: list[str]) -> str:
    return OPS[node.op].torch_expr(_lowered_args(node, graph), ins)


def _write_node(w: _Flat, node: Node, last: dict[int, int], slices: dict[int, list[Node]]) -> None:
    graph = w.graph
    ins = [w.vars[i] for i in node.inputs]
    for i in dict.fromkeys(node.inputs):
        if last.get(i) == node.id:
            w.var_names.release(w.vars[i])
    if node.op == Slice.name:
        if node.id in w.vars:
            return  # written with its siblings by the first slice
        parts = slices[node.inputs[0]]
        names = [w.new_var(ins) for _ in parts]
        w.vars.update({p.id: v for p, v in zip(parts, names)})
        sizes = [p.attrs["stop"] - p.attrs["start"] for p in parts]
        w.statement(node, f"{', '.join(names)} = torch.split({ins[0]}, {sizes}, 1)")
        for p in parts:
            if p.id not in last:
                w.var_names.release(w.vars[p.id])
        return
    src = _module_source(node, graph)
    out = w.new_var(ins)
    w.vars[node.id] = out
    if node.id not in last:  # read by nobody (a train-only head kept in eval)
        w.var_names.release(out)
    if src is not None:
        attr = w.attribute(node)
        w.init.line(f"self.{attr} = {src}", node.span)
        w.statement(node, f"{out} = self.{attr}({', '.join(ins)})")
    else:
        w.statement(node, f"{out} = {_expression(node, graph, ins)}")


def _forward(graph: Graph) -> _Flat:
    w = _Flat(graph)
    last = _last_uses(graph)
    slices: dict[int, list[Node]] = {}
    for n in graph.nodes:
        if n.op == Slice.name:
            slices.setdefault(n.inputs[0], []).append(n)
    for node in graph.nodes:
        if node.op == Input.name:
            w.vars[node.id] = w.new_var([])
            if node.attrs.get("memory_format") == "channels_last":
                w.statement(node, f"{w.vars[node.id]} = {w.vars[node.id]}.contiguous(memory_format=torch.channels_last)")
            continue
        _write_node(w, node, last, slices)
    always = [w.vars[o.node] for o in graph.outputs if not o.train_only]
    w.fwd.line(f"return {', '.join(always)}")
    return w


def _origins(graph: Graph, w: _Flat) -> dict[str, dict]:
    return {w.attrs[n.id]: origin_of(n) for n in graph.nodes if op_of(n.op).stateful and n.id in w.attrs}


def _class_source(graph: Graph, w: _Flat, class_name: str, passes: tuple[str, ...]) -> Writer:
    layout_name = "channels_last" if graph.nodes and graph.nodes[0].attrs.get("memory_format") else None
    title = f"{graph.name}{_inert(repr(graph.args))} ({_inert(graph.file)}), for inference: {', '.join(passes) or 'no passes'}."
    out = Writer()
    out.line(f"class {class_name}(nn.Module):")
    with out.indented():
        out.verbatim("\n".join(_docstring(title, "")))
        out.blank()
        out.line(f"memory_format = {'torch.channels_last' if layout_name else None}")
        out.blank()
        out.line("def __init__(self):")
        out.line("    super().__init__()")
        out.extend(w.init)
        out.blank()
        out.line(f"def forward(self, {w.vars[graph.nodes[0].id]}):")
        out.extend(w.fwd)
        out.blank()
        out.verbatim(_FROM_STATE_DICT)
    return out


_FROM_STATE_DICT = '''@classmethod
def from_state_dict(cls, state_dict):
    """This network with weights made from the unoptimized network's state_dict."""
    with torch.device("meta"):
        model = cls()
    layout = cls.memory_format or torch.contiguous_format
    state = convert_state_dict(STATE_ORIGINS, state_dict, layout)
    model.load_state_dict(state, assign=True)
    return model.eval()'''


def _definitions(module: str) -> dict[str, str]:
    """The top-level definitions of a module of this package, read as text (torch/sources.py)."""
    return definitions(Path(__file__).with_name(module))


def _runtime(graph: Graph) -> list[str]:
    """What the file needs of :mod:`.runtime`: all of it where a conv is an InferenceConv,
    else nothing."""
    if not any(_conv_extras(n) for n in graph.nodes):
        return []
    return list(_definitions("runtime.py").values())


def _literal(value, indent: str = "", head: str = "", tail: str = "") -> str:
    """`head value tail` at `indent` as `ruff format` lays out a literal of dicts, lists,
    tuples and constants: on one line where it fits, else one item a line, each laid out
    the same way, with a trailing comma where there are several."""
    flat = f"{indent}{head}{_constant(value)}{tail}"
    if len(flat) <= WIDTH or not isinstance(value, (dict, list, tuple)) or not value:
        return flat
    if isinstance(value, dict):
        items = [(f"{_constant(k)}: ", v) for k, v in value.items()]
    else:
        items = [("", v) for v in value]
    comma = "," if len(items) > 1 or isinstance(value, tuple) else ""
    opening, closing = {dict: "{}", list: "[]", tuple: "()"}[type(value)]
    body = [_literal(v, indent + "    ", key, comma) for key, v in items]
    return "\n".join([f"{indent}{head}{opening}", *body, f"{indent}{closing}{tail}"])


def _constant(value) -> str:
    """A literal on one line, its strings in double quotes (as ruff writes them)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_constant(k)}: {_constant(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(_constant, value)) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_constant, value)) + ("," if len(value) == 1 else "") + ")"
    text = repr(value)
    if isinstance(value, str) and text.startswith("'") and '"' not in text:
        return f'"{text[1:-1]}"'
    return text


def _comment(text: str) -> list[str]:
    """A comment in lines of at most WIDTH columns (a longer word stays whole)."""
    return textwrap.wrap(text, WIDTH, initial_indent="# ", subsequent_indent="# ",
                         break_long_words=False, break_on_hyphens=False)


def _docstring(text: str, indent: str) -> list[str]:
    """A docstring in lines of at most WIDTH columns (a longer word stays whole; after
    one, the closing quotes go on a line of their own, as ruff format puts them)."""
    lines = textwrap.wrap(f'"""{text}"""', WIDTH, initial_indent=indent, subsequent_indent=indent,
                          break_long_words=False, break_on_hyphens=False)
    if len(lines) > 1 and len(lines[-1]) > WIDTH:
        lines[-1:] = [lines[-1][:-3], f'{indent}"""']
    return lines


def generate_flat(graph: Graph, passes: tuple[str, ...] = ()) -> FlatCode:
    """Python source of the graph as one module class (deterministic)."""
    w = _forward(graph)
    class_name = f"{graph.name}Inference"
    done = ", ".join(passes) or "no passes"
    header = [*_comment(f"Generated by netdsl from {_inert(graph.file)} ({done}): edit the spec, not this file."),
              "", "import torch", "from torch import nn"]
    functions = list(_definitions("weights.py").values())
    origins = _literal(_origins(graph, w), head="STATE_ORIGINS = ")
    network = _class_source(graph, w, class_name, passes)
    parts = ["\n".join(header), *functions, *_runtime(graph), *runtime_used(network.code()), origins, network]
    source, line_map = assemble(parts)
    return FlatCode(source, class_name, graph.file, line_map)


def compile_optimized(graph: Graph, mode: str = "inference", skip=()) -> tuple[FlatCode, Graph]:
    """(source of the optimized module, the optimized graph) for a checked graph."""
    if mode not in MODES:
        raise ValueError(f"unknown optimization mode {mode!r}; the modes are {', '.join(MODES)}")
    skip = tuple(skip)
    optimized = run_passes(graph, skip)
    return generate_flat(optimized, tuple(p for p in PASS_NAMES if p not in skip)), optimized
