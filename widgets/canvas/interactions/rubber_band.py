"""Rubber band: Shift- or Ctrl-drag on the background selects everything the rectangle touches."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QMouseEvent, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from ... import theme
from .base import Interaction

if TYPE_CHECKING:
    from ..view import GraphView


class RubberBandInteraction(Interaction):
    """Selects the items a dragged rectangle intersects; Ctrl adds to the current selection."""

    def __init__(self, view: GraphView, event: QMouseEvent):
        super().__init__(view)
        self._origin = view.mapToScene(event.position().toPoint())
        self._add = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        self._initial = list(view.scene().selectedItems()) if self._add else []
        self._rect = QGraphicsRectItem()
        fill = QColor(theme.SELECTED)
        fill.setAlpha(30)
        self._rect.setBrush(QBrush(fill))
        self._rect.setPen(QPen(theme.SELECTED, 0))
        self._rect.setZValue(10)
        view.scene().addItem(self._rect)

    def move(self, event: QMouseEvent) -> None:
        rect = QRectF(self._origin, self.view.mapToScene(event.position().toPoint())).normalized()
        self._rect.setRect(rect)
        path = QPainterPath()
        path.addRect(rect)
        scene = self.view.scene()
        scene.setSelectionArea(
            path,
            Qt.ItemSelectionOperation.ReplaceSelection,
            Qt.ItemSelectionMode.IntersectsItemShape,
            self.view.transform(),
        )
        for item in self._initial:
            item.setSelected(True)
        self._rect.setSelected(False)

    def release(self, event: QMouseEvent) -> None:
        self.cancel()

    def cancel(self) -> None:
        if self._rect.scene() is not None:
            self._rect.scene().removeItem(self._rect)
