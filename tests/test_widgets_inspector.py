"""The inspector: editors built from the Param schema, immediate undoable edits, facts and formulas."""

from __future__ import annotations

import html

import pytest
from PySide6.QtWidgets import QComboBox, QSpinBox

from designer.layers.registry import list_specs
from designer.model import fileformat
from designer.model.graph import Graph
from designer.model.params import MAX_SIZE
from widgets import theme
from widgets.document.document import Document
from widgets.panels.inspector import Inspector
from widgets.panels.param_editors import ChoiceEditor, IntEditor, IntsEditor, OptionalEditor, PaddingEditor


@pytest.fixture
def shown(qtbot, example_text):
    doc = Document(fileformat.loads(example_text))
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.set_document(doc)
    return doc, inspector


def test_every_layer_type_gets_a_form_from_its_schema(qtbot):
    doc = Document(Graph("t"))
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.set_document(doc)
    x = doc.add_node("Input", params={"shape": [4, 8, 8]})
    for spec in list_specs():
        nid = doc.add_node(spec.name, after=x) if spec.name != "Input" else x
        inspector.show_node(nid)
        editable = {p.name for p in spec.params if not p.inferred}
        assert set(inspector.editors) == editable, spec.name


def test_editors_follow_the_schema_bounds_and_kinds(shown):
    doc, inspector = shown
    inspector.show_node("conv1")
    out = inspector.editors["out_channels"]
    assert isinstance(out, IntEditor) and (out.box.minimum(), out.box.maximum()) == (1, MAX_SIZE)
    assert isinstance(inspector.editors["kernel_size"], IntsEditor)
    assert isinstance(inspector.editors["padding"], PaddingEditor)
    assert inspector.editors["padding"].pair.boxes[0].minimum() == 0
    mode = inspector.editors["padding_mode"]
    assert isinstance(mode, ChoiceEditor) and mode.box.count() == 4
    assert inspector.inferred_labels["in_channels"].text().startswith("1 "), "the example's input has one channel"
    inspector.show_node("pool1")
    assert isinstance(inspector.editors["stride"], OptionalEditor)


def test_a_choice_edit_applies_at_once_and_undoes(shown):
    doc, inspector = shown
    inspector.show_node("conv1")
    combo: QComboBox = inspector.editors["padding_mode"].box
    combo.setCurrentIndex(1)
    combo.activated.emit(1)
    assert doc.graph["conv1"].params["padding_mode"] == "reflect"
    doc.undo_stack.undo()
    assert "padding_mode" not in doc.graph["conv1"].params
    doc.flush()
    assert combo.currentText() == "zeros", "the editor shows the model after undo"


def test_padding_modes_and_optional_stride(shown):
    doc, inspector = shown
    inspector.show_node("conv1")
    padding = inspector.editors["padding"]
    padding.mode.setCurrentIndex(1)
    padding.mode.activated.emit(1)
    assert doc.graph["conv1"].params["padding"] == "same"
    inspector.show_node("pool1")
    stride = inspector.editors["stride"]
    assert not stride.auto.isChecked()
    stride.auto.setChecked(True)
    assert "stride" not in doc.graph["pool1"].params or doc.graph["pool1"].params["stride"] is None


def test_training_fields_and_rename_are_undoable_edits(shown):
    doc, inspector = shown
    inspector.show_node("conv1")
    inspector.frozen_box.setChecked(True)
    assert doc.graph["conv1"].frozen
    inspector.lr_editor.auto.setChecked(False)
    inspector.lr_editor.inner.box.setValue(0.1)
    assert doc.graph["conv1"].lr_mult == pytest.approx(0.1)
    inspector.id_edit.setText("stem")
    inspector.id_edit.editingFinished.emit()
    assert "stem" in doc.graph and inspector.node_id == "stem"
    inspector.id_edit.setText("relu1")
    inspector.id_edit.editingFinished.emit()
    assert "stem" in doc.graph and "border" in inspector.id_edit.styleSheet()
    doc.undo_stack.setIndex(0)
    assert not doc.graph["conv1"].frozen and doc.graph["conv1"].lr_mult is None


def test_facts_formulas_and_problems_follow_the_analysis(shown):
    doc, inspector = shown
    inspector.show_node("conv1")
    info = doc.analysis.info["conv1"]
    assert f"{info.params:,}" in inspector.facts.text() and f"{info.mult_adds:,}" in inspector.facts.text()
    assert inspector.formulas.text() == "\n".join(info.explain())
    assert inspector.problems.text() == "none"
    spin: QSpinBox = inspector.editors["kernel_size"].boxes[0]
    spin.setValue(40)
    doc.flush()
    problems = doc.analysis.for_node("conv1")
    assert problems and html.escape(problems[0].message) in inspector.problems.text()


def test_a_bad_file_value_is_shown_red_not_crashing(qtbot):
    g = fileformat.loads(
        '{"format": "cnn-designer/2", "name": "t", "nodes": [{"id": "x", "type": "Input", '
        '"params": {"shape": [3, 8, 8]}}, {"id": "c", "type": "Conv2d", "params": '
        '{"out_channels": "many", "kernel_size": 3}, "inputs": ["x"]}]}'
    )
    doc = Document(g)
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.set_document(doc)
    inspector.show_node("c")
    assert theme.ERROR_HEX in inspector.editors["out_channels"].styleSheet()
    assert "out_channels" in inspector.problems.text()
