"""Inference passes over the graph IR: each a pure function `Graph -> Graph` (the input
graph is never modified), run in the order of :data:`PASSES` and switchable by name.

Rewritten nodes carry their provenance in `attrs["origin"]` (see :mod:`.rewrite`), so
the weights of the optimized network can be computed from the original state_dict."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from ..ir.graph import Graph, Node
from ..ops import Add, AvgPool, BatchNorm, Conv, DepthwiseConv, Input, LayerScale, Scale, SeparableConv, Slice, op_of
from ..ops.geometry import pair, resolve_padding
from .rewrite import consumers, drop_dead, is_view, origin_of, rebuild, with_attrs

__all__ = [
    "PASSES",
    "PASS_NAMES",
    "channels_last",
    "commute_pool_conv",
    "drop_train_only",
    "expand_sepconv",
    "fold_batchnorm",
    "fold_layer_scale",
    "fuse_conv_activation",
    "fuse_conv_add",
    "fuse_scale_add",
    "fuse_sibling_convs",
    "mark_inplace",
    "post_op_arg",
    "prepack_weights",
    "run_passes",
]

# Rules about a kind of op ask the op's traits (netdsl/ops/base.py); rules about one op
# (fold a batch norm, expand a separable conv) name its class.


def _is(node: Node, trait: str) -> bool:
    return bool(getattr(op_of(node.op), trait))


def post_op_arg(node: Node) -> str | list | None:
    """InferenceConv's `activation` for the activation `node` (None where oneDNN has no
    post-op for it): the oneDNN post-op's name alone, or [name, scalars, algorithm]."""
    post = op_of(node.op).onednn_post_op(node.attrs)
    if post is None:
        return None
    name, scalars, algorithm = post
    return name if not scalars and not algorithm else [name, list(scalars), algorithm]


def _onednn_pays(graph: Graph, conv: Node) -> bool:
    """Whether a conv is worth running as oneDNN's fused kernel (InferenceConv): not on a
    1x1 map (a squeeze-excitation gate's convs), where a call of the fused kernel costs
    30-55 us (prepacked or not) against 5-10 us for nn.Conv2d and its activation (measured
    at batch 1 and 8, 1 thread)."""
    shape = graph.nodes[conv.inputs[0]].shape or ()
    return len(shape) != 3 or tuple(shape[1:]) != (1, 1)


def drop_train_only(graph: Graph) -> Graph:
    """Inference: no auxiliary heads (train-only outputs), no dropout, no identities,
    nothing that no output needs."""
    kept = graph.model_copy(update={"outputs": [o for o in graph.outputs if not o.train_only]})
    alias = {n.id: n.inputs[0] for n in kept.nodes if _is(n, "eval_identity")}
    nodes = [n for n in kept.nodes if n.id not in alias]
    return drop_dead(rebuild(kept, nodes, alias))


def expand_sepconv(graph: Graph) -> Graph:
    """A separable conv as what it is: a depthwise conv, then a 1x1 conv (so that a
    following batchnorm folds into the 1x1 conv)."""
    nodes, alias, next_id = [], {}, len(graph.nodes)
    for n in graph.nodes:
        if n.op != SeparableConv.name:
            nodes.append(n)
            continue
        a = n.attrs
        dw_attrs = {k: a[k] for k in ("kernel", "stride", "padding", "dilation", "bias")}
        dw_shape = (graph.nodes[n.inputs[0]].shape[0], *n.shape[1:])
        dw = n.model_copy(update={"id": next_id, "name": f"{n.name}.0", "op": DepthwiseConv.name, "sym": {}, "shape": dw_shape,
                                  "attrs": {**dw_attrs, "multiplier": 1, "origin": {"kind": "copy", "from": f"{n.name}.0"}}})
        pw_attrs = {"filters": a["filters"], "kernel": 1, "stride": 1, "padding": 0, "dilation": 1, "groups": 1,
                    "bias": a["bias"], "origin": {"kind": "copy", "from": f"{n.name}.1"}}
        pw = n.model_copy(update={"name": f"{n.name}.1", "op": Conv.name, "sym": {}, "attrs": pw_attrs, "inputs": [next_id]})
        nodes += [dw, pw]
        next_id += 1
    return rebuild(graph, nodes, alias)


