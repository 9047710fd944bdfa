"""The shape every interaction mode has: it starts on a press, follows moves, and ends on release or cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QMouseEvent

if TYPE_CHECKING:
    from ..view import GraphView


class Interaction:
    """One gesture on the canvas, from mouse press to release."""

    def __init__(self, view: GraphView):
        self.view = view

    def move(self, event: QMouseEvent) -> None:
        """The mouse moved with the gesture under way."""

    def release(self, event: QMouseEvent) -> None:
        """The gesture ends."""

    def cancel(self) -> None:
        """Abandon the gesture (Escape, focus lost) without changing the design."""
