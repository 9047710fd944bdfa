"""Declaring the design's outputs from the canvas's context menu, as a person would: right-click a node, tick
"Design Output" (or a Split's part), and the model's ``outputs``, the box's output tag, the diagnostics and the undo
stack follow."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMenu

from tests.helpers import graph


@pytest.fixture
def window(make_window):
    return make_window()


def _menu_entries(window) -> dict[str, object]:
    """The checkable entries of the context menu for the current selection, by label (a submenu's included)."""
    found = {}
    pending = [window.menu_actions.context_menu()]
    while pending:
        menu = pending.pop()
        for action in menu.actions():
            if isinstance(action.menu(), QMenu):
                pending.append(action.menu())
            elif action.isCheckable() and action.text().startswith(("Design Output", "Part ")):
                found[action.text()] = action
    return found


def _is_tagged(window, node_id: str) -> bool:
    return window.scene.nodes[node_id].content.is_output


def test_ticking_design_output_declares_the_node_and_unticking_returns_to_the_default(window):
    window.files.show_graph(
        graph(
            ("x", "Input", {"shape": [1, 8, 8]}, []),
            ("conv", "Conv2d", {"out_channels": 2, "kernel_size": 3}, ["x"]),
            ("relu", "ReLU", {}, ["conv"]),
        )
    )
    doc = window.document
    window.scene.select_node("conv")
    (entry,) = _menu_entries(window).values()
    assert entry.text() == "Design Output" and not entry.isChecked()
    entry.trigger()
    doc.flush()
    assert doc.graph.outputs == ["relu", "conv"] and _is_tagged(window, "conv") and _is_tagged(window, "relu")
    assert doc.undo_stack.undoText() == "Mark conv as an output"
    assert doc.analysis.shape("conv") == (2, 6, 6) and doc.analysis.ok
    (entry,) = _menu_entries(window).values()
    assert entry.isChecked()
    entry.trigger()
    doc.flush()
    assert doc.graph.outputs is None, "what is left is the default: no declaration kept"
    assert not _is_tagged(window, "conv") and _is_tagged(window, "relu")
    doc.undo_stack.undo()
    doc.flush()
    assert doc.graph.outputs == ["relu", "conv"] and _is_tagged(window, "conv")
    doc.undo_stack.undo()
    assert doc.graph.outputs is None


def test_unticking_the_only_output_drops_the_declaration_rather_than_leaving_none(window):
    window.files.show_graph(graph(("x", "Input", {"shape": [4]}, []), ("fc", "Linear", {"out_features": 2}, ["x"])))
    window.scene.select_node("fc")
    (entry,) = _menu_entries(window).values()
    assert entry.isChecked()
    count = window.document.undo_stack.count()
    entry.trigger()
    assert window.document.graph.outputs is None and window.document.undo_stack.count() == count


def test_a_split_offers_each_part_and_declaring_the_unread_one_settles_its_warning(window):
    window.files.show_graph(
        graph(
            ("x", "Input", {"shape": [8, 4, 4]}, []),
            ("s", "Split", {"sections": [2, 6]}, ["x"]),
            ("a", "ReLU", {}, ["s"]),
        )
    )
    doc = window.document
    assert [d.code for d in doc.analysis.for_node("s")] == ["graph.unused_part"]
    window.scene.select_node("s")
    entries = _menu_entries(window)
    assert list(entries) == ["Part 0 (2×4×4)", "Part 1 (6×4×4)"]
    assert not any(e.isChecked() for e in entries.values()), "part 0 is read by a, part 1 by nothing"
    entries["Part 1 (6×4×4)"].trigger()
    doc.flush()
    assert doc.graph.outputs == ["a", "s:1"] and doc.analysis.for_node("s") == []
    assert _is_tagged(window, "s")
    assert _menu_entries(window)["Part 1 (6×4×4)"].isChecked()


def test_no_output_entry_for_several_selected_nodes(window):
    window.files.show_graph(
        graph(("x", "Input", {"shape": [4]}, []), ("a", "ReLU", {}, ["x"]), ("b", "ReLU", {}, ["a"]))
    )
    for nid in ("a", "b"):
        window.scene.nodes[nid].setSelected(True)
    assert _menu_entries(window) == {}
