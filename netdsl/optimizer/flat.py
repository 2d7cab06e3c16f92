"""A (possibly optimized) graph as ONE readable nn.Module: a module per layer, named
after its node (`inception_a.0.b1.conv` -> `self.inception_a_0_b1_conv`), and a forward
that is straight-line code over the nodes in order, each statement under a `# file:line`
comment pointing at the spec. Variables are reused once their value is dead, so a chain
reads `x = self.conv(x)` and tensors are freed as soon as possible.

Every op is lowered by its own `torch_module` / `torch_expr` (netdsl/ops), given the
concrete values the graph holds. The file also carries how to make its weights from the
unoptimized network's state_dict (`STATE_ORIGINS` and the functions of :mod:`.weights`),
so it needs only torch."""

from __future__ import annotations

import ast as pyast
import keyword
from dataclasses import dataclass, field
from pathlib import Path
from pprint import pformat

from ..ir.graph import Graph, Node
from ..ir.naming import reserved_label
from ..ops import OPS, Input, Slice, op_of
from ..ops.base import Lowered
from ..torch.pyformat import inert as _inert
from ..torch.pyformat import layout
from ..torch.sources import runtime_used
from .passes import PASS_NAMES, run_passes
from .rewrite import origin_of

__all__ = ["MODES", "FlatCode", "compile_optimized", "generate_flat"]

MODES = ("inference",)

_RESERVED = set(keyword.kwlist) | {"self", "torch", "nn", "cls", "state_dict", "model"}


@dataclass
class FlatCode:
    source: str
    class_name: str
    filename: str


@dataclass
class _Writer:
    graph: Graph
    init: list[str] = field(default_factory=list)
    fwd: list[str] = field(default_factory=list)
    attrs: dict[int, str] = field(default_factory=dict)  # node id -> module attribute
    vars: dict[int, str] = field(default_factory=dict)  # node id -> forward variable
    free: list[str] = field(default_factory=list)
    count: int = 0
    last_comment: str = ""

    def attribute(self, node: Node) -> str:
        base = node.name.replace(".", "_")
        if base in _RESERVED or reserved_label(base) or not base.isidentifier():
            base += "_"
        name, n = base, 1
        while name in self.attrs.values():
            n += 1
            name = f"{base}_{n}"
        self.attrs[node.id] = name
        return name

    def new_var(self, prefer: list[str]) -> str:
        for name in prefer:
            if name in self.free:
                self.free.remove(name)
                return name
        if self.free:  # the lowest-numbered free name, so that names stay small and stable
            name = min(self.free, key=lambda v: int(v[1:] or 0))
            self.free.remove(name)
            return name
        name = "x" if self.count == 0 else f"x{self.count}"
        self.count += 1
        return name

    def statement(self, node: Node, text: str) -> None:
        """`text` with its spec line; a header comment where a new top-level block instance starts."""
        block = _top_block(self.graph, node)
        if block is not None and block.path != self.last_comment:
            self.fwd.append(f"# {block.path}: {block.block} ({_inert(block.span.file)}:{block.span.line})")
            self.last_comment = block.path
        self.fwd.append(f"{text}  # {_inert(node.span.file)}:{node.span.line}")


def _top_block(graph: Graph, node: Node):
    """The outermost block instance the node belongs to (None at the network's top level)."""
    blocks = [f for f in graph.frame_chain(node.frame) if f.kind == "block"]
    return blocks[-1] if blocks else None


# what the passes add to a node that its op's lowering reads (mark_inplace, fuse_scale_add)
_PASS_ATTRS = ("inplace", "alpha")


def _lowered_args(node: Node, graph: Graph) -> dict[str, Lowered]:
    op = OPS[node.op]
    args = {p.name: Lowered(repr(node.attrs.get(p.name, p.default)), node.attrs.get(p.name, p.default)) for p in op.params}
    args.update({k: Lowered(repr(node.attrs[k]), node.attrs[k]) for k in _PASS_ATTRS if k in node.attrs})
    rank = len(graph.nodes[node.inputs[0]].shape) if node.inputs else 3
    args["rank"] = Lowered(str(rank), rank)
    if op.flattens:
        args["flat_features"] = Lowered(str(node.shape[0]), node.shape[0])
    return args


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

