"""The main window end to end: palette, inspector, summary and problems, files, templates, autosave, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QSpinBox

from designer.editing.templates import list_templates
from designer.model import fileformat
from widgets.main_window import MainWindow
from widgets.panels import dialogs as dlg
from widgets.panels.param_editors import IntsEditor, ListEditor

from .helpers import graph


@pytest.fixture
def window(make_window, example_file) -> MainWindow:
    w = make_window()
    assert w.files.open_file(example_file)
    return w


def test_palette_double_click_adds_after_the_selected_node_wired(window, qtbot):
    window.scene.select_node("conv1")
    item = window.layer_palette.item_for("layer:BatchNorm2d")
    window.layer_palette.tree.itemDoubleClicked.emit(item, 0)
    doc = window.document
    new = doc.graph.ids()[-1]
    assert doc.graph[new].inputs == ["conv1"] and doc.graph["relu1"].inputs == [new]
    assert window.scene.selected_node_ids() == [new], "the new node is selected, so a second double-click chains"


def test_palette_lists_every_layer_and_block_grouped_with_search_and_descriptions(window):
    from designer.blocks import list_blocks
    from designer.layers.registry import list_specs

    keys = window.layer_palette.visible_keys()
    assert {f"layer:{s.name}" for s in list_specs()} | {f"block:{b.name}" for b in list_blocks()} == set(keys)
    assert window.layer_palette.item_for("layer:Conv2d").toolTip(0)
    window.layer_palette.search.setText("pool")
    assert set(window.layer_palette.visible_keys()) >= {"layer:MaxPool2d", "layer:AvgPool2d"}
    assert "layer:ReLU" not in window.layer_palette.visible_keys()


def test_inspector_edit_updates_summary_and_problems_and_undoes(window, qtbot):
    window.scene.select_node("input")
    editor = window.inspector.editors["shape"]
    assert isinstance(editor, ListEditor)
    editor.edit.setText("1, 2, 2")
    editor.edit.editingFinished.emit()
    window.document.flush()
    assert window.document.graph["input"].params["shape"] == [1, 2, 2]
    codes = [
        window.problems.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
        for i in range(window.problems.tree.topLevelItemCount())
    ]
    assert "conv1" in codes
    assert "error" in window.status_valid.text()
    window.menu_actions.undo.trigger()
    window.document.flush()
    rows = [window.problems.tree.topLevelItem(i) for i in range(window.problems.tree.topLevelItemCount())]
    assert [r.text(1) for r in rows] == ["fc"] and "[advice.head_params]" in rows[0].toolTip(2)  # the design advice
    assert "valid" in window.status_valid.text()


def test_spin_box_edit_changes_the_parameter_count_in_the_summary(window, qtbot):
    window.scene.select_node("conv1")
    box = window.inspector.editors["out_channels"].box
    assert isinstance(box, QSpinBox)
    totals_before = window.summary.totals.text()
    box.setValue(8)
    window.document.flush()
    row = next(r for r in window.summary.model.rows if r.node.id == "conv1")
    assert row.params == 8 * 9 + 8
    assert window.summary.totals.text() != totals_before
    assert f"{window.document.analysis.total_params:,}" in window.summary.totals.text()
    assert window.document.undo_stack.count() == 1


def test_pair_editor_writes_one_number_when_both_halves_agree(window):
    window.scene.select_node("pool1")
    editor = window.inspector.editors["kernel_size"]
    assert isinstance(editor, IntsEditor)
    editor.boxes[1].setValue(3)
    assert window.document.graph["pool1"].params["kernel_size"] == [2, 3]
    editor.boxes[0].setValue(3)
    assert window.document.graph["pool1"].params["kernel_size"] == 3


def test_summary_and_problem_clicks_select_and_centre_the_node(window):
    index = window.summary.model.index(3, 0)
    window.summary.table.clicked.emit(index)
    chosen = window.summary.model.rows[3].node.id
    assert window.scene.selected_node_ids() == [chosen]
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert (centre - window.scene.nodes[chosen].pos()).manhattanLength() < 5
    window.document.remove_nodes(["flat"])
    window.document.flush()
    item = window.problems.tree.topLevelItem(0)
    window.problems.tree.itemClicked.emit(item, 2)
    assert window.scene.selected_node_ids() == [item.data(0, Qt.ItemDataRole.UserRole)]
    assert window.problems_dock.windowTitle().startswith("Problems (")


def test_clipboard_duplicate_select_all_and_delete_actions(window):
    doc = window.document
    window.scene.select_node("relu1")
    window.menu_actions.copy.trigger()
    window.menu_actions.paste.trigger()
    assert "relu1_2" in doc.graph and window.scene.selected_node_ids() == ["relu1_2"]
    window.scene.select_node("relu1")
    window.menu_actions.duplicate.trigger()
    (dup,) = window.scene.selected_node_ids()
    assert dup != "relu1" and doc.graph[dup].inputs == ["conv1"], "a duplicate keeps its inputs"
    window.menu_actions.select_all.trigger()
    assert len(window.scene.selected_node_ids()) == len(doc.graph)
    window.scene.select_node(dup)
    window.menu_actions.cut.trigger()
    assert dup not in doc.graph
    window.scene.select_node("relu1")
    edge = window.scene.edges_into("pool1")[0]
    edge.setSelected(True)
    window.menu_actions.delete.trigger()
    assert "relu1" not in doc.graph and doc.graph["pool1"].inputs == []


def test_standard_shortcuts(window):
    a = window.menu_actions
    for action, key in (
        (a.undo, QKeySequence.StandardKey.Undo),
        (a.redo, QKeySequence.StandardKey.Redo),
        (a.save, QKeySequence.StandardKey.Save),
        (a.open, QKeySequence.StandardKey.Open),
        (a.copy, QKeySequence.StandardKey.Copy),
        (a.paste, QKeySequence.StandardKey.Paste),
        (a.select_all, QKeySequence.StandardKey.SelectAll),
    ):
        assert action.shortcut() == QKeySequence.keyBindings(key)[0]


def test_save_reopen_gives_the_same_bytes_and_marks_clean(window, tmp_path):
    doc = window.document
    doc.add_node("Dropout", after="flat")
    assert window.isWindowModified() and "unsaved" in window.status_saved.text()
    window.files.save()
    assert not window.isWindowModified()
    saved = Path(doc.path).read_text(encoding="utf-8")
    assert saved == fileformat.dumps(doc.graph)
    assert window.files.open_file(doc.path)
    assert fileformat.dumps(window.document.graph) == saved
    assert window.files.recent_files()[0] == window.document.path


def test_save_as_untitled_asks_for_a_path(make_window, tmp_path):
    w = make_window()
    w.dialogs.paths = [str(tmp_path / "mine")]
    assert w.files.save()
    assert (tmp_path / "mine.json").exists() and w.document.path.endswith("mine.json")


def test_unsaved_changes_are_asked_about_on_open_and_close(window, tmp_path, example_file):
    window.document.add_node("ReLU")
    window.dialogs.save_answer = dlg.CANCEL
    assert not window.files.open_file(example_file)
    assert window.dialogs.asked and "ReLU" in {n.type for n in window.document.graph}
    assert not window.close(), "cancel keeps the window open"
    window.dialogs.save_answer = dlg.SAVE
    assert window.close()
    assert fileformat.load(example_file).ids()[-1].startswith("relu"), "the answer 'save' wrote the file"


def test_unreadable_file_opens_nothing_and_says_why(window, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "cnn-designer/9", "nodes": []}', encoding="utf-8")
    before = window.document
    assert not window.files.open_file(bad)
    assert window.document is before
    assert "newer" in window.dialogs.errors[0]


@pytest.mark.slow
def test_every_template_opens_without_diagnostics(make_window):
    w = make_window()
    for info in list_templates():
        assert w.files.apply_template(info.name)
        problems = [d for d in w.document.analysis.diagnostics if not d.code.startswith("advice.")]
        assert problems == [], (info.name, problems[:3])  # advice: test_advice_templates.py
        assert all(n.pos is not None for n in w.document.graph)


def test_template_browser_choice_inserts_as_one_undo_step(window):
    window.dialogs.template = ("small_cnn", True)
    count = len(window.document.graph)
    assert window.files.open_template()
    assert len(window.document.graph) > count and window.document.undo_stack.count() == 1
    window.menu_actions.undo.trigger()
    assert len(window.document.graph) == count


def test_template_browser_shows_description_parameters_and_mult_adds(qtbot):
    from widgets.panels.template_browser import TemplateBrowser

    browser = TemplateBrowser()
    qtbot.addWidget(browser)
    browser.select("resnet18")
    text = browser.details.toPlainText()
    assert "11,689,512" in text and "mult-adds" in text


def test_autosave_writes_a_copy_that_the_next_start_offers_to_recover(make_window, tmp_path, example_file):
    w = make_window(autosave_interval_ms=60_000)
    w.files.open_file(example_file)
    w.document.add_node("Dropout", after="flat")
    assert w.files.autosave.save_now()
    copy = w.files.autosave.project_path
    assert copy.parent == tmp_path / "autosave" and copy.exists()
    crashed = copy.with_name("session-999999-deadbeef.json")  # as if that session had died without closing
    copy.rename(crashed)
    copy.with_suffix(".meta").rename(crashed.with_suffix(".meta"))
    w2 = make_window()
    assert w2.files.offer_recovery()
    assert w2.document.is_modified and w2.document.path == str(example_file)
    assert "Dropout" in {n.type for n in w2.document.graph}
    assert not crashed.exists()


def test_a_clean_save_and_close_leave_no_autosave(make_window, example_file):
    w = make_window()
    w.files.open_file(example_file)
    w.document.add_node("ReLU")
    w.files.autosave.save_now()
    assert w.files.autosave.project_path.exists()
    w.files.save()
    assert not w.files.autosave.project_path.exists()
    w.document.add_node("ReLU")
    w.files.autosave.save_now()
    w.dialogs.save_answer = dlg.DISCARD
    assert w.close()
    assert not list((w.files.autosave.directory).glob("session-*.json"))


def test_layout_and_recent_files_persist_in_the_given_settings(make_window, tmp_path, example_file):
    settings_path = tmp_path / "persist.ini"
    w = make_window(settings=QSettings(str(settings_path), QSettings.Format.IniFormat))
    w.files.open_file(example_file)
    w.summary_dock.hide()
    w.close()
    w2 = make_window(settings=QSettings(str(settings_path), QSettings.Format.IniFormat))
    assert w2.files.recent_files() == [str(example_file)]
    assert w2.summary_dock.isHidden()


def test_group_selection_then_collapse_and_expand_from_the_menu(window):
    window.scene.select_node("conv1")
    window.scene.nodes["relu1"].setSelected(True)
    window.dialogs.paths = ["stem"]
    window.menu_actions.group.trigger()
    assert {"stem.conv1", "stem.relu1"} <= set(window.document.graph.ids())
    window.scene.select_node("stem.conv1")
    window.menu_actions.collapse.trigger()
    assert "stem" in window.scene.groups and window.scene.groups["stem"].isSelected()
    window.menu_actions.expand.trigger()
    assert "stem" not in window.scene.groups
    window.menu_actions.undo.trigger()
    assert "conv1" in window.document.graph


@pytest.mark.slow
def test_export_runs_off_the_ui_thread_and_reports(window, tmp_path, qtbot):
    target = tmp_path / "model.py"
    window.dialogs.paths = [str(target)]
    from widgets.document.export_runner import EXPORT_KINDS

    kind = next(k for k in EXPORT_KINDS if k.key == "python")
    with qtbot.waitSignal(window.files.exports.finished, timeout=60_000):
        assert window.files.export(kind)
    assert target.exists() and "Exported" in window.statusBar().currentMessage()
    QApplication.processEvents()


@pytest.mark.slow
def test_an_export_the_format_refuses_is_reported_from_the_worker_naming_the_node(make_window, tmp_path, qtbot):
    """The export runs in another process; its refusal still arrives as the window's message, node included."""
    from widgets.document.export_runner import EXPORT_KINDS

    window = make_window()
    window.files.show_graph(
        graph(
            ("x", "Input", {"shape": [2, 7, 7]}, []),
            ("pool", "AdaptiveMaxPool2d", {"output_size": 3}, ["x"]),
        )
    )
    window.dialogs.paths = [str(tmp_path / "m.onnx")]
    kind = next(k for k in EXPORT_KINDS if k.key == "onnx")
    with qtbot.waitSignal(window.files.exports.failed, timeout=120_000) as failed:
        assert window.files.export(kind)
    what, message = failed.args
    assert what == "ONNX" and "pool" in message and "ONNX" in message
    assert not (tmp_path / "m.onnx").exists()


