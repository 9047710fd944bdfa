"""The canvas driven like a person would: drops from the palette, port-to-port drags, moves, keys, zoom, groups."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from designer.model import fileformat
from tests.helpers import graph
from widgets import theme
from widgets.canvas.edge_item import EdgeItem
from widgets.canvas.group_item import GroupItem
from widgets.canvas.node_item import ERROR, covered
from widgets.canvas.scene import GraphScene
from widgets.canvas.view import GraphView
from widgets.document.document import Document
from widgets.panels.palette import Palette

LEFT = Qt.MouseButton.LeftButton
NO_MODS = Qt.KeyboardModifier.NoModifier


class Canvas:
    """A scene and view over one document, shown offscreen."""

    def __init__(self, qtbot, doc: Document):
        self.doc = doc
        self.scene = GraphScene()
        self.view = GraphView(self.scene)
        self.view.resize(900, 700)
        qtbot.addWidget(self.view)
        self.view.show()
        qtbot.waitExposed(self.view)
        self.scene.set_document(doc)
        self.qtbot = qtbot

    def point(self, scene_pos: QPointF) -> QPointF:
        return QPointF(self.view.mapFromScene(scene_pos))

    def mouse(self, kind: QEvent.Type, scene_pos: QPointF, button=LEFT, buttons=LEFT, mods=NO_MODS) -> None:
        local = self.point(scene_pos)
        event = QMouseEvent(
            kind, local, QPointF(self.view.viewport().mapToGlobal(local.toPoint())), button, buttons, mods
        )
        QApplication.sendEvent(self.view.viewport(), event)

    def drag(self, start: QPointF, end: QPointF, button=LEFT, mods=NO_MODS) -> None:
        self.mouse(QEvent.Type.MouseButtonPress, start, button, button, mods)
        for k in range(1, 6):
            self.mouse(QEvent.Type.MouseMove, start + (end - start) * (k / 5), Qt.MouseButton.NoButton, button, mods)
        self.mouse(QEvent.Type.MouseButtonRelease, end, button, Qt.MouseButton.NoButton, mods)

    def flush(self) -> None:
        self.doc.flush()

    def close(self) -> None:
        """Drop the items while everything is alive: a scene left to the garbage collector may destroy Python items
        in an arbitrary order."""
        self.scene.clear_document()
        self.view.setScene(None)


@pytest.fixture
def canvas(qtbot, example_text):
    made = Canvas(qtbot, Document(fileformat.loads(example_text)))
    yield made
    made.close()


def drop(canvas: Canvas, key: str, scene_pos: QPointF) -> None:
    """Drop a palette entry, carrying the palette's own drag data, onto the canvas."""
    palette = Palette()
    data = palette.tree.mimeData([palette.item_for(key)])
    point = canvas.point(scene_pos)
    # QDragEnterEvent takes a QPoint before PySide6 6.12 and a QPointF from then on
    enter_point = point if isinstance(point, QPoint) else point.toPoint()
    for event in (
        QDragEnterEvent(enter_point, Qt.DropAction.CopyAction, data, LEFT, NO_MODS),
        QDropEvent(point, Qt.DropAction.CopyAction, data, LEFT, NO_MODS),
    ):
        QApplication.sendEvent(canvas.view.viewport(), event)


def test_items_follow_the_graph(canvas):
    assert set(canvas.scene.nodes) == set(canvas.doc.graph.ids())
    assert [e.src for e in canvas.scene.edges_into("conv1")] == ["input"]
    conv = canvas.scene.nodes["conv1"].content
    assert conv.params == "3x3, 32" and conv.shape == "→ 32×26×26"
    assert canvas.scene.edges_into("relu1")[0].label.text == "32×26×26"


def test_drop_a_palette_entry_creates_the_node_where_it_is_dropped(canvas):
    where = QPointF(600, 120)
    drop(canvas, "layer:Dropout", where)
    new = canvas.doc.graph.ids()[-1]
    assert canvas.doc.graph[new].type == "Dropout" and canvas.doc.graph[new].inputs == []
    assert canvas.doc.graph[new].pos == (600, 120)
    assert canvas.scene.nodes[new].pos() == QPointF(600, 120)
    canvas.doc.undo_stack.undo()
    assert new not in canvas.scene.nodes


def test_drop_onto_a_node_inserts_after_it(canvas):
    drop(canvas, "layer:BatchNorm2d", canvas.scene.nodes["conv1"].pos())
    new = canvas.doc.graph.ids()[-1]
    assert canvas.doc.graph[new].inputs == ["conv1"] and canvas.doc.graph["relu1"].inputs == [new]
    assert canvas.scene.selected_node_ids() == [new]


