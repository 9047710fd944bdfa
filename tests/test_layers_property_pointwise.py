"""Activations, softmax, dropout and identity entries against torch (see tests/layer_harness.py)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import strategies as st
from torch import nn
from torchvision import ops

from designer.compiler import compile_graph
from tests.helpers import chain
from tests.layer_harness import ANY_RANKS, DIM, FLOAT, INPLACE, MAP_RANKS, REFERENCES, P, module_case, run_property


def _stochastic_depth(params: dict[str, Any], xs: list[torch.Tensor]) -> tuple[nn.Module, torch.Tensor]:
    module = ops.StochasticDepth(**params)
    return module, module(xs[0])


REFERENCES["StochasticDepth"] = _stochastic_depth


def _activation(type_: str, **optional: st.SearchStrategy) -> st.SearchStrategy:
    return module_case(type_, {}, optional)


STRATEGIES: dict[str, st.SearchStrategy] = {
    "Dropout": module_case("Dropout", {}, {"p": P, **INPLACE}),
    "Dropout2d": module_case("Dropout2d", {}, {"p": P, **INPLACE}, ranks=MAP_RANKS),
    "Identity": _activation("Identity"),
    "ReLU": _activation("ReLU", **INPLACE),
    "ReLU6": _activation("ReLU6", **INPLACE),
    "LeakyReLU": _activation("LeakyReLU", negative_slope=FLOAT, **INPLACE),
    "ELU": _activation("ELU", alpha=FLOAT, **INPLACE),
    "GELU": _activation("GELU", approximate=st.sampled_from(["none", "tanh"])),
    "SiLU": _activation("SiLU", **INPLACE),
    "Hardswish": _activation("Hardswish", **INPLACE),
    "Hardsigmoid": _activation("Hardsigmoid", **INPLACE),
    "Sigmoid": _activation("Sigmoid"),
    "Tanh": _activation("Tanh"),
    "Mish": _activation("Mish", **INPLACE),
    "Softplus": _activation("Softplus", beta=FLOAT, threshold=st.floats(-5, 30)),
    "Hardtanh": _activation("Hardtanh", min_val=FLOAT, max_val=FLOAT, **INPLACE),
    "PReLU": _activation("PReLU", num_parameters=st.one_of(st.just(1), st.integers(1, 16)), init=st.floats(-1, 1)),
    "StochasticDepth": module_case(
        "StochasticDepth", {"p": P, "mode": st.sampled_from(["row", "batch", "rows"])}, ranks=ANY_RANKS
    ),
    "Softmax": _activation("Softmax", dim=DIM),
    "LogSoftmax": _activation("LogSoftmax", dim=DIM),
}

EXAMPLES: dict[str, int] = {}

EDGES = [
    ("Softmax", {"dim": 0}, [(5,)]),
    ("Hardtanh", {"min_val": 0.5, "max_val": 0.5}, [(3, 4, 4)]),  # torch asserts max_val > min_val
    ("Hardtanh", {"min_val": 0.0, "max_val": 6.0}, [(3, 4, 4)]),  # ReLU6
    ("PReLU", {"num_parameters": 3}, [(3, 4, 4)]),  # one slope per channel
    ("PReLU", {"num_parameters": 4}, [(3, 4, 4)]),
    ("PReLU", {"num_parameters": 5}, [(5,)]),  # a feature vector: its features are the channels
]


@pytest.mark.parametrize("type_name", list(STRATEGIES))
def test_layer_agrees_with_torch(type_name: str):
    run_property(type_name, STRATEGIES[type_name], EXAMPLES.get(type_name, 30), EDGES)


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_drops_what_torchvisions_drops(mode: str):
    """Same seed, same samples dropped and the same scaling in training; the input itself in evaluation."""
    module = compile_graph(chain([3, 4, 4], ("StochasticDepth", {"p": 0.5, "mode": mode})), seed=0).n1
    reference = ops.StochasticDepth(0.5, mode)
    x = torch.randn(16, 3, 4, 4)
    torch.manual_seed(7)
    got = module.train()(x)
    torch.manual_seed(7)
    torch.testing.assert_close(got, reference.train()(x), rtol=0, atol=0)
    assert 0 < int((got == 0).all(dim=(1, 2, 3)).sum()) < 16 or mode == "batch"
    assert torch.equal(module.eval()(x), x)
