"""A collapsed dotted-id group (``layer2.1``): one box with the group's input and output shape and parameter count."""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyleOptionGraphicsItem, QWidget

from .. import theme
from .lod import FULL_ZOOM, lod_of, paint_overview_lines
from .node_item import NodeContent, NodeItem, overview_rect, paint_block, paint_box


class GroupItem(NodeItem):
    """Stands in for the hidden members of a collapsed group; moving it moves them, double-click expands it."""

    def __init__(self, prefix: str, members: list[str], content: NodeContent, cached: bool = True):
        super().__init__(prefix, None, content, cached)
        self.members = list(members)
        self.color = theme.category_color("Blocks")
        if self.input_port is not None:
            self.input_port.many = True
        self.setZValue(1.5)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        lod = lod_of(painter)
        if lod < FULL_ZOOM:
            paint_block(painter, self.color, self.content.state, selected, self.tint)
            paint_overview_lines(painter, overview_rect(), self.overview_lines(), lod)
            return
        w, h = theme.NODE_WIDTH, theme.NODE_HEIGHT
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(theme.NODE_BORDER, 1.0))
        painter.setBrush(theme.NODE_FILL)
        for k in (2, 1):  # two offset outlines suggest a stack of layers
            painter.drawRoundedRect(QRectF(-w / 2 + 4 * k, -h / 2 - 4 * k, w, h), 7, 7)
        paint_box(painter, self.color, self.content, selected, dashed=True, fill=self.tint)

    def overview_lines(self) -> list[tuple[str, bool]]:
        """Zoomed out: the group's name, what it outputs and its parameter count."""
        c = self.content
        return [(c.title, True), ("→ " + c.shape.rsplit("→ ", 1)[-1], False), (c.params, False)]

    def boundingRect(self) -> QRectF:
        return super().boundingRect().adjusted(0, -10, 10, 0)
