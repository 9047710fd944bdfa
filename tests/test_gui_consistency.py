"""Every view shows the current design: random edits through the real window, each followed by a fresh analysis of
the saved file, which the canvas, inspector, Summary, Problems and status bar must all agree with."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox

from designer import analyze, dumps, loads
from designer.editing.node_text import fmt_outputs, fmt_shape
from widgets.canvas.node_item import ERROR
from widgets.canvas.view import PALETTE_MIME
from widgets.main_window import MainWindow

from .conftest import EXAMPLE

Action = Callable[[MainWindow, int], None]


def _pick(items: list[str], r: int) -> str | None:
    return items[r % len(items)] if items else None


def _select(window: MainWindow, r: int) -> str | None:
    node_id = _pick(window.document.graph.ids(), r)
    if node_id is not None:
        window.scene.select_node(node_id)
    return node_id


def palette_add(window: MainWindow, r: int) -> None:
    _select(window, r)
    items = window.layer_palette.entry_items()
    window.layer_palette.tree.itemDoubleClicked.emit(items[(r // 7) % len(items)], 0)


def drop(window: MainWindow, r: int) -> None:
    """Drag a palette entry onto a node (wired after it) or onto empty canvas."""
    keys = window.layer_palette.visible_keys()
    mime = QMimeData()
    mime.setData(PALETTE_MIME, keys[(r // 3) % len(keys)].encode("utf-8"))
    node_id = _pick(window.document.graph.ids(), r) if r % 2 else None
    view = window.view
    if node_id is not None and node_id in window.scene.nodes:
        point = view.mapFromScene(window.scene.nodes[node_id].sceneBoundingRect().center())
    else:
        point = QPoint(5, 5)
    event = QDropEvent(
        QPointF(point), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    view.dropEvent(event)


def edit_parameter(window: MainWindow, r: int) -> None:
    """Change one parameter in the inspector, as typing into its editor would."""
    if _select(window, r) is None or not window.inspector.editors:
        return
    editors = sorted(window.inspector.editors.items())
    _, editor = editors[(r // 5) % len(editors)]
    box = getattr(editor, "box", None)
    if isinstance(box, QSpinBox):
        box.setValue(1 + (r // 11) % 9)
    elif isinstance(box, QDoubleSpinBox):
        box.setValue(((r // 11) % 10) / 10)
    elif isinstance(box, QCheckBox):
        box.toggle()
    elif isinstance(box, QComboBox) and box.count():
        box.setCurrentIndex((r // 11) % box.count())


def rename(window: MainWindow, r: int) -> None:
    if _select(window, r) is None:
        return
    window.inspector.id_edit.setText(f"renamed{r % 97}")
    window.inspector.id_edit.editingFinished.emit()


def delete(window: MainWindow, r: int) -> None:
    if _select(window, r) is not None:
        window.menu_actions.delete.trigger()


def copy_paste(window: MainWindow, r: int) -> None:
    if _select(window, r) is not None:
        window.menu_actions.copy.trigger()
        window.menu_actions.paste.trigger()


def duplicate(window: MainWindow, r: int) -> None:
    if _select(window, r) is not None:
        window.menu_actions.duplicate.trigger()


def undo(window: MainWindow, r: int) -> None:
    window.menu_actions.undo.trigger()


def redo(window: MainWindow, r: int) -> None:
    window.menu_actions.redo.trigger()


def insert_template(window: MainWindow, r: int) -> None:
    window.files.apply_template(("lenet5_28", "small_cnn", "fashion_mnist_gap")[r % 3], insert=True)


def auto_layout(window: MainWindow, r: int) -> None:
    window.menu_actions.auto_layout.trigger()


ACTIONS: list[Action] = [
    palette_add,
    drop,
    edit_parameter,
    rename,
    delete,
    copy_paste,
    duplicate,
    undo,
    redo,
    insert_template,
    auto_layout,
]


def _problems_shown(window: MainWindow) -> list[tuple[str, str]]:
    tree = window.problems.tree
    return [(tree.topLevelItem(i).text(1), tree.topLevelItem(i).text(2)) for i in range(tree.topLevelItemCount())]


def assert_views_equal_a_fresh_analysis(window: MainWindow) -> None:
    graph = window.document.graph
    fresh = analyze(loads(dumps(graph)))
    assert _problems_shown(window) == [(d.node_id or "(design)", d.message) for d in fresh.diagnostics]
    assert ("error" in window.status_valid.text()) == bool(fresh.errors)
    assert set(window.scene.nodes) == set(graph.ids())
    in_error = {n for n, item in window.scene.nodes.items() if item.content.state == ERROR}
    assert in_error == {d.node_id for d in fresh.errors if d.node_id in graph}
    for node_id, item in window.scene.nodes.items():
        shape = fresh.shape(node_id)
        if shape is not None:
            assert item.content.shape == "→ " + fmt_outputs(fresh.info[node_id].ports or (shape,)), node_id
    assert [info.node.id for info in window.summary.model.rows] == [
        n for n in (*fresh.order, *fresh.info) if n in fresh.info
    ][: len(window.summary.model.rows)]
    assert len(window.summary.model.rows) == len(fresh.info)
    model = window.summary.model  # the texts shown: a parameter edit updates only the rows it changed
    shown = [(model.data(model.index(r, 2)), model.data(model.index(r, 3))) for r in range(model.rowCount())]
    assert shown == [
        (model.cell(fresh.info[info.node.id], 2), model.cell(fresh.info[info.node.id], 3)) for info in model.rows
    ]
    selected = window.inspector.node_id
    if selected is not None and selected in graph and fresh.shape(selected) is not None:
        assert fmt_shape(fresh.shape(selected)) in window.inspector.facts.text()


@pytest.fixture
def window_for_all_examples(make_window) -> MainWindow:
    """One window, made once per test run: hypothesis runs every example inside the same test call."""
    return make_window()


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 10**6)), min_size=1, max_size=14))
def test_random_edits_leave_every_view_equal_to_a_fresh_analysis(window_for_all_examples, qtbot, steps):
    window = window_for_all_examples
    window.files.show_graph(loads(EXAMPLE))
    qtbot.wait(1)
    for action, r in steps:
        action(window, r)
        qtbot.wait(1)  # one event-loop pass: the debounced analysis runs and the views hear of it
        assert_views_equal_a_fresh_analysis(window)
