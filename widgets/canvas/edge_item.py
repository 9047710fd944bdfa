"""A connection on the canvas: a curve from an output port to an input port, labelled with the tensor shape."""

from __future__ import annotations

import functools
import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyle, QStyleOptionGraphicsItem, QWidget

from designer.editing.layout import WRAP_GAP
from designer.model.graph import split_ref

from .. import theme
from .lod import FULL_ZOOM, draw_text, lod_of
from .node_item import Covering, covered


class EdgeLabelItem(QGraphicsItem):
    """The shape text beside an edge, on a light rounded background so it stays readable over lines."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.error = False
        self._rect = QRectF()
        self.setZValue(0.5)  # above every edge line, below the nodes

    def set_text(self, text: str, error: bool) -> None:
        """Show ``text`` (red when ``error``)."""
        if (text, error) == (self.text, self.error):
            return
        self.prepareGeometryChange()
        self.text, self.error = text, error
        width = _label_metrics().horizontalAdvance(text)
        self._rect = QRectF(0, -8, width + 8, 16) if text else QRectF()
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if not self.text or lod_of(painter) < FULL_ZOOM:
            return  # its text would be under the minimum size on screen, and an empty tag is noise
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(theme.ERROR if self.error else theme.NODE_BORDER, 0.8))
        painter.setBrush(theme.LABEL_FILL)
        painter.drawRoundedRect(self._rect, 4, 4)
        painter.setFont(theme.fonts()["label"])
        painter.setPen(theme.ERROR if self.error else theme.LABEL_TEXT)
        draw_text(painter, self._rect, Qt.AlignmentFlag.AlignCenter, self.text)


class EdgeItem(QGraphicsPathItem):
    """One input of ``dst`` fed by ``src``, a reference (``"s:1"``: output 1 of ``s``); the scene sets its geometry
    and label.

    The label is a separate top-level item (added and removed with the edge) so that no other edge's line is drawn
    over it.
    """

    def __init__(self, src: str, dst: str):
        super().__init__()
        self.src_node, self.src_port = split_ref(src)
        self._src, self.dst = src, dst
        self.error = False
        #: What the label and state were last computed from (the scene skips unchanged edges).
        self.key: object = None
        self.label = EdgeLabelItem()
        self._end = QPointF()
        self._angle = math.pi / 2
        #: The group frames that, zoomed out, are drawn over the whole edge (set by the scene's ``FrameSet``).
        self.covering: list[Covering] = []
        #: The bounds, kept with the route: Qt asks for them many times while indexing and painting.
        self._bounds = QRectF()
        self._tooltip = ""
        # No pen: the item paints itself, and with a pen Qt would compute the bounds from ``shape()``, a stroke.
        self.setPen(_NO_PEN)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)

    @property
    def src(self) -> str:
        """The reference the edge reads; ``src_node`` and ``src_port`` are its two parts (kept: routing is hot)."""
        return self._src

    @src.setter
    def src(self, ref: str) -> None:
        self._src = ref
        self.src_node, self.src_port = split_ref(ref)

    def set_ends(self, start: QPointF, end: QPointF) -> None:
        """Route the curve; edges running down through their own column bow out to the right."""
        path = edge_path(start, end)
        # Qt must hear of the change while boundingRect still gives the old bounds: the scene's index finds the item
        # there to move it (told only by setPath, after the bounds changed, it left a stale entry behind, and a
        # lookup there after the edge was deleted crashed). The margin holds the arrow, the wide selection stroke
        # and the hit area of ``shape``.
        self.prepareGeometryChange()
        self._bounds = path.controlPointRect().adjusted(-_MARGIN, -_MARGIN, _MARGIN, _MARGIN)
        self.setPath(path)
        self._end = end
        # Every route ends in a cubic: the tangent at its end runs from its last control point (angleAtPercent
        # measures the path's length first, a visible cost for hundreds of edges).
        control = path.elementAt(path.elementCount() - 2)
        self._angle = math.atan2(end.y() - control.y, end.x() - control.x)
        mid = _label_point(path, start, end)
        self.label.setPos(mid.x() + 6, mid.y())

    def set_shown(self, shown: bool) -> None:
        """Show or hide the edge with its label."""
        self.setVisible(shown)
        self.label.setVisible(shown)

    def set_state(self, text: str, error: bool, tooltip: str) -> None:
        """Label, error colour and tooltip."""
        self.label.set_text(text, error)
        if error != self.error:
            self.error = error
            self.update()
        if tooltip != self._tooltip:  # kept here too: reading Qt's copy back costs a call and a string
            self._tooltip = tooltip
            self.setToolTip(tooltip)

    # -- Qt overrides ---------------------------------------------------------------------------------------------

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        return stroker.createStroke(self.path())

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if covered(self.covering, lod_of(painter)):
            return
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        color = theme.SELECTED if selected else theme.ERROR if self.error else theme.EDGE
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(color, 2.4 if selected or self.error else 1.6))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        if option.levelOfDetailFromTransform(painter.worldTransform()) < theme.DETAIL_ZOOM:
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(color))
        painter.drawPolygon(_arrow(self._end, self._angle))


_NO_PEN = QPen(Qt.PenStyle.NoPen)
#: How far the drawn edge (arrow head, selected stroke) and its hit area reach beyond its path's control points.
_MARGIN = 8.0
#: A drop longer than this runs straight down a column (``edge_path``).
_LONG_DROP = 2.2 * theme.NODE_HEIGHT


@functools.cache
def _label_metrics() -> QFontMetricsF:
    """Made once: building font metrics for each of a big design's labels is a visible part of opening it."""
    return QFontMetricsF(theme.fonts()["label"])