def fold_batchnorm(graph: Graph) -> Graph:
    """A batchnorm right after a conv (or linear) that nothing else reads becomes that
    layer's weights and bias: w' = w * g / sqrt(var + eps), b' = beta + (b - mean) * g / sqrt(var + eps)."""
    users = consumers(graph)
    outputs = {o.node for o in graph.outputs}
    folded: dict[int, Node] = {}  # conv id -> the conv with the bn folded in
    alias: dict[int, int] = {}
    for n in graph.nodes:
        if n.op != BatchNorm.name or len(n.inputs) != 1:
            continue
        src = graph.nodes[n.inputs[0]]
        if _is(src, "folds_batchnorm") and users[src.id] == [n.id] and src.id not in outputs:
            origin = {"kind": "fold_bn", "conv": origin_of(src), "bn": n.name, "eps": n.attrs["eps"],
                      "affine": n.attrs["affine"]}
            folded[src.id] = with_attrs(src, bias=True, origin=origin).model_copy(update={"params": src.params + n.params})
            alias[n.id] = src.id
    nodes = [folded.get(n.id, n) for n in graph.nodes if n.id not in alias]
    return rebuild(graph, nodes, alias)


def fold_layer_scale(graph: Graph) -> Graph:
    """A layer scale (ConvNeXt's learned per-channel factors) right after a conv that
    nothing else reads becomes that conv's weights and bias: w' = w * gamma, b' = b * gamma.
    The conv then feeds the residual sum directly, which fuse_conv_add can take in."""
    users = consumers(graph)
    outputs = {o.node for o in graph.outputs}
    folded: dict[int, Node] = {}
    alias: dict[int, int] = {}
    for n in graph.nodes:
        if n.op != LayerScale.name or len(n.inputs) != 1:
            continue
        src = graph.nodes[n.inputs[0]]
        if _is(src, "conv2d") and users[src.id] == [n.id] and src.id not in outputs and src.id not in folded:
            origin = {"kind": "scale_channels", "of": origin_of(src), "by": n.name}
            folded[src.id] = with_attrs(src, bias=True, origin=origin).model_copy(update={"params": src.params + n.params})
            alias[n.id] = src.id
    nodes = [folded.get(n.id, n) for n in graph.nodes if n.id not in alias]
    return rebuild(graph, nodes, alias)


def _window_key(n: Node) -> tuple:
    a = n.attrs
    k, d = pair(a["kernel"]), pair(a["dilation"])
    return n.inputs[0], k, pair(a["stride"]), resolve_padding(a["padding"], k, d), d


def _sibling_groups(graph: Graph) -> list[list[Node]]:
    """Convs (groups=1) reading the same tensor with the same window and followed by the
    same activation (or by none), two or more. Convs followed by different things stay
    apart: the fused output could not run the activation once, and each slice feeding a
    conv or a sum would be copied to a dense tensor (measured on ResNet-50, whose first
    block's conv1 and projection shortcut fused ran 11% slower)."""
    outputs = {o.node for o in graph.outputs}
    users = consumers(graph)
    groups: dict[tuple, list[Node]] = defaultdict(list)
    for n in graph.nodes:
        if n.op == Conv.name and n.attrs["groups"] == 1 and n.id not in outputs:
            groups[(*_window_key(n), _activation_after(n, graph, users, outputs))].append(n)
    return [g for g in groups.values() if len(g) > 1]


def _activation_after(conv: Node, graph: Graph, users, outputs: set[int]) -> tuple | None:
    """(op, attrs) of the activation that is the conv's only reader, else None."""
    if len(users[conv.id]) != 1:
        return None
    act = graph.nodes[users[conv.id][0]]
    if not _is(act, "elementwise") or act.id in outputs or act.inputs != [conv.id]:
        return None
    return act.op, repr(sorted(act.attrs.items()))


def _common_prefix(names: Iterable[str]) -> str:
    parts = [name.split(".") for name in names]
    common = []
    for bits in zip(*parts):
        if len(set(bits)) != 1:
            break
        common.append(bits[0])
    return ".".join(common)


def _shared_activation(group: list[Node], graph: Graph, users: dict[int, list[int]]) -> list[Node] | None:
    """The activation each member feeds, when they all feed one (the same, as grouped by
    _sibling_groups): it can then run once, on the fused output, before the split."""
    outputs = {o.node for o in graph.outputs}
    if _activation_after(group[0], graph, users, outputs) is None:
        return None
    return [graph.nodes[users[m.id][0]] for m in group]


