"""Pan: drag the empty background (or anything, with the middle button) to scroll the canvas."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent

from .base import Interaction

if TYPE_CHECKING:
    from ..view import GraphView

#: Movement (pixels) under which a background press counts as a click, which clears the selection.
CLICK_SLOP = 3.0


class PanInteraction(Interaction):
    """Scrolls the view by the mouse movement; a left click without movement clears the selection."""

    def __init__(self, view: GraphView, event: QMouseEvent):
        super().__init__(view)
        self._start = event.position()
        self._last = event.position()
        self._button = event.button()
        self._moved = False
        view.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def move(self, event: QMouseEvent) -> None:
        pos = event.position()
        delta = pos - self._last
        self._last = pos
        if (pos - self._start).manhattanLength() > CLICK_SLOP:
            self._moved = True
        h, v = self.view.horizontalScrollBar(), self.view.verticalScrollBar()
        h.setValue(h.value() - round(delta.x()))
        v.setValue(v.value() - round(delta.y()))

    def release(self, event: QMouseEvent) -> None:
        self.view.viewport().unsetCursor()
        if not self._moved and self._button == Qt.MouseButton.LeftButton and self.view.scene() is not None:
            self.view.scene().clearSelection()

    def cancel(self) -> None:
        self.view.viewport().unsetCursor()

    @property
    def moved(self) -> bool:
        """Whether the mouse moved past the click threshold."""
        return self._moved

    @property
    def start(self) -> QPointF:
        """Where the press happened, in view coordinates."""
        return self._start