def test_the_export_menu_offers_onnx_with_boxes_and_hands_the_worker_its_option(window, tmp_path, monkeypatch):
    from designer.export import ExportError
    from widgets.document.export_runner import export_in_worker

    started = []
    monkeypatch.setattr(window.files.exports, "start", lambda kind, graph, path: started.append((kind, path)) or True)
    window.dialogs.paths = [str(tmp_path / "boxes.onnx")]
    action = next(a for a in window.menu_actions.export_menu.actions() if "NMS" in a.text())
    action.trigger()
    [(kind, path)] = started
    assert (kind.key, kind.with_nms, path) == ("onnx", True, str(tmp_path / "boxes.onnx"))
    # what the worker process runs, here in this one: the example design trains for classification
    with pytest.raises(ExportError) as err:
        export_in_worker(fileformat.dumps(window.document.graph), path, kind.key, kind.with_nms)
    assert [d.code for d in err.value.diagnostics] == ["export.not_detection"]


def test_lazy_panels_are_made_when_first_shown(make_window):
    from PySide6.QtWidgets import QLabel

    w = make_window()
    w.show()
    made = []
    dock = w.add_lazy_panel("Extra", lambda: made.append(1) or QLabel("extra"))
    w.inspector_dock.raise_()
    QApplication.processEvents()
    assert made == [] and dock.toggleViewAction() in w.menu_actions.panels_menu.actions()
    dock.raise_()
    QApplication.processEvents()
    assert made == [1] and dock.widget().text() == "extra"


