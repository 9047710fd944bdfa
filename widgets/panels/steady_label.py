"""A word-wrapped label whose new text relays out the panel around it only when its height changes.

``QLabel.setText`` always calls ``updateGeometry``, which invalidates every layout up to the scroll area's widget:
in the inspector that re-lays out the whole form (4-7 ms) on each edit, though a new figure in the facts rarely
changes how many lines they take. This widget holds the label inside a box without a layout, so the label's
geometry requests stop at the box, and the box asks its own layout again only when the height it needs at its width
changed. Its minimum width is not followed between relayouts: a new word longer than the panel is wide would be
clipped either way, as the inspector never scrolls sideways.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class SteadyLabel(QWidget):
    """A word-wrapped, selectable ``QLabel`` (``label``) that relays out its parent only when its height changes."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        #: (width, the label's height at that width) for the text shown: one text layout per new text, not two.
        self._height = (-1, -1)

    def text(self) -> str:
        """The label's text."""
        return self.label.text()

    def setText(self, text: str) -> None:
        """Show ``text``; the layout hears of it only if the label now needs another height at this width."""
        if text == self.label.text():
            return
        shown = self.isVisible()  # a hidden panel is laid out when shown: measuring the text now would be wasted
        before = self.heightForWidth(self.width()) if shown else -1
        self.label.setText(text)
        self._height = (-1, -1)
        if not shown or self.heightForWidth(self.width()) != before:
            self.updateGeometry()

    def sizeHint(self) -> QSize:
        return self.label.sizeHint()

    def minimumSizeHint(self) -> QSize:
        return self.label.minimumSizeHint()

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        if self._height[0] != width:
            self._height = (width, self.label.heightForWidth(width))
        return self._height[1]

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.label.resize(event.size())
        super().resizeEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._height = (-1, -1)
        elif event.type() == QEvent.Type.LayoutRequest:
            return True  # the label's own request: ``setText`` already decided whether the layout must hear of it
        return super().event(event)
