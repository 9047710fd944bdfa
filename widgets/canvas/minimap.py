"""The minimap: a small picture of the whole design in the canvas's corner, with the visible part outlined.

Shown only for designs taller than two screens at 100 %, unless the person turned it off (View > Show Minimap: it
covers the canvas's corner); a click or drag in it scrolls the canvas there. The picture is re-rendered a moment after
the scene stops changing, not on every change, and a zoom or scroll moves its outline once per event-loop pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from .. import theme

if TYPE_CHECKING:
    from .view import GraphView

SIZE = QSize(180, 240)
MARGIN = 10
#: Shown when the design, drawn at 100 %, is taller than this many views.
SCREENS = 2.0


class Minimap(QWidget):
    """An overlay in the top-right corner of a ``GraphView``."""

    def __init__(self, view: GraphView):
        super().__init__(view)
        self.view = view
        self.source = QRectF()  # the scene area the picture shows
        #: Whether the person wants the minimap at all (View > Show Minimap).
        self.enabled = True
        self._follow_pending = False
        self._picture: QPixmap | None = None
        self._timer = QTimer(self, singleShot=True, interval=250)
        self._timer.timeout.connect(self.refresh)
        self.setFixedSize(SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("The whole design: click or drag to move there")
        self.hide()
        # A method, not a lambda: Qt drops the connection when the minimap goes, and the scene may outlive it.
        view.graph_scene.changed.connect(self._on_scene_changed)
        view.zoom_changed.connect(lambda _zoom: self.schedule_follow())
        view.horizontalScrollBar().valueChanged.connect(lambda _v: self.schedule_follow())
        view.verticalScrollBar().valueChanged.connect(lambda _v: self.schedule_follow())

    def _on_scene_changed(self, _rects: object) -> None:
        self.schedule()

    def schedule(self) -> None:
        """Refresh a moment after the last change."""
        self._timer.start()

    def set_enabled(self, enabled: bool) -> None:
        """Turn the minimap on or off (off: never shown)."""
        self.enabled = enabled
        self.refresh()

    def schedule_follow(self) -> None:
        """Follow the view when the event loop next runs: a fit zooms and scrolls both ways, and each check walks
        every shown box (tens of milliseconds on a big design if done once per signal)."""
        if not self._follow_pending:
            self._follow_pending = True
            QTimer.singleShot(0, self.follow_view)

    def wanted(self) -> bool:
        """Whether the design is taller than two screens at 100 % and the view shows only part of it."""
        if not self.enabled:
            return False
        rect = self.view.graph_scene.items_rect()
        if rect.isNull() or rect.height() <= SCREENS * self.view.viewport().height():
            return False
        shown = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        return not shown.contains(rect)

    def follow_view(self) -> None:
        """The view moved or zoomed: show or hide, and move the outline."""
        self._follow_pending = False
        if self.wanted() != self.isVisible():
            self.refresh()
        else:
            self.update()

    def place(self) -> None:
        """Stay in the top-right corner of the view's viewport, about a fifth of its width."""
        viewport = self.view.viewport().geometry()
        width = int(min(SIZE.width(), max(90, viewport.width() * 0.2)))
        self.setFixedSize(width, int(width * SIZE.height() / SIZE.width()))
        self.move(viewport.right() - self.width() - MARGIN, viewport.top() + MARGIN)

    def refresh(self) -> None:
        """Show or hide, and redraw the picture of the design."""
        if not self.wanted():
            self.hide()
            return
        self.place()
        rect = self.view.graph_scene.items_rect().adjusted(-40, -40, 40, 40)
        scale = min(self.width() / rect.width(), self.height() / rect.height())
        self.source = QRectF(
            rect.center().x() - self.width() / scale / 2,
            rect.center().y() - self.height() / scale / 2,
            self.width() / scale,
            self.height() / scale,
        )
        picture = QPixmap(self.size())
        picture.fill(theme.BACKGROUND)
        painter = QPainter(picture)
        self._draw_boxes(painter, scale)
        painter.end()
        self._picture = picture
        self.show()
        self.raise_()
        self.update()

    def _draw_boxes(self, painter: QPainter, scale: float) -> None:
        """The shown boxes as blocks of their category colour: a picture of the design's shape, no edges and no
        texts, so it costs a few milliseconds however big the design (rendering the scene cost a hundred)."""
        scene, s = self.view.graph_scene, self.source
        boxes = [i for i in [*scene.nodes.values(), *scene.groups.values()] if i.isVisible()]
        painter.setPen(Qt.PenStyle.NoPen)
        for box in boxes:
            r = box.sceneBoundingRect()
            painter.setBrush(box.color)
            painter.drawRect(
                QRectF(
                    (r.left() - s.left()) * scale,
                    (r.top() - s.top()) * scale,
                    max(2.0, r.width() * scale),
                    max(2.0, r.height() * scale),
                )
            )

    def to_scene(self, point: QPointF) -> QPointF:
        """The scene point under a point of the minimap."""
        s = self.source
        return QPointF(
            s.left() + point.x() / self.width() * s.width(), s.top() + point.y() / self.height() * s.height()
        )

    def visible_rect(self) -> QRectF:
        """The part of the scene the view shows, in minimap coordinates."""
        shown = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        s = self.source
        if s.isEmpty():
            return QRectF()
        sx, sy = self.width() / s.width(), self.height() / s.height()
        return QRectF(
            (shown.left() - s.left()) * sx, (shown.top() - s.top()) * sy, shown.width() * sx, shown.height() * sy
        )

    # -- Qt overrides ---------------------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        if self._picture is not None:
            painter.drawPixmap(0, 0, self._picture)
        shade = QColor(theme.SELECTED)
        shade.setAlpha(40)
        painter.setPen(QPen(theme.SELECTED, 1.5))
        painter.setBrush(shade)
        painter.drawRect(self.visible_rect().intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1)))
        painter.setPen(QPen(theme.NODE_BORDER, 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.view.centerOn(self.to_scene(event.position()))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.view.centerOn(self.to_scene(event.position()))
        event.accept()