# The module convs lower to when a pass asked for one of _CONV_EXTRAS; written into the
# generated file when used.
_INFERENCE_CONV = '''class InferenceConv(nn.Conv2d):
    """A convolution for inference, with what follows it: a residual sum (`forward(x,
    shortcut)`: the shortcut is added to the conv's output) and/or a ReLU/ReLU6.

    On the CPU in float32 without autograd, they run as one oneDNN kernel
    (mkldnn._convolution_pointwise, the sum as a binary post-op: the kernels
    torch.compile's inductor emits for these patterns). With `prepack=True` the weight is
    reordered into oneDNN's blocked layout once per input shape (again whenever the
    weight changes) instead of at every call; with `inplace=True` the sum is written into
    the shortcut's memory, which nobody reads afterwards. Elsewhere (other devices and
    dtypes, autocast, gradients) they run as separate PyTorch ops."""

    UNARY = ONEDNN_UNARY
    PACKS = 4

    def __init__(self, *args, activation=None, residual=False, inplace=False, prepack=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.activation, self.residual, self.inplace, self.prepack = activation, residual, inplace, prepack
        self._packed = None  # (weight, its version, {input shape: the weight in oneDNN's layout})

    def forward(self, x, shortcut=None):
        w = self.weight
        if (_ONEDNN and x.is_cpu and x.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
                and not (torch.is_grad_enabled() and (w.requires_grad or x.requires_grad))
                and not isinstance(self.padding, str)):
            args = (self.packed_weight(x) if self.prepack else w, self.bias, self.padding, self.stride, self.dilation,
                    self.groups)
            if shortcut is None:
                return torch.ops.mkldnn._convolution_pointwise(x, *args, *self.UNARY[self.activation], "")
            unary = self.UNARY[self.activation][0] if self.activation else None
            if self.inplace and _same_layout(shortcut, x, *(() if self.prepack else (w,))):
                return torch.ops.mkldnn._convolution_pointwise_.binary(
                    shortcut, x, *args, "add", None, unary, [], None)
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, shortcut, *args, "add", None, unary, [], None)
        y = self._conv_forward(x, w, self.bias)
        if shortcut is not None:
            y = y + shortcut
        if self.activation is None:
            return y
        name, scalars = self.UNARY[self.activation]
        return getattr(nn.functional, name)(y, *scalars)

    def packed_weight(self, x):
        """The weight in the layout oneDNN chose for x's shape (it differs between shapes:
        a batch-1 layout slows batch 8 down), one per shape for the last PACKS shapes."""
        w, shape = self.weight, tuple(x.shape)
        version = None if w.is_inference() else w._version
        if self._packed is None or self._packed[0] is not w or self._packed[1] != version:
            self._packed = (w, version, {})
        packs = self._packed[2]
        packed = packs.get(shape)
        if packed is None:
            with torch.no_grad():
                packed = torch.ops.mkldnn._reorder_convolution_weight(
                    w, list(self.padding), list(self.stride), list(self.dilation), self.groups, list(shape))
            packs[shape] = packed
            while len(packs) > self.PACKS:  # the oldest go (another thread may be evicting too)
                packs.pop(next(iter(packs), None), None)
        return packed

    def __getstate__(self):  # copy.deepcopy, torch.save: oneDNN's tensors have no storage to copy
        return {**self.__dict__, "_packed": None}


def _same_layout(*tensors):
    """Whether the tensors are all dense in the same memory format (oneDNN writes an
    in-place sum in the layout of the conv's output, whatever the shortcut's is)."""
    return (all(t.is_contiguous(memory_format=torch.channels_last) for t in tensors)
            or all(t.is_contiguous() for t in tensors))'''


def _inference_conv() -> str:
    """InferenceConv's source, its table of fusable activations made from the ops' traits
    (op name -> oneDNN post-op and its scalars; `None`: no activation)."""
    unary = {None: ("none", [])}
    unary.update({name: (op.onednn_unary[0], list(op.onednn_unary[1])) for name, op in OPS.items() if op.onednn_unary})
    table = repr(unary).replace("'", '"')
    return f"# the activations InferenceConv fuses: name -> oneDNN post-op and its scalars\nONEDNN_UNARY = {table}\n\n\n" \
        + _INFERENCE_CONV


_ONEDNN = '''_ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")'''


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


