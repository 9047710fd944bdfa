"""Every registry entry against torch, by family: each ``tests/test_layers_property_<family>.py`` holds its
strategies, edge cases and references, and ``tests/layer_harness.py`` the check they share. This module checks
that the families together cover the registry, and gives other tests (torchinfo counts) every strategy."""

from __future__ import annotations

from hypothesis import strategies as st

from designer import list_types
from tests import (
    test_layers_property_norm,
    test_layers_property_pointwise,
    test_layers_property_roi,
    test_layers_property_shape,
    test_layers_property_spatial,
)
from tests.layer_harness import Case

FAMILIES = (
    test_layers_property_spatial,
    test_layers_property_norm,
    test_layers_property_pointwise,
    test_layers_property_roi,
    test_layers_property_shape,
)

STRATEGIES: dict[str, st.SearchStrategy] = {t: s for family in FAMILIES for t, s in family.STRATEGIES.items()}

__all__ = ["STRATEGIES", "Case"]


def test_every_entry_has_a_strategy_in_exactly_one_family():
    listed = [t for family in FAMILIES for t in family.STRATEGIES]
    assert len(listed) == len(set(listed)), "a type is drawn by two families"
    assert sorted(set(list_types()) - set(STRATEGIES)) == [], "registry entries without a strategy"
    assert sorted(set(STRATEGIES) - set(list_types())) == [], "strategies for types no longer registered"


def test_every_edge_case_names_a_type_of_its_family():
    for family in FAMILIES:
        assert {t for t, _, _ in family.EDGES} <= set(family.STRATEGIES), family.__name__
