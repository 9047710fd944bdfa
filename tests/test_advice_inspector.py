"""The inspector offers alternatives to the selected Conv2d and applies one by a click, as one undoable edit."""

from __future__ import annotations

from PySide6.QtCore import Qt

from designer.model import fileformat
from widgets import theme
from widgets.document.document import Document
from widgets.panels.inspector import Inspector

from .helpers import graph


def _shown(qtbot):
    g = graph(
        ("x", "Input", {"shape": [16, 16, 16]}, []),
        ("conv", "Conv2d", {"out_channels": 16, "kernel_size": 5, "padding": 2}, ["x"]),
        ("relu", "ReLU", {}, ["conv"]),
    )
    doc = Document(g)
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.set_document(doc)
    inspector.show_node("conv")
    return doc, inspector


def test_alternatives_are_listed_with_their_counts_and_applied_as_one_step(qtbot):
    doc, inspector = _shown(qtbot)
    box = inspector.alternatives
    assert box is not None
    names = [a.name for a in box.found]
    assert names == ["Stack of 3x3", "Depthwise-separable", "1x1 bottleneck"] and len(box.buttons) == 3
    before, shape = fileformat.dumps(doc.graph), doc.analysis.shape("conv")
    stack = box.found[0]
    qtbot.mouseClick(box.buttons[0], Qt.MouseButton.LeftButton)
    doc.flush()
    g = doc.graph
    assert [n.type for n in g] == ["Input", "Conv2d", "ReLU", "Conv2d", "ReLU"]
    assert g["relu"].inputs == ["conv"] and g["conv"].inputs == ["conv_2"] and g["conv_1"].inputs == ["x"]
    assert doc.analysis.shape("conv") == shape and doc.analysis.ok
    assert sum(doc.analysis.info[n].params for n in ("conv_1", "conv")) == stack.params
    assert doc.undo_stack.count() == 1
    after = fileformat.dumps(g)
    doc.undo_stack.undo()
    assert fileformat.dumps(doc.graph) == before
    doc.undo_stack.redo()
    assert fileformat.dumps(doc.graph) == after


def test_other_nodes_have_no_alternatives_box(qtbot):
    doc, inspector = _shown(qtbot)
    inspector.show_node("relu")
    assert inspector.alternatives is None


def test_advice_is_listed_as_a_warning_not_an_error(qtbot):
    doc = Document(
        graph(
            ("x", "Input", {"shape": [3, 8, 8]}, []),
            ("c", "Conv2d", {"out_channels": 4, "kernel_size": 3}, ["x"]),
            ("bn", "BatchNorm2d", {}, ["c"]),
        )
    )
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.set_document(doc)
    inspector.show_node("c")
    assert "learns 4 biases" in inspector.problems.text()
    sheet = inspector.problems.parentWidget().styleSheet()
    assert theme.WARNING_TEXT_HEX in sheet and theme.ERROR_HEX not in sheet
