"""Every registered op through every stage (timm's test over its model registry, applied
to ops): its doc example, in a tiny network, checks, compiles to ruff-clean code, builds
(forward and backward), ports its weights, optimizes to equal outputs, is drawn in a known
style and is counted as PyTorch and fvcore count it. The traits an op declares
(netdsl/ops/base.py) are checked against what its lowering really does, so an op that
forgets one fails here with the trait's name."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from references import randomize
from test_summary import fvcore_macs
from torch import nn

import netdsl
from netdsl.ops import OPS, ROLES
from netdsl.ops.base import Lowered
from netdsl.optimizer.flat import compile_optimized
from netdsl.optimizer.runtime import post_op
from netdsl.render.labels import category
from netdsl.summary import summarize
from netdsl.torch.build import build_model, compile_spec

REGISTERED = sorted({op.name: op for op in OPS.values()}.values(), key=lambda op: op.name)
IDS = [op.name for op in REGISTERED]


def spec_for(op) -> str:
    """A network around the op's doc example: two named values for ops that join them,
    a flat vector for ops that read one, and a conv after a map so that a following batch
    norm or activation has something to decorate."""
    shape = "[8, 12, 12]" if op.input_rank == 3 else "[48]"
    lines = [f"network OpTest_{op.name}() {{", f"    input {shape}"]
    if op.multi_input:
        lines += ["    a = conv(8, 1)", "    b = conv(8, 1)"]
    lines.append(f"    {op.example}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def twice_spec_for(op) -> str:
    """The op twice after a conv, in one chain: where its in-place form is used, the second
    must not overwrite what the first one's backward reads."""
    return f"network OpTwice() {{\n    input [8, 12, 12]\n    conv(8, 3) -> {op.example} -> {op.example}\n}}\n"


@pytest.mark.parametrize("op", [op for op in REGISTERED if op.inplace_module], ids=lambda op: op.name)
def test_in_place_forms_keep_the_backward_pass_right(op):
    model = randomize(build_model(twice_spec_for(op))).train()
    x = torch.randn(2, 8, 12, 12, generator=torch.Generator().manual_seed(4))
    model(x).square().sum().backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    twin = build_model(twice_spec_for(op)).train()
    twin.load_state_dict(model.state_dict())
    for m in twin.modules():  # the same network with every op out of place
        if hasattr(m, "inplace"):
            m.inplace = False
    twin(x).square().sum().backward()
    for k, p in twin.named_parameters():
        assert torch.allclose(grads[k], p.grad, atol=1e-6), f"op '{op.name}': in place, the gradient of {k} differs"


def node_of(graph, op):
    return next(n for n in graph.nodes if n.op == op.name)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-12)).item()


@pytest.mark.parametrize("op", REGISTERED, ids=IDS)
def test_op_declares_its_traits_consistently(op):
    assert op.doc and op.example, f"op '{op.name}' needs `doc` and `example` (docs/language.md shows them)"
    assert op.role in ROLES, f"op '{op.name}': trait `role` must be one of {ROLES}, got {op.role!r}"
    assert not (op.principal and op.decoration), f"op '{op.name}': `principal` and `decoration` exclude each other"
    assert bool(op.init_kind) == bool(op.torch_class), f"op '{op.name}': `init_kind` and `torch_class` go together"
    if op.onednn_unary is not None:
        assert op.elementwise, f"op '{op.name}': a oneDNN post-op (`onednn_unary`) must be `elementwise`"
    if op.stateful:
        assert op.fresh_output, f"op '{op.name}': a `stateful` op writes a new tensor: declare `fresh_output`"
    if op.width_param is not None:
        assert op.width_param[0] in {p.name for p in op.params}, f"op '{op.name}': `width_param` names no parameter"


@pytest.mark.parametrize("op", [op for op in REGISTERED if op.input_rank == 3], ids=lambda op: op.name)
def test_fixed_size_trait_says_whether_the_output_follows_the_input_size(op):
    """The code generator keeps an input-size parameter of a network (`resolution`) when a
    `fixed_size` op stands between the input and every flatten: the trait must be true."""
    shapes = [node_of(netdsl.check(spec_for(op).replace("[8, 12, 12]", f"[8, {s}, {s}]")), op).shape for s in (12, 24)]
    follows = shapes[0] != shapes[1]
    assert follows != op.fixed_size, (
        f"op '{op.name}': trait `fixed_size` is {op.fixed_size} but its output is {shapes[0]} at 12x12 "
        f"and {shapes[1]} at 24x24"
    )


