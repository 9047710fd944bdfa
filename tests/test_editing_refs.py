"""Editing helpers with references to a Split's parts (``"s:1"``): clipboard ids and remapping, layout, catalog,
declaring outputs one at a time."""

from __future__ import annotations

from designer import analyze
from designer.editing import catalog, clipboard
from designer.editing.layout import ROW_STEP, layered_layout
from designer.editing.outputs import toggled_outputs
from tests.helpers import graph


def _design():
    """x -> s (Split) -> a reads part 0, b reads part 1."""
    return graph(
        ("x", "Input", {"shape": [8, 4, 4]}, []),
        ("s", "Split", {"chunks": 2}, ["x"]),
        ("a", "ReLU", {}, ["s"]),
        ("b", "ReLU", {}, ["s:1"]),
    )


def test_pasted_copies_read_the_same_part_of_the_copied_split():
    g = _design()
    text = clipboard.nodes_to_text(g, ["s", "a", "b"])
    nodes = clipboard.text_to_nodes(text)
    assert nodes is not None and [n.inputs for n in nodes] == [["x"], ["s"], ["s:1"]]
    fresh = {n.id: n for n in clipboard.reidentify(nodes, g)}
    assert set(fresh) == {"s_2", "a_2", "b_2"}
    assert fresh["s_2"].inputs == [] and fresh["a_2"].inputs == ["s_2"] and fresh["b_2"].inputs == ["s_2:1"]


def test_a_reader_copied_without_its_split_keeps_the_part_only_when_asked():
    g = _design()
    (kept,) = clipboard.reidentify([g["b"]], g, keep_external=True)
    assert kept.id == "b_2" and kept.inputs == ["s:1"]
    (dropped,) = clipboard.reidentify([g["b"]], g)
    assert dropped.inputs == []
    g.remove_node("s")
    (gone,) = clipboard.reidentify([g["b"]], g, keep_external=True)
    assert gone.inputs == [], "a part of a node that is not there is not kept"


def test_referenced_ids_name_nodes_not_parts():
    g = _design()
    g.set_outputs(["s:1"])
    ids = clipboard.referenced_ids(g)
    assert ids == {"x", "s", "a", "b"}
    assert clipboard.free_id("s", ids) == "s_2"


def test_layout_puts_a_reader_of_a_part_below_its_split():
    pos = layered_layout(_design())
    assert pos["b"][1] == pos["s"][1] + ROW_STEP == pos["a"][1]


def test_a_split_from_the_palette_starts_valid_after_a_feature_map():
    assert catalog.starting_params("Split") == {"chunks": 2, "dim": 1}
    entry = next(e for e in catalog.palette_entries() if e.name == "Split")
    assert entry.group == "Reshape"
    g = graph(("x", "Input", {"shape": [32, 8, 8]}, []), ("s", "Split", catalog.starting_params("Split"), ["x"]))
    analysis = analyze(g)
    assert not analysis.errors or all(d.code == "graph.unused_output" for d in analysis.errors)
    assert analysis.info["s"].ports == ((16, 8, 8), (16, 8, 8))


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