def _write_node(w: _Writer, node: Node, last: dict[int, int], slices: dict[int, list[Node]]) -> None:
    graph = w.graph
    ins = [w.vars[i] for i in node.inputs]
    for i in dict.fromkeys(node.inputs):
        if last.get(i) == node.id:
            w.free.append(w.vars[i])
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
                w.free.append(w.vars[p.id])
        return
    src = _module_source(node, graph)
    out = w.new_var(ins)
    w.vars[node.id] = out
    if node.id not in last:  # read by nobody (a train-only head kept in eval)
        w.free.append(out)
    if src is not None:
        attr = w.attribute(node)
        w.init.append(f"self.{attr} = {src}")
        w.statement(node, f"{out} = self.{attr}({', '.join(ins)})")
    else:
        w.statement(node, f"{out} = {_expression(node, graph, ins)}")


def _forward(graph: Graph) -> _Writer:
    w = _Writer(graph)
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
    w.fwd.append(f"return {', '.join(always)}")
    return w


def _origins(graph: Graph, w: _Writer) -> dict[str, dict]:
    return {w.attrs[n.id]: origin_of(n) for n in graph.nodes if op_of(n.op).stateful and n.id in w.attrs}


def _class_source(graph: Graph, w: _Writer, class_name: str, passes: tuple[str, ...]) -> str:
    layout_name = "channels_last" if graph.nodes and graph.nodes[0].attrs.get("memory_format") else None
    lines = [f"class {class_name}(nn.Module):",
             f'    """{graph.name}{_inert(repr(graph.args))} ({_inert(graph.file)}), for inference: {", ".join(passes) or "no passes"}."""',
             "", f"    memory_format = {'torch.channels_last' if layout_name else None}", "",
             "    def __init__(self):", "        super().__init__()"]
    lines += [layout(s, "        ") for s in w.init]
    lines += ["", f"    def forward(self, {w.vars[graph.nodes[0].id]}):"]
    lines += [layout(s, "        ") for s in w.fwd]
    lines += ["", "    @classmethod", "    def from_state_dict(cls, state_dict):",
              '        """This network with weights made from the unoptimized network\'s state_dict."""',
              '        with torch.device("meta"):',
              "            model = cls()",
              "        layout = cls.memory_format or torch.contiguous_format",
              "        state = convert_state_dict(STATE_ORIGINS, state_dict, layout)",
              "        model.load_state_dict(state, assign=True)",
              "        return model.eval()"]
    return "\n".join(lines)


def _weight_functions() -> list[str]:
    """The source of the functions of weights.py (read, not imported: it imports torch,
    and `netdsl compile` does not need it)."""
    text = (Path(__file__).parent / "weights.py").read_text()
    tree = pyast.parse(text)
    return [pyast.get_source_segment(text, f) for f in tree.body if isinstance(f, pyast.FunctionDef)]


def generate_flat(graph: Graph, passes: tuple[str, ...] = ()) -> FlatCode:
    """Python source of the graph as one module class (deterministic)."""
    w = _forward(graph)
    class_name = f"{graph.name}Inference"
    done = ", ".join(passes) or "no passes"
    header = [f"# Generated by netdsl from {_inert(graph.file)} ({done}): edit the spec, not this file.", "",
              "import torch", "from torch import nn"]
    functions = _weight_functions()
    origins = "STATE_ORIGINS = " + pformat(_origins(graph, w), width=100, sort_dicts=False)
    helpers = [_ONEDNN, _inference_conv()] if any(_conv_extras(n) for n in graph.nodes) else []
    network = _class_source(graph, w, class_name, passes)
    parts = ["\n".join(header), *functions, *helpers, *runtime_used(network), origins, network]
    return FlatCode("\n\n\n".join(parts) + "\n", class_name, graph.file)


def compile_optimized(graph: Graph, mode: str = "inference", skip=()) -> tuple[FlatCode, Graph]:
    """(source of the optimized module, the optimized graph) for a checked graph."""
    if mode not in MODES:
        raise ValueError(f"unknown optimization mode {mode!r}; the modes are {', '.join(MODES)}")
    skip = tuple(skip)
    optimized = run_passes(graph, skip)
    return generate_flat(optimized, tuple(p for p in PASS_NAMES if p not in skip)), optimized
