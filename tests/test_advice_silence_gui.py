"""Silencing advice from the Problems dock of the real window: one undoable edit of the node's ``silence`` field,
listed under "Show silenced" and taken back from there."""

from __future__ import annotations

from PySide6.QtCore import Qt

from designer.analysis.advice import advise
from designer.analysis.validate import analyze
from designer.model import fileformat
from widgets.panels.problems_dock import SILENCED

from .helpers import graph


def _design():
    return graph(
        ("x", "Input", {"shape": [3, 8, 8]}, []),
        ("c", "Conv2d", {"out_channels": 4, "kernel_size": 3}, ["x"]),
        ("bn", "BatchNorm2d", {}, ["c"]),
        ("relu", "ReLU", {}, ["bn"]),
    )


def _rows(dock):
    return [dock.tree.topLevelItem(i) for i in range(dock.tree.topLevelItemCount())]


def _click_row(qtbot, dock, item):
    rect = dock.tree.visualItemRect(item)
    qtbot.mouseClick(dock.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert dock.tree.currentItem() is item


def _advice(doc):
    return {(d.code, d.node_id) for d in doc.analysis.diagnostics}


def test_silence_an_advice_row_then_take_it_back(make_window, qtbot):
    window = make_window()
    window.show()
    doc = window.files.show_graph(_design())
    dock, before = window.problems, fileformat.dumps(doc.graph)
    assert ("advice.bias_before_bn", "c") in _advice(doc)
    assert dock.silence_action in dock.tree.actions()  # the row's right-click menu
    row = next(r for r in _rows(dock) if r.text(1) == "c" and "bias" in r.text(2))
    _click_row(qtbot, dock, row)
    assert dock.silence_action.isEnabled() and not dock.unsilence_action.isEnabled()
    qtbot.mouseClick(dock.silence_button, Qt.MouseButton.LeftButton)
    doc.flush()
    assert doc.graph["c"].extra["silence"] == ["advice.bias_before_bn"] and doc.undo_stack.count() == 1
    assert ("advice.bias_before_bn", "c") not in _advice(doc)
    assert not any(r.text(1) == "c" for r in _rows(dock))
    silenced = fileformat.dumps(doc.graph)
    # the saved file is what the core silences: validating it from the file gives no such advice
    reread = fileformat.loads(silenced)
    assert not [d for d in advise(reread, analyze(reread).info) if d.code == "advice.bias_before_bn"]
    doc.undo_stack.undo()
    doc.flush()
    assert fileformat.dumps(doc.graph) == before and ("advice.bias_before_bn", "c") in _advice(doc)
    doc.undo_stack.redo()
    doc.flush()
    assert fileformat.dumps(doc.graph) == silenced

    assert dock.show_silenced.text() == "Show silenced (1)"
    qtbot.mouseClick(dock.show_silenced, Qt.MouseButton.LeftButton)
    row = next(r for r in _rows(dock) if r.text(0) == SILENCED)
    assert (row.text(1), row.text(2).split(":")[0]) == ("c", "advice.bias_before_bn")
    _click_row(qtbot, dock, row)
    assert dock.unsilence_action.isEnabled() and not dock.silence_action.isEnabled()
    qtbot.mouseClick(dock.unsilence_button, Qt.MouseButton.LeftButton)
    doc.flush()
    assert "silence" not in doc.graph["c"].extra and doc.undo_stack.count() == 2
    assert ("advice.bias_before_bn", "c") in _advice(doc)
    assert fileformat.dumps(doc.graph) == before


def test_errors_cannot_be_silenced(make_window, qtbot):
    window = make_window()
    window.show()
    g = _design()
    g["c"].params["kernel_size"] = 30  # larger than the input: an error, not advice
    doc = window.files.show_graph(g)
    dock = window.problems
    row = next(r for r in _rows(dock) if r.text(0).endswith("error"))
    _click_row(qtbot, dock, row)
    assert not dock.silence_action.isEnabled()
    qtbot.mouseClick(dock.silence_button, Qt.MouseButton.LeftButton)
    assert doc.undo_stack.count() == 0
