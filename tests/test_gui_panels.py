"""The training and insight docks inside the designer window: created on first show, wired to the document."""

from __future__ import annotations

from PySide6.QtWidgets import QDockWidget

from widgets.panels.insight_dock import InsightDock
from widgets.panels.training_panel import TrainingPanel


def _show(window, title):
    window.show()
    dock = next(d for d in window.findChildren(QDockWidget) if d.windowTitle() == title)
    dock.show()
    dock.raise_()
    return dock


def test_docks_load_on_first_show_and_follow_the_canvas(make_window, example_file, qtbot):
    window = make_window(load_panels=True)
    assert window.files.open_file(example_file)
    training = _show(window, "Training")
    qtbot.waitUntil(lambda: isinstance(training.widget(), TrainingPanel), timeout=20_000)
    insight = _show(window, "Insight")
    qtbot.waitUntil(lambda: isinstance(insight.widget(), InsightDock), timeout=20_000)
    dock = insight.widget()
    assert dock.on_training_event in training.widget().event_listeners
    window.scene.select_node("conv1")
    assert dock.node_combo.currentData() == "conv1"
    qtbot.waitUntil(lambda: dock.result is not None, timeout=30_000)


def test_training_settings_are_an_undoable_edit(make_window, example_file, qtbot):
    window = make_window(load_panels=True)
    assert window.files.open_file(example_file)
    training = _show(window, "Training")
    qtbot.waitUntil(lambda: isinstance(training.widget(), TrainingPanel), timeout=20_000)
    panel, doc = training.widget(), window.document

    def run_and_stop() -> None:
        panel.start_button.click()
        panel.stop()
        # Each Start spawns a process that imports torch: seconds on an idle machine, far more on a loaded one.
        qtbot.waitUntil(lambda: not panel.is_running and panel.start_button.isEnabled(), timeout=180_000)

    run_and_stop()
    assert "training" not in doc.graph.extra and not doc.is_modified, "the design's own settings change nothing"
    panel.form.epochs.setValue(2)
    run_and_stop()
    assert doc.graph.extra["training"]["epochs"] == 2 and doc.is_modified
    doc.undo_stack.undo()
    assert "training" not in doc.graph.extra and not doc.is_modified


def test_at_1280x800_no_dock_scrolls_sideways_or_cuts_a_label(make_window, example_file, qtbot):
    from PySide6.QtWidgets import QAbstractButton, QAbstractScrollArea, QLabel

    window = make_window(load_panels=True)
    assert window.files.open_file(example_file)
    window.resize(1280, 800)
    window.show()
    problems = []
    for dock in window.findChildren(QDockWidget):
        _show(window, dock.windowTitle())
        qtbot.waitUntil(lambda d=dock: not isinstance(d.widget(), QLabel), timeout=20_000)
        qtbot.wait(50)
        for area in dock.findChildren(QAbstractScrollArea):
            if area.isVisible() and area.horizontalScrollBar().isVisible():
                problems.append(f"{dock.windowTitle()}: {type(area).__name__} scrolls sideways")
        for widget in dock.findChildren(QAbstractButton) + dock.findChildren(QLabel):
            wraps = isinstance(widget, QLabel) and widget.wordWrap()
            if widget.isVisible() and not wraps and widget.sizeHint().width() > widget.width() + 1:
                problems.append(f"{dock.windowTitle()}: {widget.text()!r} is cut")
    assert problems == []