def _fused_nodes(group: list[Node], graph: Graph, users, taken: set[str], next_id: int) -> tuple[list[Node], dict[int, int]]:
    """The fused conv (+ the shared activation) and one `slice` per member."""
    first, a = group[0], group[0].attrs
    k = pair(a["kernel"])
    base = _common_prefix(m.name for m in group)
    stem = f"{base}.conv{k[0]}x{k[1]}_fused" if base else f"conv{k[0]}x{k[1]}_fused"
    name, count = stem, 1
    while name in taken:
        count += 1
        name = f"{stem}{count}"
    taken.add(name)
    _, _, stride, padding, dilation = _window_key(first)
    filters = [m.attrs["filters"] for m in group]
    attrs = {"filters": sum(filters), "kernel": a["kernel"], "stride": stride, "padding": padding, "dilation": dilation,
             "groups": 1, "bias": any(m.attrs["bias"] for m in group),
             "origin": {"kind": "concat_filters", "parts": [origin_of(m) for m in group]}}
    shape = (sum(filters), *first.shape[1:])
    fused = first.model_copy(update={"id": next_id, "name": name, "attrs": attrs, "sym": {}, "shape": shape,
                                     "params": sum(m.params for m in group), "macs": sum(m.macs for m in group)})
    made, alias, source = [fused], {}, next_id
    acts = _shared_activation(group, graph, users)
    if acts is not None:
        made.append(acts[0].model_copy(update={"id": next_id + 1, "name": f"{name}.{acts[0].op}", "inputs": [next_id],
                                               "shape": shape}))
        source = next_id + 1
        alias.update({act.id: m.id for act, m in zip(acts, group)})
    start = 0
    for m, f in zip(group, filters):
        made.append(m.model_copy(update={"op": Slice.name, "attrs": {"start": start, "stop": start + f}, "sym": {},
                                         "inputs": [source], "params": 0, "macs": 0}))
        start += f
    return made, alias


def fuse_sibling_convs(graph: Graph) -> Graph:
    """Horizontal fusion: sibling convs reading the same tensor with the same kernel,
    stride, padding and dilation (the 1x1 convs opening Inception branches) become one
    conv with all their filters, whose output is split along channels."""
    users = consumers(graph)
    taken = {n.name for n in graph.nodes}
    at_first: dict[int, list[Node]] = {}
    members: set[int] = set()
    alias: dict[int, int] = {}
    next_id = len(graph.nodes)
    for group in _sibling_groups(graph):
        made, more = _fused_nodes(group, graph, users, taken, next_id)
        next_id += 2
        at_first[group[0].id] = made
        members |= {m.id for m in group} | set(more)
        alias.update(more)
    nodes: list[Node] = []
    for n in graph.nodes:
        if n.id in at_first:
            nodes += at_first[n.id]
        elif n.id not in members:
            nodes.append(n)
    return rebuild(graph, nodes, alias)


def commute_pool_conv(graph: Graph) -> Graph:
    """An average pool followed by a 1x1 conv with fewer output channels (the pool branch
    of Inception blocks) runs as the conv, then the pool: the pool then averages the
    conv's few output channels instead of its many input channels. Exact: both are
    linear, and where the conv has a bias, the pool's weights must sum to 1 (padded zeros
    not counted, or no padding). Only pools that keep the size (the conv would otherwise
    do more work)."""
    users = consumers(graph)
    outputs = {o.node for o in graph.outputs}
    swapped: dict[int, Node] = {}
    for n in graph.nodes:
        pool = graph.nodes[n.inputs[0]] if n.op == Conv.name and n.inputs else None
        if pool is None or pool.op != AvgPool.name or users[pool.id] != [n.id] or pool.id in outputs:
            continue
        a, source = n.attrs, graph.nodes[pool.inputs[0]]
        pointwise = (pair(a["kernel"]) == (1, 1) and pair(a["stride"]) == (1, 1) and a["groups"] == 1
                     and resolve_padding(a["padding"], (1, 1), (1, 1)) == (0, 0))
        k = pair(pool.attrs["kernel"])
        unpadded = resolve_padding(pool.attrs["padding"], k, (1, 1)) == (0, 0) and not pool.attrs["ceil_mode"]
        exact = not a["bias"] or not pool.attrs["count_include_pad"] or unpadded
        if pointwise and exact and pool.shape[1:] == source.shape[1:] and a["filters"] < pool.shape[0]:
            swapped[pool.id] = n.model_copy(update={"id": pool.id, "inputs": pool.inputs})
            swapped[n.id] = pool.model_copy(update={"id": n.id, "inputs": [pool.id], "shape": n.shape})
    return rebuild(graph, [swapped.get(n.id, n) for n in graph.nodes])


