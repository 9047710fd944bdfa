"""Declaring outputs one at a time (designer.editing.outputs), without a window."""

from __future__ import annotations

from designer.editing.outputs import toggled_outputs
from tests.helpers import graph


def _design():
    return graph(
        ("x", "Input", {"shape": [8, 4, 4]}, []),
        ("s", "Split", {"chunks": 2}, ["x"]),
        ("a", "ReLU", {}, ["s"]),
        ("b", "ReLU", {}, ["s:1"]),
    )


def test_marking_appends_in_order_and_unmarking_back_to_the_default_declares_nothing():
    g = _design()
    assert toggled_outputs(g, "s:1") == ["a", "b", "s:1"]
    g.set_outputs(toggled_outputs(g, "s:1"))
    assert toggled_outputs(g, "x") == ["a", "b", "s:1", "x"]
    assert toggled_outputs(g, "s:1") is None, "a and b are what the design outputs by default"
    assert toggled_outputs(g, "a") == ["b", "s:1"]


def test_a_part_is_named_in_one_spelling_and_the_last_output_goes_back_to_the_default():
    g = _design()
    assert toggled_outputs(g, "s:0") == ["a", "b", "s"]
    g.set_outputs(["a"])
    assert toggled_outputs(g, "a") is None
