"""Normalisation entries against torch (see tests/layer_harness.py)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import strategies as st
from torch import nn
from torchvision.models import convnext

from designer.compiler import compile_graph
from tests.helpers import chain
from tests.layer_harness import (
    ANY_RANKS,
    EPS,
    FLAT_RANKS,
    MAP_RANKS,
    REFERENCES,
    Case,
    module_case,
    run_property,
    sample_shape,
)


def _layer_scale(params: dict[str, Any], xs: list[torch.Tensor]) -> tuple[nn.Module, torch.Tensor]:
    # as torchvision's ConvNeXt block holds it: a [C, 1, 1] parameter multiplied onto the branch
    holder = nn.Module()
    holder.layer_scale = nn.Parameter(torch.ones(params["dim"], 1, 1) * params.get("init_values", 1e-5))
    return holder, holder.layer_scale * xs[0]


def _torchvision_layer_norm_2d(params: dict[str, Any], xs: list[torch.Tensor]) -> tuple[nn.Module, torch.Tensor]:
    module = convnext.LayerNorm2d(**params)
    return module, module(xs[0])


REFERENCES.update({"LayerScale": _layer_scale, "LayerNorm2d": _torchvision_layer_norm_2d})

_BN = {**EPS, "momentum": st.floats(0, 1), "affine": st.booleans(), "track_running_stats": st.booleans()}


@st.composite
def _layer_norm(draw: Any) -> Case:
    shape = draw(sample_shape(ANY_RANKS))
    params = draw(
        st.fixed_dictionaries({}, optional={**EPS, "elementwise_affine": st.booleans(), "bias": st.booleans()})
    )
    choice = draw(st.sampled_from(["default", "suffix", "wrong"]))
    if choice == "suffix":
        params["normalized_shape"] = list(shape[draw(st.integers(0, len(shape) - 1)) :])
    elif choice == "wrong":
        params["normalized_shape"] = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    return Case("LayerNorm", params, (shape,))


STRATEGIES: dict[str, st.SearchStrategy] = {
    "BatchNorm2d": module_case("BatchNorm2d", {}, _BN, "num_features", MAP_RANKS),
    "BatchNorm1d": module_case("BatchNorm1d", {}, _BN, "num_features", FLAT_RANKS),
    "LayerNorm": _layer_norm(),
    "GroupNorm": module_case(
        "GroupNorm", {"num_groups": st.integers(1, 8)}, {**EPS, "affine": st.booleans()}, "num_channels"
    ),
    "LocalResponseNorm": module_case(
        "LocalResponseNorm",
        {"size": st.integers(1, 5)},
        {"alpha": st.floats(0, 1), "beta": st.floats(0, 1), "k": st.floats(0.5, 2)},
    ),
    "LayerNorm2d": module_case(
        "LayerNorm2d",
        {},
        {**EPS, "elementwise_affine": st.booleans(), "bias": st.booleans()},
        "normalized_shape",
        MAP_RANKS,
    ),
    "LayerScale": module_case("LayerScale", {}, {"init_values": st.floats(-1, 1)}, "dim", MAP_RANKS),
}

EXAMPLES = {"LayerNorm": 60, "GroupNorm": 60}

EDGES: list[tuple[str, dict[str, Any], list[tuple[int, ...]]]] = []


@pytest.mark.parametrize("type_name", list(STRATEGIES))
def test_layer_agrees_with_torch(type_name: str):
    run_property(type_name, STRATEGIES[type_name], EXAMPLES.get(type_name, 30), EDGES)


def test_layer_norm_2d_computes_what_convnexts_computes():
    """The same weights give torchvision's ConvNeXt LayerNorm2d output, and the state_dict keys are the same."""
    module = compile_graph(chain([6, 5, 4], ("LayerNorm2d", {"eps": 1e-6})), seed=0).n1
    reference = convnext.LayerNorm2d(6, eps=1e-6)
    with torch.no_grad():
        reference.weight.normal_()
        reference.bias.normal_()
    module.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(3, 6, 5, 4)
    torch.testing.assert_close(module(x), reference(x))


def test_layer_scale_computes_what_a_convnext_block_computes():
    block = convnext.CNBlock(8, layer_scale=0.5, stochastic_depth_prob=0.0).eval()
    module = compile_graph(chain([8, 5, 5], ("LayerScale", {"init_values": 0.5})), seed=0).n1
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(module(x), block.layer_scale * x, rtol=0, atol=0)
    with torch.no_grad():
        block.layer_scale.normal_()
    module.load_state_dict({"weight": block.layer_scale}, strict=True)
    torch.testing.assert_close(module(x), block.layer_scale * x)