def fuse_scale_add(graph: Graph) -> Graph:
    """`shortcut + scale(body)` (Inception-ResNet's scaled residual) as one
    `torch.add(shortcut, body, alpha=factor)`."""
    users = consumers(graph)
    outputs = {o.node for o in graph.outputs}
    alias, changed = {}, {}
    for n in graph.nodes:
        if n.op != Add.name or len(n.inputs) != 2:
            continue
        scaled = [i for i in n.inputs if graph.nodes[i].op == Scale.name and users[i] == [n.id] and i not in outputs]
        if len(scaled) == 1 and n.inputs[0] != n.inputs[1]:
            s = graph.nodes[scaled[0]]
            other = next(i for i in n.inputs if i != s.id)
            changed[n.id] = with_attrs(n, alpha=s.attrs["factor"]).model_copy(update={"inputs": [other, s.id]})
            alias[s.id] = s.inputs[0]
    nodes = [changed.get(n.id, n) for n in graph.nodes if n.id not in alias]
    return rebuild(graph, nodes, alias)


def fuse_conv_activation(graph: Graph) -> Graph:
    """An activation that oneDNN runs as a post-op (the op's `onednn_unary` trait: ReLU,
    ReLU6, SiLU, GELU, Hardswish, ...) right after a conv that nothing else reads becomes
    part of that conv (`attrs["activation"]`, see :func:`post_op_arg`): on the CPU both
    run as one oneDNN kernel, the fused kernel torch.compile's inductor emits for the
    same pattern."""
    users = consumers(graph)
    outputs = {o.node for o in graph.outputs}
    fused: dict[int, Node] = {}
    alias: dict[int, int] = {}
    for n in graph.nodes:
        activation = post_op_arg(n)
        if activation is None or len(n.inputs) != 1:
            continue
        src = graph.nodes[n.inputs[0]]
        if _is(src, "conv2d") and users[src.id] == [n.id] and src.id not in outputs \
                and "activation" not in src.attrs and _onednn_pays(graph, src):
            fused[src.id] = with_attrs(src, activation=activation)
            alias[n.id] = src.id
    nodes = [fused.get(n.id, n) for n in graph.nodes if n.id not in alias]
    return rebuild(graph, nodes, alias)


def fuse_conv_add(graph: Graph) -> Graph:
    """A residual sum whose one summand is a conv that nothing else reads (and the ReLU
    after the sum, if nothing else reads the sum) becomes part of that conv: it takes
    the other summand as a second input (`attrs["residual"]`) and, on the CPU, adds it
    inside oneDNN's convolution kernel (a binary post-op). A scaled sum
    `shortcut + alpha * conv(x)` has alpha folded into the conv's weights and bias."""
    users = consumers(graph)
    outputs = {o.node for o in graph.outputs}
    fused: dict[int, Node] = {}  # add id -> the conv that computes the sum
    alias: dict[int, int] = {}
    gone: set[int] = set()
    for n in graph.nodes:
        if n.op != Add.name or len(n.inputs) != 2 or n.inputs[0] == n.inputs[1]:
            continue
        # with alpha only the scaled summand (the second) can take the factor
        candidates = [k for k in ((1,) if "alpha" in n.attrs else (1, 0)) if _fusable_conv(graph, n.inputs[k], n.id, users, outputs)]
        if not candidates:
            continue
        k = max(candidates, key=lambda j: n.inputs[j])  # the later one: the other is computed by then
        conv = graph.nodes[n.inputs[k]]
        origin = origin_of(conv)
        if "alpha" in n.attrs:
            origin = {"kind": "scale", "of": origin, "factor": n.attrs["alpha"]}
        attrs = {**conv.attrs, "residual": True, "origin": origin}
        after = [graph.nodes[u] for u in users[n.id]]
        if len(after) == 1 and _is(after[0], "onednn_after_sum") and n.id not in outputs:
            attrs["activation"] = post_op_arg(after[0])
            alias[after[0].id] = n.id
        fused[n.id] = conv.model_copy(update={"id": n.id, "inputs": [conv.inputs[0], n.inputs[1 - k]], "attrs": attrs,
                                              "shape": n.shape})
        gone.add(conv.id)
    nodes = [fused.get(n.id, n) for n in graph.nodes if n.id not in gone and n.id not in alias]
    return rebuild(graph, nodes, alias)


def _fusable_conv(graph: Graph, node_id: int, add: int, users, outputs: set[int]) -> bool:
    n = graph.nodes[node_id]
    return (_is(n, "conv2d") and users[node_id] == [add] and node_id not in outputs
            and "activation" not in n.attrs and "residual" not in n.attrs and _onednn_pays(graph, n))


