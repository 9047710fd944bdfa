"""Where edits put new nodes (designer.editing.placement), without a window."""

from __future__ import annotations

from designer.analysis.validate import analyze
from designer.editing.layout import COLUMN_STEP, ROW_STEP
from designer.editing.placement import below, depth, free_spot, nearest_above, place_missing, room_after
from designer.model.graph import Node, NodeId
from tests.helpers import chain, graph


def _placed(g, positions):
    for nid, pos in positions.items():
        g[nid].pos = pos
    return g


def test_free_spot_is_right_of_everything_level_with_the_top_and_below_is_one_row_down():
    g = chain([1, 8, 8], ("ReLU", {}), ("ReLU", {}))
    assert free_spot(g) == (0.0, 0.0) and below(g, "n1") == (0.0, 0.0), "nothing placed yet"
    _placed(g, {"x": (0, 50), "n1": (300, 160), "n2": (0, 270)})
    assert free_spot(g) == (300 + COLUMN_STEP, 50)
    assert below(g, "n1") == (300, 160 + ROW_STEP) and below(g, None) == free_spot(g)


def test_room_after_moves_only_what_reads_the_node_and_lies_below_it():
    g = graph(
        ("x", "Input", {"shape": [1, 8, 8]}, []),
        ("a", "ReLU", {}, ["x"]),
        ("b", "ReLU", {}, ["a"]),
        ("c", "ReLU", {}, ["b"]),
        ("side", "ReLU", {}, ["x"]),
    )
    _placed(g, {"x": (0, 0), "a": (0, 110), "b": (0, 220), "c": (0, 330), "side": (250, 220)})
    assert room_after(g, "a", rows=2) == {"b": (0, 220 + 2 * ROW_STEP), "c": (0, 330 + 2 * ROW_STEP)}
    g["x"].pos = None
    assert room_after(g, "x") == {}


def test_nearest_above_takes_the_closest_feature_map_a_little_above():
    g = chain([1, 8, 8], ("ReLU", {}), ("Flatten", {}))
    _placed(g, {"x": (0, 0), "n1": (0, 110), "n2": (0, 220)})
    analysis = analyze(g)
    assert nearest_above(g, analysis, (10, 200)) == "n1"
    assert nearest_above(g, analysis, (10, 300)) == "n1", "n2 is a vector: a block reads maps"
    assert nearest_above(g, analysis, (10, 1000)) is None


def test_place_missing_places_only_the_unplaced_right_of_the_rest_and_depth_counts_rows():
    g = chain([1, 8, 8], ("ReLU", {}))
    _placed(g, {"x": (0, 0), "n1": (0, 110)})
    g.add_node(Node(NodeId("free"), "ReLU", {}, [NodeId("n1")]))
    g.add_node(Node(NodeId("after"), "ReLU", {}, [NodeId("free")]))
    place_missing(g)
    assert g["x"].pos == (0, 0) and g["n1"].pos == (0, 110)
    assert g["free"].pos == (COLUMN_STEP, 0) and g["after"].pos == (COLUMN_STEP, ROW_STEP)
    assert depth(list(g)) == 4
