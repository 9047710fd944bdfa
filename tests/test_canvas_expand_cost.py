"""Expand All of a big design stays one short pass and one paint (issue 12): what the canvas skips to get there
keeps the geometry, frames and pictures Qt would have given."""

from __future__ import annotations

import random

import pytest
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF
from PySide6.QtGui import QPainterPathStroker
from PySide6.QtWidgets import QGraphicsItem

from designer.editing.templates import load_template
from widgets import theme
from widgets.canvas.edge_item import EdgeItem
from widgets.canvas.frames import FrameSet
from widgets.canvas.lod import FULL_ZOOM
from widgets.canvas.scene import GraphScene
from widgets.canvas.view import GraphView
from widgets.document.document import Document

CACHED = QGraphicsItem.CacheMode.DeviceCoordinateCache


def _routes(count: int) -> list[tuple[QPointF, QPointF]]:
    rng = random.Random(12)
    h = theme.NODE_HEIGHT
    ends = []
    for _ in range(count):
        start = QPointF(rng.uniform(-600, 600), rng.uniform(-600, 600))
        # every branch of edge_path: a short drop, a long drop beside or under its source, up, and into a column
        dx, dy = rng.choice([(0, 2 * h), (30, 5 * h), (300, 9 * h), (-20, -3 * h), (900, -8 * h), (0, 0)])
        ends.append((start, start + QPointF(dx + rng.uniform(-10, 10), dy + rng.uniform(-10, 10))))
    return ends


def test_an_edges_kept_bounds_hold_what_qt_strokes_and_draws():
    """The bounds are kept with the route instead of asked of Qt's stroker: they must still hold the hit area
    (``shape``), the selected stroke and the arrow head, or repaints would leave trails and clicks miss."""
    for start, end in _routes(200):
        edge = EdgeItem("a", "b")
        edge.set_ends(start, end)
        bounds = edge.boundingRect()
        stroker = QPainterPathStroker()
        stroker.setWidth(2.4 + 1)  # the selected pen, with a pixel of antialiasing
        assert bounds.contains(edge.shape().boundingRect())
        assert bounds.contains(stroker.createStroke(edge.path()).boundingRect())
        assert bounds.contains(QRectF(end.x() - 7, end.y() - 7, 14, 14)), "the arrow head, 7 px from its tip"


def test_an_edges_label_sits_on_its_route_at_the_middle_qt_measures_for_a_curve_down():
    for start, end in _routes(60):
        edge = EdgeItem("a", "b")
        edge.set_ends(start, end)
        path, label = edge.path(), edge.label.pos() - QPointF(6, 0)
        nearest = min(
            ((path.pointAtPercent(t / 500) - label).manhattanLength() for t in range(501)), default=float("inf")
        )
        assert nearest < 4, "the label is on the route"
        if 0 <= end.y() - start.y() <= 2.2 * theme.NODE_HEIGHT:
            assert (path.pointAtPercent(0.5) - label).manhattanLength() < 0.5


class _Paints(QObject):
    """Counts the paint events of a widget."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


@pytest.fixture
def densenet(qtbot):
    graph = load_template("densenet121")
    scene = GraphScene()
    view = GraphView(scene)
    view.resize(1200, 900)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    tops = {n.id.split(".")[0] for n in graph if "." in n.id}
    scene.set_document(Document(graph), collapsed=tops, place=False)
    view.fit_to_view()
    qtbot.wait(50)
    return scene, view


def test_expand_all_fits_the_frames_before_the_one_paint(densenet, qtbot, monkeypatch):
    """The frames of the groups just opened are fitted before the view is first painted: fitted in the next pass,
    their own changes called for a second paint of the whole view."""
    scene, view = densenet
    refreshes = []
    monkeypatch.setattr(FrameSet, "refresh", lambda self, real=FrameSet.refresh: (refreshes.append(1), real(self)))
    paints = _Paints()
    view.viewport().installEventFilter(paints)
    scene.expand_all(place=False)
    view.fit_to_view()
    assert "features.denseblock1" in scene.frames.frames and len(refreshes) == 1, "fitted in the action itself"
    qtbot.wait(100)  # under the minimap's delay: its own redraw is not what is counted
    assert len(refreshes) == 1, "and not again when the event loop runs"
    assert paints.count == 1


def test_boxes_keep_a_picture_only_where_they_draw_their_texts(densenet):
    scene, view = densenet
    scene.expand_all(place=False)
    view.fit_to_view()
    assert view.zoom < FULL_ZOOM
    assert all(item.cacheMode() != CACHED for item in scene.nodes.values())
    view.zoom_by(1.0 / view.zoom)
    assert all(item.cacheMode() == CACHED for item in scene.nodes.values())
    view.zoom_by(0.5 * FULL_ZOOM)
    scene.collapse("features.denseblock2")
    assert scene.groups["features.denseblock2"].cacheMode() != CACHED, "a box made while zoomed out"