@pytest.mark.parametrize("op", REGISTERED, ids=IDS)
def test_op_checks_builds_and_its_traits_match_its_module(op):
    spec = spec_for(op)
    graph = netdsl.check(spec)
    node = node_of(graph, op)
    model = randomize(build_model(spec))
    module = model.get_submodule(node.name) if hasattr(model, node.name.split(".")[0]) else None
    has_state = module is not None and bool(module.state_dict())
    assert has_state == op.stateful, f"op '{op.name}': trait `stateful` is {op.stateful} but its module " \
        f"{'holds' if has_state else 'holds no'} state"
    if op.stateful:  # the state_dict keys are the graph's layer names
        assert all(k.startswith(node.name + ".") for k in module.state_dict(prefix=node.name + "."))
    has_weight = module is not None and isinstance(getattr(module, "weight", None), nn.Parameter)
    assert has_weight == op.init_weight, f"op '{op.name}': trait `init_weight` (what `init NAME:` sets) is " \
        f"{op.init_weight} but its module {'has' if has_weight else 'has no'} one `weight`"
    is_conv2d = type(module) is nn.Conv2d
    assert is_conv2d == op.conv2d, f"op '{op.name}': trait `conv2d` is {op.conv2d}, its module is {type(module).__name__}"
    if is_conv2d or type(module) is nn.Linear:
        assert op.folds_batchnorm, f"op '{op.name}' lowers to {type(module).__name__}: declare `folds_batchnorm`"
    if module is not None and any(isinstance(m, (nn.Conv2d, nn.Linear)) for m in module.modules()):
        assert op.init_kind, f"op '{op.name}' holds a conv or linear layer: declare `init_kind` (for `init` statements)"

    # forward and backward: every parameter gets a gradient
    x = torch.randn(3, *graph.input_shape, generator=torch.Generator().manual_seed(1), requires_grad=True)
    model.train()
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    assert tuple(out.shape) == (3, *graph.output_shape)
    out.square().mean().backward()
    missing = [k for k, p in model.named_parameters() if p.grad is None]
    assert not missing, f"op '{op.name}': no gradient for {missing}"


@pytest.mark.parametrize("op", [op for op in REGISTERED if not op.multi_input], ids=lambda op: op.name)
def test_module_reads_channels_trait_says_whether_the_module_takes_the_input_width(op):
    """The code generator keeps a loop's width variable only for a body whose modules
    take it (`module_reads_channels`): a module built from a width it was not told it
    reads would name an unset variable, or keep one nothing reads."""
    node = node_of(netdsl.check(spec_for(op)), op)
    args = {p.name: Lowered(repr(node.attrs[p.name]), node.attrs[p.name]) for p in op.params if p.name in node.attrs}
    source = op.torch_module(args, "width_of_the_input")
    reads = source is not None and "width_of_the_input" in source
    assert reads == op.module_reads_channels, f"op '{op.name}': trait `module_reads_channels` is " \
        f"{op.module_reads_channels} but its module {source!r} {'takes' if reads else 'does not take'} the input's channels"


def _module_input(graph, op) -> torch.Tensor:
    shape = graph.nodes[node_of(graph, op).inputs[0]].shape
    return torch.randn(2, *shape, generator=torch.Generator().manual_seed(2))


