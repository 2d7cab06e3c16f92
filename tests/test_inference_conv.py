"""netdsl/optimizer/runtime.py as code: InferenceConv's oneDNN path against its
plain-PyTorch path and against F.conv2d, its cache of prepacked weights, its in-place
sum; and that the generated optimized file carries exactly this code."""

from __future__ import annotations

import copy
import inspect
import math
from itertools import product
from types import SimpleNamespace

import pytest
import torch
from torch.nn import functional as F

import netdsl
from netdsl.ops import OPS
from netdsl.optimizer import runtime, weights
from netdsl.optimizer.flat import compile_optimized
from netdsl.optimizer.passes import post_op_arg
from netdsl.optimizer.runtime import InferenceConv

needs_onednn = pytest.mark.skipif(not runtime._ONEDNN, reason="no oneDNN fused convolution in this torch")

# (conv arguments, input shape): a plain 3x3 conv and a strided, dilated, grouped one
CONVS = [
    ((4, 6), {"kernel_size": 3, "padding": 1}, (2, 4, 9, 9)),
    ((4, 8), {"kernel_size": 3, "padding": 2, "stride": 2, "dilation": 2, "groups": 2}, (1, 4, 11, 11)),
]


def make_conv(i=0, **extras) -> InferenceConv:
    args, kwargs, _ = CONVS[i]
    torch.manual_seed(i)
    return InferenceConv(*args, **kwargs, **extras).eval()


# InferenceConv's `activation` -> the function, written here from its definition
FORMULAS = {
    None: lambda y: y,
    "relu": lambda y: y.clamp_min(0),
    ("hardtanh", (0.0, 6.0), ""): lambda y: y.clamp(0, 6),  # relu6
    "swish": lambda y: y / (1 + torch.exp(-y)),  # silu
    ("gelu", (), "none"): lambda y: 0.5 * y * (1 + torch.erf(y / math.sqrt(2))),
    ("gelu", (), "tanh"): lambda y: 0.5 * y * (1 + torch.tanh(math.sqrt(2 / math.pi) * (y + 0.044715 * y**3))),
    "hardswish": lambda y: y * (y + 3).clamp(0, 6) / 6,
    "hardsigmoid": lambda y: (y + 3).clamp(0, 6) / 6,
    "sigmoid": lambda y: 1 / (1 + torch.exp(-y)),
    "tanh": lambda y: (torch.exp(2 * y) - 1) / (torch.exp(2 * y) + 1),
    ("leaky_relu", (0.2,), ""): lambda y: torch.where(y > 0, y, 0.2 * y),
}


def reference(conv, x, shortcut=None):
    y = F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
    if shortcut is not None:
        y = y + shortcut
    a = conv.activation
    return FORMULAS[a if a is None or isinstance(a, str) else (a[0], tuple(a[1]), a[2])](y)


def activation_arg(key):
    return key if key is None or isinstance(key, str) else [key[0], list(key[1]), key[2]]


def inputs(conv, i=0, residual=False):
    gen = torch.Generator().manual_seed(7)
    x = 2 * torch.randn(CONVS[i][2], generator=gen)  # past hardswish's and gelu's bends
    if not residual:
        return x, None
    with torch.no_grad():
        shape = reference(conv, x).shape
    return x, torch.randn(shape, generator=gen)


