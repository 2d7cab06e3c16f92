"""The generated network class takes the network's parameters (issue 12, item 6), as
block classes do: `ResNet50(num_classes=10)` from the compiled file is the model that
`netdsl.build(spec, num_classes=10)` builds; `--set` bakes values in as defaults."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from references import randomize

import netdsl
from netdsl.torch.build import compile_spec, load_module

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
sys.path.insert(0, str(ROOT))
from fuzz.specgen import valid_specs  # noqa: E402


def network_class(spec, params=None):
    code, _ = compile_spec(spec, params)
    return load_module(code)[code.class_name]


def same_model(a: torch.nn.Module, b: torch.nn.Module) -> None:
    assert [(k, tuple(v.shape)) for k, v in a.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in b.state_dict().items()
    ]
    assert str(a) == str(b)


@pytest.mark.parametrize(
    "spec, params",
    [
        ("resnet50.net", {"num_classes": 10}),
        ("mobilenet_v1.net", {"alpha": 0.5}),
        ("mobilenet_v1.net", {"alpha": 0.25, "num_classes": 3}),
    ],
)
def test_network_class_takes_its_parameters(spec, params):
    cls = network_class(SPECS / spec)
    model, ref = cls(**params), netdsl.build(SPECS / spec, **params)
    same_model(model, ref)
    randomize(model).eval()
    ref.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want, got = ref.eval()(x), model(x)
    assert got.shape == (1, params.get("num_classes", 1000))
    assert (got - want).norm() <= 1e-5 * want.norm()


def test_defaults_are_the_specs_and_set_bakes_values_in():
    assert inspect.signature(network_class(SPECS / "resnet50.net")).parameters["num_classes"].default == 1000
    baked = network_class(SPECS / "mobilenet_v1.net", {"alpha": 0.5, "num_classes": 7})
    assert inspect.signature(baked).parameters["alpha"].default == 0.5
    same_model(baked(), netdsl.build(SPECS / "mobilenet_v1.net", alpha=0.5, num_classes=7))


def test_a_parameter_that_only_sets_the_input_size_is_accepted():
    model = network_class(SPECS / "resnet18.net")(resolution=128, num_classes=4).eval()
    assert model(torch.randn(1, 3, 128, 128)).shape == (1, 4)


def test_a_parameter_that_decides_which_layers_exist_is_fixed_with_a_message():
    cls = network_class(SPECS / "googlenet.net")
    cls(num_classes=5)  # the value the file was generated with is fine
    with pytest.raises(ValueError, match="--set aux"):
        cls(aux=False)
    same_model(
        network_class(SPECS / "googlenet.net", {"aux": False})(), netdsl.build(SPECS / "googlenet.net", aux=False)
    )


def test_an_input_size_that_changes_a_flatten_is_fixed():
    spec = (
        "network N(resolution: int = 8, width: int = 4) {\n    input [3, resolution, resolution]\n"
        "    conv(width, 3, padding=1) -> flatten -> linear(2)\n}\n"
    )
    cls = network_class(spec)
    same_model(cls(width=6), netdsl.build(spec, width=6))  # the flatten's channels follow `width`
    assert cls(width=6).eval()(torch.randn(1, 3, 8, 8)).shape == (1, 2)
    with pytest.raises(ValueError, match="--set resolution"):
        cls(resolution=16)
    same_model(network_class(spec, {"resolution": 16})(), netdsl.build(spec, resolution=16))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs(alternatives=True), st.sampled_from([3, 11]))
def test_generated_network_classes_take_their_parameter_as_build_does(spec, width):
    """Generated specs whose network's `width` sets some convs' filters (and with it what
    flows into residuals, `if` arms decided by `in_channels`, flattens): where the spec
    checks with the other width, the compiled class given it is the model `build` makes,
    weights for weights and output for output; or it refuses with a message naming --set."""
    assume(netdsl.analyze(spec.text, {"width": width}).ok)
    cls = network_class(spec.text)
    try:
        model = cls(width=width)
    except ValueError as e:
        assert "--set width" in str(e)
        return
    ref = randomize(netdsl.build(spec.text, width=width)).eval()
    same_model(model, ref)
    model.load_state_dict(ref.state_dict())
    x = torch.randn(2, *ref.netdsl_graph.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want, got = ref(x), model.eval()(x)
    assert (got - want).norm() <= 1e-5 * want.norm() + 1e-6