def test_drag_from_an_output_port_to_an_input_port_connects(canvas):
    canvas.doc.add_node("ReLU", pos=(400, 300))
    free = canvas.doc.graph.ids()[-1]
    start = canvas.scene.nodes["conv1"].output_anchor()
    end = canvas.scene.nodes[free].input_anchor(0, 1)
    canvas.drag(start, end)
    assert canvas.doc.graph[free].inputs == ["conv1"]
    assert [e.src for e in canvas.scene.edges_into(free)] == ["conv1"]
    canvas.doc.undo_stack.undo()
    assert canvas.scene.edges_into(free) == []


def test_invalid_nodes_and_edges_turn_red_with_the_diagnostic_as_tooltip(canvas):
    canvas.doc.remove_nodes(["flat"])
    canvas.doc.connect_nodes("pool1", "fc")
    canvas.flush()
    fc = canvas.scene.nodes["fc"]
    assert fc.content.state == ERROR and "Flatten" in fc.toolTip()
    edge = canvas.scene.edges_into("fc")[0]
    assert edge.error and "needs a flat vector" in edge.toolTip()
    canvas.doc.undo_stack.setIndex(0)
    canvas.flush()
    assert canvas.scene.nodes["fc"].content.state != ERROR


def test_moving_a_node_with_the_mouse_is_one_undoable_step(canvas):
    item = canvas.scene.nodes["relu1"]
    start = item.pos()
    canvas.drag(start, start + QPointF(150, 40))
    x, y = canvas.doc.graph["relu1"].pos
    assert (x, y) == (start.x() + 150, start.y() + 40)
    assert canvas.doc.undo_stack.count() == 1
    canvas.doc.undo_stack.undo()
    assert item.pos() == start


def test_arrow_keys_nudge_the_selection_as_one_step(canvas, qtbot):
    canvas.scene.select_node("conv1")
    x, y = canvas.doc.graph["conv1"].pos
    for _ in range(3):
        qtbot.keyClick(canvas.view, Qt.Key.Key_Right)
    assert canvas.doc.graph["conv1"].pos == (x + 3 * theme.GRID, y)
    assert canvas.doc.undo_stack.count() == 1


def test_shift_drag_selects_with_a_rubber_band_and_a_click_on_the_background_clears(canvas):
    a, b = canvas.scene.nodes["conv1"].pos(), canvas.scene.nodes["relu1"].pos()
    canvas.drag(a + QPointF(-130, -50), b + QPointF(130, 10), mods=Qt.KeyboardModifier.ShiftModifier)
    assert canvas.scene.selected_node_ids() == ["conv1", "relu1"]
    empty = a + QPointF(-400, 0)
    canvas.mouse(QEvent.Type.MouseButtonPress, empty)
    canvas.mouse(QEvent.Type.MouseButtonRelease, empty, buttons=Qt.MouseButton.NoButton)
    assert canvas.scene.selected_node_ids() == []


def test_dragging_the_background_pans_and_the_middle_button_pans_anywhere(canvas):
    bar = canvas.view.verticalScrollBar()
    before = bar.value()
    start = canvas.scene.nodes["conv1"].pos() + QPointF(-400, 0)
    canvas.drag(start, start + QPointF(0, -120))
    assert bar.value() > before
    before = bar.value()
    on_node = canvas.scene.nodes["relu1"].pos()
    canvas.drag(on_node, on_node + QPointF(0, 100), button=Qt.MouseButton.MiddleButton)
    assert bar.value() < before
    assert canvas.doc.undo_stack.count() == 0, "panning changes nothing in the design"