@pytest.mark.parametrize("op", [op for op in REGISTERED if not op.multi_input], ids=lambda op: op.name)
def test_elementwise_view_and_eval_identity_traits_are_true_of_the_module(op):
    graph = netdsl.check(spec_for(op))
    node = node_of(graph, op)
    model = randomize(build_model(spec_for(op))).eval()
    if not hasattr(model, node.name):
        return  # computed in forward (no module): checked through the whole network below
    module = model.get_submodule(node.name)
    x = _module_input(graph, op)
    with torch.no_grad():
        y = module(x.clone())
    same_shape = y.shape == x.shape
    identity = same_shape and torch.equal(y, x)
    assert identity == op.eval_identity, f"op '{op.name}': trait `eval_identity` is {op.eval_identity}, " \
        f"its module in eval {'is' if identity else 'is not'} the identity"
    if same_shape and not op.stateful and x.dim() == 4:
        # elementwise: the output on a slice (of channels, of rows and columns) is the slice of the output
        sliced = module(x[:, :4, 1:-2, 2:].clone())
        per_element = torch.allclose(sliced, y[:, :4, 1:-2, 2:], atol=1e-6)
        if op.elementwise:
            assert per_element, f"op '{op.name}' declares `elementwise` but its output depends on other channels"
        elif per_element and not op.eval_identity:
            pytest.fail(f"op '{op.name}' computes each element alone: declare `elementwise` (sibling fusion asks it)")
    if op.view:
        assert y.data_ptr() == x.data_ptr() or op.eval_identity or op.transparent, \
            f"op '{op.name}': trait `view` is set but its output is new memory"
    if op.onednn_unary is not None:  # (the kernel's post-op itself: tests/test_inference_conv.py)
        post = op.onednn_post_op(node.attrs)
        assert torch.allclose(post_op(x, *post), y, atol=1e-6), \
            f"op '{op.name}': trait `onednn_unary` {post} computes something else than its module"
    if op.inplace_module:  # its in-place form, with this node's arguments, as the generators write it
        args = {p.name: Lowered(repr(node.attrs[p.name]), node.attrs[p.name]) for p in op.params}
        source = op.torch_module({**args, "inplace": Lowered("True", True)}, str(x.shape[1]))
        assert "inplace=True" in source, f"op '{op.name}' has an `inplace_module` but torch_module ignores `inplace`"
        inplace = eval(source, {"nn": nn})
        z = x.clone()
        assert torch.equal(inplace(z), y) and torch.equal(z, y), \
            f"op '{op.name}': `inplace_module` must compute the same and overwrite its input"


@pytest.mark.parametrize("op", [op for op in REGISTERED if op.view and not op.multi_input], ids=lambda op: op.name)
def test_a_view_op_shares_its_inputs_storage_module_or_forward_expression(op):
    shape = [8, 12, 12] if op.input_rank == 3 else [48]
    model = build_model(f"network OpView() {{\n    input {shape}\n    {op.example}\n}}\n").eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        y = model(x)
    assert y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr(), \
        f"op '{op.name}': trait `view` is set but its output in eval is new memory"


@pytest.mark.parametrize("op", REGISTERED, ids=IDS)
def test_op_ports_optimizes_renders_and_is_counted(op):
    spec = spec_for(op)
    graph = netdsl.check(spec)
    model = randomize(build_model(spec)).eval()
    twin = build_model(spec).eval()
    netdsl.port_weights(twin, model)
    assert twin.state_dict().keys() == model.state_dict().keys()
    assert all(torch.equal(twin.state_dict()[k], v) for k, v in model.state_dict().items())

    x = torch.randn(2, *graph.input_shape, generator=torch.Generator().manual_seed(3))
    fast = netdsl.optimize(model, "inference")
    with torch.no_grad():
        want, got = model(x), fast(x)
    assert rel_err(got, want) < 1e-5, f"op '{op.name}': the optimized module computes something else"

    assert category(op.name) != "other", f"op '{op.name}': trait `role` gives no diagram style"
    dot = netdsl.render(spec).source
    label = op.diagram_label(node_of(graph, op).attrs, {})
    assert op.transparent or label.split(" (")[0] in dot, f"op '{op.name}': its label {label!r} is not drawn"

    summary = summarize(graph)
    assert summary.total.params == sum(p.numel() for p in model.parameters())
    assert summary.total.macs == fvcore_macs(model, graph.input_shape)


def test_generated_code_of_every_op_passes_ruff(tmp_path):
    """Plain and inference-optimized modules, one file per op, one run of ruff check and
    one of ruff format."""
    for op in REGISTERED:
        code, graph = compile_spec(spec_for(op))
        (tmp_path / f"plain_{op.name}.py").write_text(code.source)
        flat, _ = compile_optimized(graph)
        (tmp_path / f"optimized_{op.name}.py").write_text(flat.source)
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    check = subprocess.run([ruff, "check", "--isolated", str(tmp_path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run([ruff, "format", "--isolated", "--check", "--diff", str(tmp_path)],
                         capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout[:20000] + fmt.stderr