def test_an_edit_from_the_palette_refreshes_every_view_without_a_further_edit(window, qtbot):
    """The stale 'valid' of issue 12: the inspector re-analysed on the selection change, and the debounced flush then
    believed nothing was pending, so Problems and the status bar kept the old analysis."""
    window.scene.select_node("flat")
    item = window.layer_palette.item_for("layer:Conv2d")
    window.layer_palette.tree.itemDoubleClicked.emit(item, 0)
    new = window.document.graph.ids()[-1]

    def nodes():
        return {window.problems.tree.topLevelItem(i).text(1) for i in range(window.problems.tree.topLevelItemCount())}

    qtbot.waitUntil(lambda: new in nodes(), timeout=2000)  # the example's design advice is listed from the start
    assert "error" in window.status_valid.text()
    assert window.scene.nodes[new].content.state == "error"


def test_a_big_design_opens_as_an_overview_and_collapse_expand_all_refit(make_window):
    window = make_window()
    window.resize(1280, 800)
    window.show()
    assert window.files.apply_template("resnet50")
    scene, view = window.scene, window.view
    assert scene.collapsed == {"layer1", "layer2", "layer3", "layer4"}
    assert set(scene.groups) == scene.collapsed and not scene.nodes["layer1.0.conv1"].isVisible()
    overview_zoom = view.zoom
    window.menu_actions.expand_all.trigger()
    assert not scene.collapsed and scene.nodes["layer1.0.conv1"].isVisible()
    assert view.zoom < overview_zoom, "expanded, the whole design is taller and Expand All fits it again"
    window.menu_actions.collapse_all.trigger()
    assert view.zoom == pytest.approx(overview_zoom)
    assert window.files.apply_template("small_cnn") and not scene.collapsed, "a small design opens expanded"
