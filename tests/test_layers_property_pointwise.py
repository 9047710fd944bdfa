"""Activations, softmax, dropout and identity entries against torch (see tests/layer_harness.py)."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from tests.layer_harness import DIM, FLOAT, INPLACE, MAP_RANKS, P, module_case, run_property


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
    "Softmax": _activation("Softmax", dim=DIM),
    "LogSoftmax": _activation("LogSoftmax", dim=DIM),
}

EXAMPLES = {"PReLU": 60, "Hardtanh": 60}

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
