"""A node box on the canvas: type, key parameters and output shape, with an input and an output port."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSceneMouseEvent, QStyle, QStyleOptionGraphicsItem, QWidget

from .. import theme
from .lod import FULL_ZOOM, SMALLEST_BOX_FONT_PX, draw_text, lod_of, paint_overview_lines
from .port_item import INPUT, OUTPUT, PortItem

if TYPE_CHECKING:
    from designer.layers.registry import LayerSpec

OK, WARNING, ERROR = "ok", "warning", "error"
_STRIP = 10.0  # width of a zoomed-out box's category strip
_F = QGraphicsItem.GraphicsItemFlag
#: Combined once: or-ing Qt enums runs Python code, paid by every box of a big design.
_FLAGS = _F.ItemIsSelectable | _F.ItemIsMovable
#: Made once: Qt asks every box for its bounds many times while indexing and painting a big design.
_BOUNDS = QRectF(-theme.NODE_WIDTH / 2 - 3, -theme.NODE_HEIGHT / 2 - 3, theme.NODE_WIDTH + 6, theme.NODE_HEIGHT + 8)


@dataclass(frozen=True)
class NodeContent:
    """Everything a node box shows; the scene compares contents so unchanged boxes are not repainted."""

    title: str
    type_name: str
    params: str
    shape: str
    state: str = OK
    tooltip: str = ""
    frozen: bool = False
    is_output: bool = False


class Covering(Protocol):
    """A group frame that, at some zooms, is drawn over the blocks and edges inside it."""

    def covers(self, lod: float) -> bool: ...


def covered(frames: list[Covering], lod: float) -> bool:
    """Whether one of ``frames`` is drawn over an item at zoom ``lod`` (so the item need not be drawn)."""
    return any(f.covers(lod) for f in frames) if frames else False


@runtime_checkable
class NodeHost(Protocol):
    """What a node item tells the scene it sits in (the ``GraphScene``, which imports this module)."""

    snap_to_grid: bool

    def node_moved(self, item: NodeItem) -> None: ...

    def item_double_clicked(self, item: NodeItem) -> None: ...


class NodeItem(QGraphicsItem):
    """The box of one node. Its position is the node's centre.

    It has no ``itemChange``: Qt calls that override for every change of every item (flags, z, children, scene,
    position), and each call into Python cost more than the rest of making a box. Whoever moves a box tells the scene
    (``NodeHost.node_moved``): the scene's own placing, and the view after each mouse move of a drag.
    """

    def __init__(self, node_id: str, spec: LayerSpec | None, content: NodeContent, cached: bool = True):
        super().__init__()
        self.node_id = node_id
        self.spec = spec
        self.color = _accent(spec.category if spec else None)
        self.content = content
        #: What the content was last computed from (the scene skips unchanged nodes).
        self.key: object = None
        #: Whether the mouse pressed on this box and has not been released (the box a drag snaps to the grid).
        self.dragging = False
        #: The group frames that, zoomed out, are drawn over this box (set by the scene's ``FrameSet``).
        self.covering: list[Covering] = []
        #: The body's fill when the canvas is coloured by cost (``widgets.canvas.cost_tint``); None: the theme's.
        self.tint: QColor | None = None
        self.setFlags(_FLAGS)
        if cached:  # see ``GraphScene.set_box_cache``
            self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.input_port = (
            PortItem(self, INPUT, many=spec is not None and spec.arity[1] is None)
            if (spec is None or spec.arity[1] != 0)
            else None
        )
        #: One port per output: several for a Split (``set_output_count``).
        self.output_ports = [PortItem(self, OUTPUT)]
        #: Ports of parts a Split no longer has, hidden and kept for when it has them again: a child item deleted
        #: from Python while Qt may still point at it (hover, the view's press) is a crash waiting to happen.
        self._spare_ports: list[PortItem] = []
        if content.tooltip:
            self.setToolTip(content.tooltip)

    def set_content(self, content: NodeContent) -> None:
        """Show new content; repaint only if it differs."""
        if content == self.content:
            return
        if content.tooltip != self.content.tooltip:
            self.setToolTip(content.tooltip)
        self.content = content
        self.update()

    def set_tint(self, tint: QColor | None) -> None:
        """Fill the body with ``tint`` (None: the theme's node fill); repaint only if it changes."""
        if tint != self.tint:
            self.tint = tint
            self.update()

    def set_output_count(self, count: int) -> bool:
        """Show ``count`` output ports (at least one), spread along the bottom edge; whether the count changed."""
        count = max(1, count)
        if count == len(self.output_ports):
            return False
        while len(self.output_ports) < count:
            spare = self._spare_ports.pop() if self._spare_ports else None
            if spare is not None:
                spare.show()
            self.output_ports.append(spare or PortItem(self, OUTPUT, index=len(self.output_ports)))
        while len(self.output_ports) > count:
            self.output_ports[-1].hide()
            self._spare_ports.append(self.output_ports.pop())
        for k, port in enumerate(self.output_ports):
            port.setPos(_spread(k, count), theme.NODE_HEIGHT / 2)
        self.update()
        return True

    def input_anchor(self, index: int, count: int) -> QPointF:
        """Where input ``index`` of ``count`` meets the box, in scene coordinates (spread along the top edge)."""
        p = self.pos()  # a box is a top-level item, never scaled or turned: its scene point is its position
        return QPointF(p.x() + _spread(index, count), p.y() - theme.NODE_HEIGHT / 2)

    def output_anchor(self, port: int = 0) -> QPointF:
        """Where edges from output ``port`` start, in scene coordinates (a port the box lacks: its last one)."""
        count = len(self.output_ports)
        p = self.pos()
        return QPointF(p.x() + _spread(min(port, count - 1), count), p.y() + theme.NODE_HEIGHT / 2)

    # -- Qt overrides ---------------------------------------------------------------------------------------------

    def boundingRect(self) -> QRectF:
        return _BOUNDS

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        lod = lod_of(painter)
        if covered(self.covering, lod):
            return
        if lod < FULL_ZOOM:
            paint_block(painter, self.color, self.content.state, selected, self.tint)
            paint_overview_lines(painter, overview_rect(), self.overview_lines(), lod)
        else:
            paint_box(painter, self.color, self.content, selected, fill=self.tint)

    def overview_lines(self) -> list[tuple[str, bool]]:
        """What the box says when zoomed out, at a constant size on screen: its name, then its output shape."""
        return [(self.content.title, True), (self.content.shape, False)]

    def host(self) -> NodeHost | None:
        """The scene, if it is one that follows node moves."""
        scene = self.scene()
        return cast(NodeHost, scene) if hasattr(scene, "node_moved") else None

    def dragged(self) -> None:
        """The view moved this box with the mouse: snap it to the grid if it is the one grabbed, tell the scene."""
        host = self.host()
        if host is None:
            return
        if self.dragging and host.snap_to_grid:
            g, p = theme.GRID, self.pos()
            self.setPos(round(p.x() / g) * g, round(p.y() / g) * g)
        host.node_moved(self)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.dragging = True
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.dragging = False
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        host = self.host()
        if host is not None:
            host.item_double_clicked(self)


def _spread(index: int, count: int) -> float:
    """The offset from the box's centre of port ``index`` of ``count`` along an edge of the box."""
    if count <= 1:
        return 0.0
    span = min(theme.NODE_WIDTH * 0.6, 26.0 * (count - 1))
    return -span / 2 + span * index / (count - 1)


@functools.cache
def _accent(category: str | None) -> QColor:
    """The category colour, parsed once per category (the boxes share it and never change it)."""
    return theme.category_color(category)


def paint_box(
    painter: QPainter, color: QColor, c: NodeContent, selected: bool, dashed: bool = False, fill: QColor | None = None
) -> None:
    """Draw a node box (shared with collapsed group boxes): shadow, body, category accent and three text lines."""
    w, h = theme.NODE_WIDTH, theme.NODE_HEIGHT
    rect = _box_rect()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(theme.SHADOW)
    painter.drawRoundedRect(rect.translated(0, 2.5), 7, 7)
    body = QPainterPath()
    body.addRoundedRect(rect, 7, 7)
    painter.fillPath(body, QBrush(fill or theme.NODE_FILL))
    header = QColor(color)
    header.setAlpha(34 if not c.frozen else 18)
    painter.fillPath(body.intersected(_rect_path(QRectF(rect.left(), rect.top(), w, 22))), header)
    painter.fillPath(body.intersected(_rect_path(QRectF(rect.left(), rect.top(), 5, h))), color)
    painter.setPen(_border_pen(c.state, selected, dashed))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(rect, 7, 7)
    _paint_texts(painter, rect, color, c)


def paint_block(painter: QPainter, color: QColor, state: str, selected: bool, fill: QColor | None = None) -> None:
    """Zoomed out, the box's small texts would be unreadable: a plain box in the category colour (fast to draw)."""
    rect = _box_rect()
    painter.setPen(_border_pen(state, selected, False) if selected or state != OK else QPen(color, 2))
    painter.setBrush(fill or theme.NODE_FILL)
    painter.drawRect(rect)
    painter.fillRect(QRectF(rect.left(), rect.top(), _STRIP, rect.height()), color)


def overview_rect() -> QRectF:
    """Where a zoomed-out box writes its lines: right of the category strip ``paint_block`` draws."""
    return _box_rect().adjusted(_STRIP, 0, 0, 0)


def _box_rect() -> QRectF:
    w, h = theme.NODE_WIDTH, theme.NODE_HEIGHT
    return QRectF(-w / 2, -h / 2, w, h)


def _rect_path(rect: QRectF) -> QPainterPath:
    path = QPainterPath()
    path.addRect(rect)
    return path


def _border_pen(state: str, selected: bool, dashed: bool) -> QPen:
    if selected:
        pen = QPen(theme.SELECTED, 2.4)
    elif state == ERROR:
        pen = QPen(theme.ERROR, 2.2)
    elif state == WARNING:
        pen = QPen(theme.WARNING, 1.8)
    else:
        pen = QPen(theme.NODE_BORDER, 1.0)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def _paint_texts(painter: QPainter, rect: QRectF, color: QColor, c: NodeContent) -> None:
    """Id on the header row; key parameters with the type on the right; the output shape below."""
    f = theme.fonts()
    left, right = rect.left() + 13, rect.right() - 8
    width = right - left
    painter.setFont(f["title"])
    painter.setPen(theme.TEXT)
    title = QFontMetricsF(f["title"]).elidedText(c.title, Qt.TextElideMode.ElideLeft, width)
    draw_text(painter, QRectF(left, rect.top() + 3, width, 17), Qt.AlignmentFlag.AlignVCenter, title)
    type_text = c.type_name + (" ❄" if c.frozen else "")
    painter.setFont(f["type"])
    type_w = QFontMetricsF(f["type"]).horizontalAdvance(type_text)
    painter.setPen(color.darker(125))
    draw_text(
        painter, QRectF(right - type_w, rect.top() + 23, type_w + 1, 18), Qt.AlignmentFlag.AlignVCenter, type_text
    )
    painter.setFont(f["param"])
    painter.setPen(theme.TEXT_MUTED)
    params = QFontMetricsF(f["param"]).elidedText(c.params, Qt.TextElideMode.ElideRight, width - type_w - 6)
    draw_text(painter, QRectF(left, rect.top() + 23, width - type_w - 6, 18), Qt.AlignmentFlag.AlignVCenter, params)
    painter.setFont(f["shape"])
    painter.setPen(theme.ERROR if c.state == ERROR else theme.SHAPE_TEXT)
    tag = 28 if c.is_output else 0
    shape = QFontMetricsF(f["shape"]).elidedText(c.shape, Qt.TextElideMode.ElideRight, width - tag)
    draw_text(painter, QRectF(left, rect.top() + 41, width - tag, 18), Qt.AlignmentFlag.AlignVCenter, shape)
    if c.is_output:
        _paint_output_tag(painter, rect)


def _paint_output_tag(painter: QPainter, rect: QRectF) -> None:
    tag = QRectF(rect.right() - 32, rect.bottom() - 18, 27, 14)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(theme.TAG_FILL)
    painter.drawRoundedRect(tag, 3, 3)
    painter.setPen(theme.TAG_TEXT)
    painter.setFont(_tag_font())
    draw_text(painter, tag, Qt.AlignmentFlag.AlignCenter, "OUT")


@functools.cache
def _tag_font() -> QFont:
    """Theme's tag font is 8 px: at the zoom where boxes are drawn in full it would fall under the 9 px minimum."""
    return theme.font(int(SMALLEST_BOX_FONT_PX), bold=True)