def test_wheel_zooms_around_the_cursor(canvas):
    target = canvas.scene.nodes["pool1"].pos()
    local = canvas.point(target)
    wheel = QWheelEvent(
        local,
        QPointF(canvas.view.viewport().mapToGlobal(local.toPoint())),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        NO_MODS,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    zoom = canvas.view.zoom
    QApplication.sendEvent(canvas.view.viewport(), wheel)
    assert canvas.view.zoom > zoom * 1.3
    after = canvas.view.mapToScene(local.toPoint())
    assert abs(after.x() - target.x()) < 3 and abs(after.y() - target.y()) < 3


def test_fit_to_view_shows_every_node(canvas):
    canvas.view.zoom_by(3.0)
    canvas.view.fit_to_view()
    visible = canvas.view.mapToScene(canvas.view.viewport().rect()).boundingRect()
    assert visible.contains(canvas.scene.items_rect())


def test_snapping_rounds_dragged_positions_to_the_grid(canvas):
    item = canvas.scene.nodes["relu1"]
    start = item.pos()
    canvas.drag(start, start + QPointF(33, 17))
    x, y = canvas.doc.graph["relu1"].pos
    assert x % theme.GRID == 0 and y % theme.GRID == 0


def test_edges_follow_a_box_while_it_is_dragged_and_it_snaps_to_the_grid(canvas):
    item = canvas.scene.nodes["relu1"]
    start = item.pos()
    canvas.mouse(QEvent.Type.MouseButtonPress, start, LEFT, LEFT, NO_MODS)
    canvas.mouse(QEvent.Type.MouseMove, start + QPointF(57, 31), Qt.MouseButton.NoButton, LEFT, NO_MODS)
    assert item.pos() != start and item.x() % theme.GRID == 0 and item.y() % theme.GRID == 0
    into, out = canvas.scene.edges_into("relu1")[0], canvas.scene.edges_into("pool1")[0]
    assert into.path().pointAtPercent(1) == item.input_anchor(0, 1), "the edge in follows before the release"
    assert out.path().pointAtPercent(0) == item.output_anchor()
    assert canvas.doc.undo_stack.count() == 0, "nothing is an edit until the release"
    canvas.mouse(QEvent.Type.MouseButtonRelease, start + QPointF(57, 31), LEFT, Qt.MouseButton.NoButton, NO_MODS)
    assert canvas.doc.undo_stack.count() == 1


@pytest.fixture
def grouped(qtbot):
    g = graph(
        ("x", "Input", {"shape": [3, 16, 16]}, []),
        ("b1.conv", "Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, ["x"]),
        ("b1.relu", "ReLU", {}, ["b1.conv"]),
        ("b1.add", "Add", {}, ["b1.relu", "b1.conv"]),
        ("head", "Flatten", {}, ["b1.add"]),
    )
    made = Canvas(qtbot, Document(g))
    yield made
    made.close()


def test_a_group_collapses_into_one_box_with_its_shapes_and_parameters_and_expands(grouped):
    scene = grouped.scene
    assert scene.collapse("b1")
    box = scene.groups["b1"]
    assert isinstance(box, GroupItem) and not scene.nodes["b1.conv"].isVisible()
    assert box.content.shape == "3×16×16 → 8×16×16"
    assert box.content.params == f"{3 * 9 * 8 + 8} params"
    into_head = scene.edges_into("head")[0]
    assert into_head.isVisible() and into_head.path().pointAtPercent(0) == box.output_anchor()
    assert not scene.edges_into("b1.relu")[0].isVisible(), "edges inside the group are hidden"
    below = scene.nodes["head"].pos().y()
    assert below < grouped.doc.graph["head"].pos[1], "rows under a collapsed group close up"
    scene.item_double_clicked(box)
    assert "b1" not in scene.groups and scene.nodes["b1.conv"].isVisible()
    assert scene.nodes["head"].pos().y() == grouped.doc.graph["head"].pos[1]


def test_edges_inside_a_collapsed_group_get_items_only_when_it_opens(grouped):
    scene, doc = grouped.scene, grouped.doc

    def drawn() -> dict[tuple[str, str], str]:
        return {(e.src, e.dst): e.label.text for e in scene.items() if isinstance(e, EdgeItem)}

    inside = {("b1.conv", "b1.relu"), ("b1.relu", "b1.add"), ("b1.conv", "b1.add")}
    crossing = {("x", "b1.conv"), ("b1.add", "head")}
    assert set(drawn()) == inside | crossing
    scene.collapse("b1")
    assert set(drawn()) == crossing, "no one sees the edges inside the group: they have no items"
    doc.disconnect_input("b1.add", 1)  # an edit inside the closed group
    doc.flush()
    scene.expand("b1")
    assert set(drawn()) == inside - {("b1.conv", "b1.add")} | crossing
    assert drawn()[("b1.conv", "b1.relu")] == "8×16×16", "an edge made on opening shows its shape"
    doc.undo_stack.undo()
    doc.flush()
    assert [e.src for e in scene.edges_into("b1.add")] == ["b1.relu", "b1.conv"]


def test_zoomed_out_the_blocks_and_edges_a_frame_covers_are_not_drawn(grouped):
    scene = grouped.scene
    scene.frames.refresh()
    frame = scene.frames.frames["b1"]
    far, near = 0.2, 1.0
    assert frame.covers(far) and not frame.covers(near)
    assert covered(scene.nodes["b1.conv"].covering, far) and not covered(scene.nodes["b1.conv"].covering, near)
    assert not covered(scene.nodes["head"].covering, far), "a block outside every group is always drawn"
    inside, crossing = scene.edges_into("b1.relu")[0], scene.edges_into("b1.conv")[0]
    assert covered(inside.covering, far), "an edge wholly under the frame"
    assert not covered(crossing.covering, far), "an edge into the group shows outside the frame"


def test_moving_a_collapsed_group_moves_its_members(grouped):
    scene = grouped.scene
    scene.collapse("b1")
    box = scene.groups["b1"]
    before = dict((m, grouped.doc.graph[m].pos) for m in box.members)
    box.setSelected(True)
    grouped.drag(box.pos(), box.pos() + QPointF(200, 0))
    for m, (x, y) in before.items():
        assert grouped.doc.graph[m].pos == (x + 200, y)
    assert grouped.doc.undo_stack.count() == 1
