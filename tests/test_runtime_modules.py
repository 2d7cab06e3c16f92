"""The modules of netdsl/torch/runtime.py (copied into generated files) against the
references they stand for, and the copy itself."""

from __future__ import annotations

import torch
from torchvision.models.convnext import LayerNorm2d as TorchvisionLayerNorm2d

import netdsl
from netdsl.torch.build import compile_spec
from netdsl.torch.runtime import LayerNorm2d, LayerScale2d


def test_layer_norm_2d_equals_torchvisions_with_the_same_state_dict_keys():
    ours, theirs = LayerNorm2d(16, eps=1e-6), TorchvisionLayerNorm2d(16, eps=1e-6)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        theirs.weight.copy_(torch.rand(16, generator=gen) + 0.5)
        theirs.bias.copy_(torch.randn(16, generator=gen))
    ours.load_state_dict(theirs.state_dict())  # same keys, same shapes
    x = torch.randn(2, 16, 5, 7, generator=gen)
    assert torch.allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-6)


def test_layer_scale_multiplies_each_channel_by_its_factor():
    scale = LayerScale2d(3, init=0.5)
    assert torch.equal(scale.weight, torch.full((3, 1, 1), 0.5))
    with torch.no_grad():
        scale.weight.copy_(torch.tensor([1.0, 2.0, -1.0]).view(3, 1, 1))
    x = torch.randn(2, 3, 4, 4)
    assert torch.equal(scale(x), x * torch.tensor([1.0, 2.0, -1.0]).view(1, 3, 1, 1))


def test_generated_files_carry_only_the_runtime_modules_they_use():
    with_ln = "network A() {\n    input [8, 6, 6]\n    layernorm\n}\n"
    without = "network B() {\n    input [8, 6, 6]\n    batchnorm\n}\n"
    assert "class LayerNorm2d(nn.LayerNorm):" in compile_spec(with_ln)[0].source
    assert "class LayerScale2d" not in compile_spec(with_ln)[0].source
    assert "LayerNorm2d" not in compile_spec(without)[0].source
    fast = netdsl.optimize(netdsl.build(with_ln).eval(), "inference")
    assert type(fast.get_submodule(next(n for n, _ in fast.named_children()))).__name__ == "LayerNorm2d"


def test_drop_path_drops_whole_samples_in_training_reproducibly_and_is_the_identity_in_eval():
    from netdsl.torch.runtime import DropPath

    drop, x = DropPath(0.5), torch.randn(64, 3, 4, 4)
    torch.manual_seed(7)
    first = drop(x)
    torch.manual_seed(7)
    assert torch.equal(drop(x), first)  # reproducible under torch.manual_seed
    kept = first.flatten(1).ne(0).any(1)
    assert 0 < kept.sum() < 64
    assert torch.allclose(first[kept], x[kept] * 2.0) and torch.equal(first[~kept], torch.zeros_like(first[~kept]))
    assert drop.eval()(x) is x




def test_a_squeeze_excitation_gate_written_with_mul_equals_torchvisions():
    from torchvision.ops import SqueezeExcitation

    spec = ("network SENet() {\n    input [16, 7, 7]\n    x = identity\n"
            "    g = x -> global_avgpool -> conv(4, 1) -> relu -> conv(16, 1) -> sigmoid\n    mul(x, g)\n}\n")
    ours, theirs = netdsl.build(spec).eval(), SqueezeExcitation(16, 4).eval()
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    netdsl.port_weights(ours, theirs)
    x = torch.randn(2, 16, 7, 7, generator=gen)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-6)
        fast = netdsl.optimize(ours, "inference")
        assert torch.allclose(fast(x), theirs(x), rtol=1e-5, atol=1e-6)


def test_the_helpers_generated_files_call_agree_with_what_they_stand_for():
    """netdsl/torch/helpers.py as code: channel rounding as torchvision's MobileNet rounds,
    "same" padding as torch's own, the spec's ceil and floor as math's."""
    import math

    from torchvision.models._utils import _make_divisible as torchvision_make_divisible

    from netdsl.torch import helpers

    for value in [3, 8, 15.9, 16, 17, 24 * 0.35, 32 * 0.75, 1000 * 1.4, 37.5, 2.0]:
        for divisor in (4, 8, 16):
            assert helpers._make_divisible(value, divisor) == torchvision_make_divisible(value, divisor), (value, divisor)
    x = torch.randn(1, 2, 11, 9)
    for kernel, dilation in [(3, 1), (5, 2), ((1, 7), 1), ((3, 5), (2, 1))]:
        conv = torch.nn.Conv2d(2, 3, kernel, dilation=dilation, padding="same")
        explicit = torch.nn.Conv2d(2, 3, kernel, dilation=dilation, padding=helpers._padding("same", kernel, dilation))
        explicit.load_state_dict(conv.state_dict())
        assert torch.allclose(conv(x), explicit(x), atol=1e-6)
    assert helpers._padding("valid", 3) == 0 and helpers._padding(2, 3) == 2
    for value in [-2.5, -2.0, -0.1, 0.0, 0.4, 1.0, 7.999, 1e9 + 0.5]:
        assert helpers._ceil(value) == math.ceil(value) and helpers._floor(value) == math.floor(value), value


def test_generated_files_carry_the_helpers_source_as_it_is():
    import inspect

    from netdsl.torch import helpers

    code, _ = compile_spec("specs/mobilenet_v2.net")
    assert inspect.getsource(helpers._make_divisible).rstrip() in code.source
