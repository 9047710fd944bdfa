"""Normalisation entries against torch (see tests/layer_harness.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st

from tests.layer_harness import (
    ANY_RANKS,
    EPS,
    FLAT_RANKS,
    MAP_RANKS,
    Case,
    module_case,
    run_property,
    sample_shape,
)

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
}

EXAMPLES = {"LayerNorm": 60, "GroupNorm": 60}

EDGES: list[tuple[str, dict[str, Any], list[tuple[int, ...]]]] = []


@pytest.mark.parametrize("type_name", list(STRATEGIES))
def test_layer_agrees_with_torch(type_name: str):
    run_property(type_name, STRATEGIES[type_name], EXAMPLES.get(type_name, 30), EDGES)