def fused_kernels(fn) -> set[str]:
    """The fused oneDNN ops that fn() calls (a plain conv on the CPU is oneDNN too)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    return {e.key for e in prof.key_averages() if "_convolution_pointwise" in e.key}


def test_every_post_op_an_op_declares_is_one_these_tests_verify():
    for op in OPS.values():
        if op.onednn_unary is not None:
            post = op.onednn_post_op({})
            key = post[0] if not post[1] and not post[2] else (post[0], tuple(post[1]), post[2])
            assert key in FORMULAS or (post[0], (0.2,), "") in FORMULAS, \
                f"op '{op.name}' declares the oneDNN post-op {post}: add it to FORMULAS (verified on the kernel)"
        if op.onednn_after_sum:
            assert op.onednn_unary is not None and op.onednn_post_op({}) == ("relu", (), ""), \
                f"op '{op.name}': after a fused sum this torch's oneDNN runs only relu ('Unary Fusion behavior undefined.')"


def test_post_op_arguments_follow_the_activations_arguments():
    def arg(op, **attrs):
        return post_op_arg(SimpleNamespace(op=op, attrs=attrs))
    assert arg("gelu", approximate="tanh") == ["gelu", [], "tanh"]
    assert arg("gelu", approximate="none") == ["gelu", [], "none"]
    assert arg("leaky_relu", slope=0.2) == ["leaky_relu", [0.2], ""]
    assert arg("relu6") == ["hardtanh", [0.0, 6.0], ""]
    assert arg("hardswish") == "hardswish" and arg("relu") == "relu"
    # not declared: fused measured no faster (silu, sigmoid), or no oneDNN post-op (softmax, prelu)
    assert arg("silu") is None and arg("sigmoid") is None
    assert arg("softmax") is None and arg("prelu") is None


# after a sum, this torch's oneDNN runs only relu ("Unary Fusion behavior undefined." else)
FUSED = [(i, act, residual, prepack)
         for i, act, residual, prepack in product(range(len(CONVS)), FORMULAS, [False, True], [False, True])
         if not (residual and act not in (None, "relu")) and (i == 0 or act in (None, "relu", "swish"))]


@needs_onednn
@pytest.mark.parametrize("i, activation, residual, prepack", FUSED)
def test_onednn_path_equals_the_pytorch_path_and_the_formula(monkeypatch, i, activation, residual, prepack):
    conv = make_conv(i, activation=activation_arg(activation), residual=residual, prepack=prepack)
    x, shortcut = inputs(conv, i, residual)
    with torch.no_grad():
        want = reference(conv, x, shortcut)
        kernels = fused_kernels(lambda: conv(x, shortcut))
        fused = conv(x, shortcut)
        monkeypatch.setattr(runtime, "_ONEDNN", False)  # as on a machine without the kernels
        plain = conv(x, shortcut)
    assert kernels, "the oneDNN path was not taken"
    assert (conv._packed is not None) == prepack  # packed only where asked, and only on the oneDNN path
    torch.testing.assert_close(fused, want, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(plain, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", [None, "relu", ("hardtanh", (0.0, 6.0), ""), ("gelu", (), "tanh")])
def test_float64_and_gradients_take_the_pytorch_path(activation):
    conv = make_conv(activation=activation_arg(activation), residual=True, prepack=True, inplace=True)
    x, shortcut = inputs(conv, residual=True)
    assert not fused_kernels(lambda: conv(x, shortcut))  # grad enabled, the weight requires it
    out = conv(x, shortcut)
    out.sum().backward()
    assert conv.weight.grad is not None and conv._packed is None
    torch.testing.assert_close(out, reference(conv, x, shortcut))
    conv64 = copy.deepcopy(conv).double()
    with torch.no_grad():
        assert not fused_kernels(lambda: conv64(x.double()))
        want = reference(conv64, x.double(), shortcut.double())
        torch.testing.assert_close(conv64(x.double(), shortcut.double()), want)


@needs_onednn
def test_prepacked_weights_are_cached_per_input_shape_and_follow_the_weight():
    conv = make_conv(prepack=True)
    shapes = [(n, 4, 9, 9) for n in range(1, conv.PACKS + 3)]
    with torch.no_grad():
        conv(torch.randn(shapes[0]))
        first = conv._packed[2][shapes[0]]
        conv(torch.randn(shapes[0]))
        assert conv._packed[2][shapes[0]] is first  # reused, not reordered again
        for shape in shapes[1:]:
            conv(torch.randn(shape))
        assert list(conv._packed[2]) == shapes[-conv.PACKS:]  # the oldest went
        conv.weight.mul_(2)  # a new version of the weight: packed again
        x = torch.randn(shapes[-1])
        torch.testing.assert_close(conv(x), reference(conv, x), rtol=1e-4, atol=1e-5)
        assert list(conv._packed[2]) == [shapes[-1]]
        conv.weight = torch.nn.Parameter(conv.weight * 0.5)  # another tensor: packed again
        torch.testing.assert_close(conv(x), reference(conv, x), rtol=1e-4, atol=1e-5)
        assert conv._packed[0] is conv.weight
        clone = copy.deepcopy(conv)  # oneDNN's packed tensors are not copied
        assert clone._packed is None
        torch.testing.assert_close(clone(x), conv(x))


@needs_onednn
@pytest.mark.parametrize("prepack", [False, True])
def test_inplace_sum_writes_into_the_shortcut_only_in_the_same_layout(prepack):
    conv = make_conv(activation="relu", residual=True, inplace=True, prepack=prepack)
    x, shortcut = inputs(conv, residual=True)
    with torch.no_grad():
        want = reference(conv, x, shortcut)
        out = conv(x, shortcut)
        assert out.data_ptr() == shortcut.data_ptr()  # the sum went into the shortcut's memory
        torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-5)
        nhwc = shortcut.new_ones(shortcut.shape).contiguous(memory_format=torch.channels_last)
        before = nhwc.clone()
        out = conv(x, nhwc)  # another layout than x's: a new tensor, the shortcut untouched
        assert out.data_ptr() != nhwc.data_ptr() and torch.equal(nhwc, before)
        torch.testing.assert_close(out, reference(conv, x, before), rtol=1e-4, atol=1e-5)


RELU_CONV = """
network Fused() {
    input [3, 8, 8]
    conv(4, 3) -> relu
    residual {
        conv(4, 3, padding=1)
    }
    relu
}
"""


def test_the_generated_file_carries_the_runtime_and_weights_code_verbatim():
    code, _ = compile_optimized(netdsl.check(RELU_CONV))
    for obj in (runtime.InferenceConv, runtime._same_layout, weights.layer_tensors,
                weights.fold_batchnorm_tensors, weights.convert_state_dict):
        assert inspect.getsource(obj) in code.source, obj.__name__
    assert inspect.getsource(runtime.post_op) in code.source
    assert '_ONEDNN = torch.backends.mkldnn.is_available() and hasattr(' in code.source
    namespace: dict = {}
    exec(compile(code.source, "generated", "exec"), namespace)  # needs nothing but torch
    assert "InferenceConv" in namespace and "post_op" in namespace


def test_a_file_without_fused_convs_carries_no_runtime_code():
    skip = ["fuse_conv_activation", "fuse_conv_add", "mark_inplace", "prepack_weights"]
    code, _ = compile_optimized(netdsl.check(RELU_CONV), skip=skip)
    assert "InferenceConv" not in code.source and "post_op" not in code.source
    assert "def convert_state_dict(" in code.source
