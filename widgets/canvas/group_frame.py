"""Semantic zoom: a frame around each expanded dotted-id group that, zoomed out, covers its blocks with one box.

When the blocks of ``layer3.0`` are too small for their names, the frame of ``layer3.0`` is drawn over them as a
box with the group's name, output shape and parameter count at a constant size on screen; when even those boxes get
too small, ``layer3`` covers them in turn. Zoomed in, a frame is only a faint outline. Frames take no clicks: the
blocks beneath stay what a click selects.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from .. import theme
from .lod import OVERVIEW_TEXT_PX, lod_of, paint_overview_lines
from .node_item import NodeContent

#: Below this zoom a block's name no longer fits in it (one overview line and its padding).
NODE_TEXT_ZOOM = (OVERVIEW_TEXT_PX * 1.25 + 8) / theme.NODE_HEIGHT
#: An outer frame covers its inner frames once the tallest of them is shorter than this on screen (three lines).
INNER_MIN_PX = 3 * OVERVIEW_TEXT_PX * 1.25 + 8
PADDING = 14.0
#: Parsed once, shared by every frame (none changes it).
_BLOCKS_COLOR = theme.category_color("Blocks")


class GroupFrameItem(QGraphicsItem):
    """The frame of the expanded group ``prefix``: one rectangle per column its shown blocks fall in."""

    def __init__(self, prefix: str, members: list[str]):
        super().__init__()
        self.prefix = prefix
        self.members = members
        self.content = NodeContent(prefix, "", "", "")
        self.color = _BLOCKS_COLOR
        #: The frames directly inside this one (set by the scene).
        self.inner: list[GroupFrameItem] = []
        self.pieces: list[QRectF] = []
        #: The pieces stretched where there is room, drawn when the frame covers its blocks.
        self.wide_pieces: list[QRectF] = []
        self._bounds = QRectF()
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)  # and no hover events, as items start
        self.setZValue(3 + 1 / (2 + prefix.count(".")))  # outer frames above inner ones: they cover them

    def set_pieces(self, pieces: list[QRectF], wide: list[QRectF]) -> None:
        """The rectangles (scene coordinates) around the member blocks, one per column, and those stretched."""
        pieces = [p.adjusted(-PADDING, -PADDING, PADDING, PADDING) for p in pieces]
        wide = [p.adjusted(-PADDING / 2, -PADDING, PADDING / 2, PADDING) for p in wide]
        if (pieces, wide) == (self.pieces, self.wide_pieces):
            return
        self.prepareGeometryChange()
        self.pieces, self.wide_pieces = pieces, wide
        bounds = QRectF()
        for p in pieces + wide:
            bounds = bounds.united(p)
        self._bounds = bounds.adjusted(-2, -2, 2, 2)

    def set_content(self, content: NodeContent) -> None:
        """Name, output shape and parameter count, as a collapsed box of the same group shows them."""
        if content != self.content:
            self.content = content
            self.update()

    def covers(self, lod: float) -> bool:
        """Whether, at zoom ``lod``, the frame is drawn as a box over its blocks."""
        if lod >= NODE_TEXT_ZOOM:
            return False
        largest = max((p.height() for f in self.inner for p in f.pieces), default=None)
        return largest is None or largest * lod < INNER_MIN_PX

    def overview_lines(self) -> list[tuple[str, bool]]:
        """Name, output shape and parameter count."""
        c = self.content
        return [(c.title, True), ("→ " + c.shape.rsplit("→ ", 1)[-1], False), (c.params, False)]

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        lod = lod_of(painter)
        covering = self.covers(lod)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for piece in self.wide_pieces if covering else self.pieces:
            if covering:
                painter.setPen(QPen(self.color, 2 / lod))
                painter.setBrush(theme.NODE_FILL)
                painter.drawRoundedRect(piece, 6 / lod, 6 / lod)
                strip = 6 / lod
                painter.fillRect(QRectF(piece.left(), piece.top(), strip, piece.height()), self.color)
                paint_overview_lines(painter, piece.adjusted(strip, 0, 0, 0), self.overview_lines(), lod)
            elif lod >= NODE_TEXT_ZOOM:  # farther out, outlines of outer groups over inner boxes are noise
                faint = QColor(self.color)
                faint.setAlpha(70)
                # plain and aliased: a long dashed or rounded outline costs milliseconds to draw
                painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
                painter.setPen(QPen(faint, 1.2 / lod))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(piece)
