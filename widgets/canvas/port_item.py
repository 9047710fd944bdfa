"""Ports: the input (top) and output (bottom) connection points of a node box (a Split has one output port per part)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSceneHoverEvent, QStyleOptionGraphicsItem, QWidget

from .. import theme

if TYPE_CHECKING:
    from .node_item import NodeItem

INPUT, OUTPUT = "input", "output"
_R = theme.PORT_RADIUS + 4  # a larger hit area than the drawn circle, so ports are easy to grab
#: Made once: Qt asks every port for its bounds many times while indexing and painting a big design.
_BOUNDS, _MANY_BOUNDS = QRectF(-_R, -_R, 2 * _R, 2 * _R), QRectF(-2.2 * _R, -_R, 4.4 * _R, 2 * _R)


class PortItem(QGraphicsItem):
    """A small circle on a node's edge; dragging from an output port starts a connection."""

    def __init__(self, node: NodeItem, side: str, many: bool = False, index: int = 0):
        super().__init__(node)
        self.node = node
        self.side = side
        #: Which output of the node this port is (a wire dragged from it reads ``"id:index"``).
        self.index = index
        #: Whether the port takes several connections (Concat, Add, Mul).
        self.many = many
        self._hover = False
        self._highlight = False
        self._dressed = False
        self.setAcceptHoverEvents(True)
        # No z value: a child is drawn over its box whatever its z, and no other port is near.
        self.setPos(0, theme.NODE_HEIGHT / 2 if side == OUTPUT else -theme.NODE_HEIGHT / 2)

    def _dress(self) -> None:
        """The tooltip and cursor, given when the mouse first comes over the port (before either can show): each
        cost a call into Qt for every port of a big design as it opened or expanded."""
        self._dressed = True
        if self.side == OUTPUT:  # an input keeps the default arrow
            self.setCursor(Qt.CursorShape.CrossCursor)
        several = self.node.spec is not None and self.node.spec.multi_output
        self.setToolTip(
            f"output {self.index}: drag to an input port to connect"
            if self.side == OUTPUT and several
            else "drag to an input port to connect"
            if self.side == OUTPUT
            else "input: accepts several connections"
            if self.many
            else "input"
        )

    @property
    def node_id(self) -> str:
        """The id of the node the port belongs to."""
        return self.node.node_id

    def boundingRect(self) -> QRectF:
        return _MANY_BOUNDS if self.many else _BOUNDS

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if option.levelOfDetailFromTransform(painter.worldTransform()) < theme.DETAIL_ZOOM:
            return
        r = theme.PORT_RADIUS + (1.5 if self._hover or self._highlight else 0)
        color = theme.SELECTED if self._highlight else self.node.color
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(color, 1.6))
        painter.setBrush(QBrush(color if self._hover or self._highlight else theme.NODE_FILL))
        if self.many:
            painter.drawRoundedRect(QRectF(-2.2 * r, -r, 4.4 * r, 2 * r), r, r)
        else:
            painter.drawEllipse(QPointF(0, 0), r, r)

    def set_highlight(self, on: bool) -> None:
        """Mark the port as the target of a connection being dragged."""
        if on != self._highlight:
            self._highlight = on
            self.update()

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        if not self._dressed:
            self._dress()
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self._hover = False
        self.update()