def _arrow(tip: QPointF, angle: float, size: float = 7.0) -> QPolygonF:
    back = QPointF(tip.x() - size * math.cos(angle), tip.y() - size * math.sin(angle))
    side = QPointF(-math.sin(angle) * size * 0.45, math.cos(angle) * size * 0.45)
    return QPolygonF([tip, back + side, back - side])


def _label_point(path: QPainterPath, start: QPointF, end: QPointF) -> QPointF:
    """The middle of a route, where its label goes. A route down is symmetric about its middle, or runs down a
    column: found without measuring the path's length (``pointAtPercent``), which took half the time of routing."""
    dy = end.y() - start.y()
    if dy > _LONG_DROP:
        return QPointF(_drop_column(start, end), (start.y() + end.y()) / 2)
    if dy >= 0:
        return QPointF((start.x() + end.x()) / 2, (start.y() + end.y()) / 2)
    return path.pointAtPercent(0.5)


def _drop_column(start: QPointF, end: QPointF) -> float:
    """The x an edge spanning several rows runs down: its source's, bowed right when that is the target's column."""
    return start.x() + theme.SKIP_BOW if abs(end.x() - start.x()) < theme.NODE_WIDTH * 0.5 else start.x()


def edge_path(start: QPointF, end: QPointF) -> QPainterPath:
    """A vertical S-curve. Edges spanning several rows run straight down their source's column, so they pass beside
    the nodes in between; in the target's own column they bow out to the right. Edges going up loop around."""
    path = QPainterPath(start)
    sx, sy, ex, ey = start.x(), start.y(), end.x(), end.y()
    dx, dy = ex - sx, ey - sy
    # Plain coordinates rather than points: a big design routes hundreds of edges at once.
    if dy > _LONG_DROP:
        column = _drop_column(start, end)
        if column != sx:
            path.cubicTo(sx, sy + 28, column, sy + 12, column, sy + 40)
        path.lineTo(column, ey - 40)
        path.cubicTo(column, ey - 12, ex, ey - 28, ex, ey)
    elif dy >= 0:
        k = max(dy * 0.5, 20.0)
        path.cubicTo(sx, sy + k, ex, ey - k, ex, ey)
    elif dx > theme.NODE_WIDTH:
        _to_next_column(path, start, end)
    else:
        k = max(-dy * 0.4, 80.0)
        path.cubicTo(sx + 40, sy + k, ex - 40, ey - k, ex, ey)
    return path


def _to_next_column(path: QPainterPath, start: QPointF, end: QPointF) -> None:
    """An edge into a column to the right (a design wrapped into columns): down, across, up the gap, into the top."""
    gap_x = end.x() - theme.NODE_WIDTH / 2 - WRAP_GAP / 2
    below, above = start.y() + 30, end.y() - 30
    path.cubicTo(QPointF(start.x(), below), QPointF(start.x(), below), QPointF(start.x() + 20, below))
    path.lineTo(QPointF(gap_x - 20, below))
    path.quadTo(QPointF(gap_x, below), QPointF(gap_x, below - 20))
    path.lineTo(QPointF(gap_x, above + 20))
    path.quadTo(QPointF(gap_x, above), QPointF(gap_x + 20, above))
    path.lineTo(QPointF(end.x() - 20, above))
    path.cubicTo(QPointF(end.x(), above), QPointF(end.x(), above), end)