def _writable(graph: Graph, node_id: int, writer: int, users, outputs: set[int]) -> bool:
    """Whether `writer` may overwrite the tensor of `node_id`: the forward is straight-line
    code in node order, so it may when every other reader of that tensor (and of the
    tensors it is a view of) runs before it, and it is neither an output nor the input."""
    while True:
        n = graph.nodes[node_id]
        if node_id in outputs or n.op == Input.name or any(u > writer for u in users[node_id]):
            return False
        if any(a in outputs or any(u > writer for u in users[a]) for a in _views_of(graph, node_id, users)):
            return False  # a view of it (a split's part, an identity) is read after the write
        if not is_view(n):
            return True
        if n.op == Slice.name:  # the slices of one fused output are disjoint: its other readers are slices
            src = n.inputs[0]
            return src not in outputs and all(graph.nodes[u].op == Slice.name for u in users[src])
        node_id = n.inputs[0]


def _views_of(graph: Graph, node_id: int, users) -> list[int]:
    """The nodes whose tensors are views of `node_id`'s, views of views included."""
    views, stack = [], [node_id]
    while stack:
        for u in users[stack.pop()]:
            if is_view(graph.nodes[u]):
                views.append(u)
                stack.append(u)
    return views


def _storage(graph: Graph, node_id: int) -> int:
    """The node whose tensor `node_id`'s tensor is (a view of)."""
    while is_view(graph.nodes[node_id]):
        node_id = graph.nodes[node_id].inputs[0]
    return node_id


def mark_inplace(graph: Graph) -> Graph:
    """ReLUs, residual sums, channel-wise products (into the map, not the gate: an
    out-of-place product of a large map measured 14x slower than in place, its output's
    fresh pages faulted in at every call) and convs that add a shortcut (fuse_conv_add)
    that may overwrite their input: nothing reads it later. A sum overwrites a summand of its own
    rather than a view of a larger tensor (which would keep that tensor non-contiguous)."""
    users = consumers(graph)
    outputs = {o.node for o in graph.outputs}
    nodes = []
    for n in graph.nodes:
        if _is(n, "inplace_module") and _writable(graph, n.inputs[0], n.id, users, outputs):
            n = with_attrs(n, inplace=True)
        elif _is(n, "inplace_merge") and len(n.inputs) == 2 and n.inputs[0] != n.inputs[1]:
            into = [k for k, i in enumerate(n.inputs) if _writable(graph, i, n.id, users, outputs)
                    and (k == 0 or "alpha" not in n.attrs) and graph.nodes[i].shape == n.shape]
            into.sort(key=lambda k: is_view(graph.nodes[n.inputs[k]]))
            if into:
                n = with_attrs(n, inplace=into[0])
        elif n.attrs.get("residual") and not is_view(graph.nodes[n.inputs[1]]) \
                and _storage(graph, n.inputs[0]) != n.inputs[1] and _writable(graph, n.inputs[1], n.id, users, outputs):
            # (not when the conv reads the shortcut: it reads neighbours of what it writes)
            n = with_attrs(n, inplace=True)
        nodes.append(n)
    return rebuild(graph, nodes)


def prepack_weights(graph: Graph) -> Graph:
    """Every conv (but those on a 1x1 map: :func:`_onednn_pays`) keeps its weight in
    oneDNN's blocked layout, reordered once rather than at every call (what inductor's
    freezing does; on the CPU in float32)."""
    return rebuild(graph, [with_attrs(n, prepack=True) if _is(n, "conv2d") and _onednn_pays(graph, n) else n
                           for n in graph.nodes])


def channels_last(graph: Graph) -> Graph:
    """Run the whole network in channels_last (NHWC) memory format."""
    first = graph.nodes[0] if graph.nodes else None
    if first is None or first.op != Input.name or len(first.shape or ()) != 3:
        return graph
    return rebuild(graph, [with_attrs(first, memory_format="channels_last"), *graph.nodes[1:]])


PASSES: tuple[Callable[[Graph], Graph], ...] = (
    drop_train_only, expand_sepconv, fold_batchnorm, fold_layer_scale, fuse_sibling_convs, commute_pool_conv, fuse_scale_add,
    fuse_conv_activation, fuse_conv_add, mark_inplace, prepack_weights, channels_last,
)
PASS_NAMES = tuple(p.__name__ for p in PASSES)


def run_passes(graph: Graph, skip: Iterable[str] = ()) -> Graph:
    """The graph after every pass of PASSES, in order, except those named in `skip`."""
    skip = set(skip)
    unknown = skip - set(PASS_NAMES)
    if unknown:
        raise ValueError(f"unknown pass(es) {sorted(unknown)}; the passes are {', '.join(PASS_NAMES)}")
    for p in PASSES:
        if p.__name__ not in skip:
            graph = p(graph)
    return graph
