"""The canvas view: zoom around the cursor, pan, keyboard nudges, palette drops, and dispatch to interaction modes."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QContextMenuEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsView, QMenu, QWidget

from designer.editing import catalog
from designer.model.graph import port_ref

from .. import theme
from .group_frame import GroupFrameItem
from .group_item import GroupItem
from .interactions.base import Interaction
from .interactions.edge_drag import EdgeDragInteraction
from .interactions.move import MoveInteraction
from .interactions.pan import PanInteraction
from .interactions.rubber_band import RubberBandInteraction
from .lod import FULL_ZOOM
from .minimap import Minimap
from .node_item import NodeItem
from .port_item import OUTPUT, PortItem
from .scene import GraphScene

#: MIME type of palette drags; the payload is a palette key such as ``layer:Conv2d``.
PALETTE_MIME = "application/x-cnn-designer-palette"
MIN_ZOOM, MAX_ZOOM = 0.08, 3.0


class GraphView(QGraphicsView):
    """Shows a GraphScene; turns mouse gestures into interactions and keys into document edits."""

    zoom_changed = Signal(float)
    #: An edit the view could not make, explained for the status bar.
    refused = Signal(str)

    def __init__(self, scene: GraphScene, parent: QWidget | None = None):
        super().__init__(scene, parent)
        self.graph_scene = scene
        self._interaction: Interaction | None = None
        #: Builds the context menu for a scene position (set by the main window).
        self.context_menu_factory: Callable[[QPointF], QMenu | None] | None = None
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSceneRect(QRectF(-50_000, -50_000, 100_000, 100_000))
        self.minimap = Minimap(self)
        self.zoom_changed.connect(self._on_zoom_changed)

    # -- zoom -----------------------------------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        """The current scale (1.0: 100 %)."""
        return self.transform().m11()

    def _on_zoom_changed(self, zoom: float) -> None:
        self.graph_scene.set_box_cache(zoom >= FULL_ZOOM)

    def zoom_by(self, factor: float, at: QPoint | None = None) -> None:
        """Scale by ``factor`` within sensible bounds, keeping the scene point under ``at`` (default: the centre)."""
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom * factor))
        factor = target / self.zoom
        if abs(factor - 1) < 1e-6:
            return
        at = at if at is not None else self.viewport().rect().center()
        fixed = self.mapToScene(at)
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(factor, factor)
        self.setTransformationAnchor(anchor)
        drift = self.mapFromScene(fixed) - at
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + drift.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + drift.y())
        self.zoom_changed.emit(self.zoom)

    def fit_to_view(self) -> None:
        """Show every node, at most at 100 %; a design much taller than the view is first wrapped into columns."""
        if self.graph_scene.document is not None:
            size = self.viewport().size()
            self.graph_scene.rewrap((float(size.width()), float(size.height())))
        rect = self.graph_scene.items_rect()
        if rect.isNull():
            return
        self.fitInView(rect.adjusted(-40, -40, 40, 40), Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom > 1.0:
            self.zoom_by(1.0 / self.zoom)
        if self.zoom < MIN_ZOOM:
            self.zoom_by(MIN_ZOOM / self.zoom)
        self.centerOn(rect.center() if self.zoom > MIN_ZOOM * 1.01 else QPointF(rect.center().x(), rect.top()))
        self.zoom_changed.emit(self.zoom)
        self.graph_scene.frames.flush()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.minimap.place()
        self.minimap.schedule()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            super().wheelEvent(event)  # Shift+wheel scrolls, as in most editors
            return
        self.zoom_by(1.0015 ** event.angleDelta().y(), event.position().toPoint())
        event.accept()

    def center_on_node(self, node_id: str) -> None:
        """Scroll so the box showing ``node_id`` is in the middle."""
        item = self.graph_scene.visible_item(node_id)
        if item is not None:
            self.centerOn(item)

    # -- mouse ----------------------------------------------------------------------------------------------------

    def item_at(self, point: QPoint) -> QGraphicsItem | None:
        """The topmost item under ``point`` that takes clicks: group frames only label what lies beneath them."""
        return next((i for i in self.items(point) if not isinstance(i, GroupFrameItem)), None)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._interaction is not None:
            return
        item = self.item_at(event.position().toPoint())
        button = event.button()
        if button == Qt.MouseButton.MiddleButton:
            self._interaction = PanInteraction(self, event)
        elif (
            button == Qt.MouseButton.LeftButton
            and isinstance(item, PortItem)
            and item.side == OUTPUT
            and not isinstance(item.node, GroupItem)
        ):
            self._interaction = EdgeDragInteraction(self, item)
        elif button == Qt.MouseButton.LeftButton and item is None:
            mods = event.modifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier)
            self._interaction = RubberBandInteraction(self, event) if mods else PanInteraction(self, event)
        else:
            super().mousePressEvent(event)
            if button == Qt.MouseButton.LeftButton:
                self._interaction = MoveInteraction(self)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._interaction is not None and not isinstance(self._interaction, MoveInteraction):
            self._interaction.move(event)
        else:
            super().mouseMoveEvent(event)
            if isinstance(self._interaction, MoveInteraction):
                self._interaction.follow()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        interaction, self._interaction = self._interaction, None
        if interaction is None or isinstance(interaction, MoveInteraction):
            super().mouseReleaseEvent(event)
        if interaction is not None:
            interaction.release(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if self.context_menu_factory is None:
            return
        pos = self.mapToScene(event.pos())
        item = self.item_at(event.pos())
        while item is not None and not isinstance(item, NodeItem):
            item = item.parentItem()
        if item is not None and not item.isSelected():
            self.graph_scene.clearSelection()
            item.setSelected(True)
        menu = self.context_menu_factory(pos)
        if menu is not None:
            menu.exec(event.globalPos())

    # -- keys -----------------------------------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        steps = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}
        key = Qt.Key(event.key())
        document = self.graph_scene.document
        if key in steps and document is not None and self.graph_scene.selected_node_ids():
            step = theme.GRID * (5 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1)
            dx, dy = steps[key]
            document.nudge(self.graph_scene.selected_node_ids(), dx * step, dy * step)
            return
        if key == Qt.Key.Key_Escape and self._interaction is not None:
            self._interaction.cancel()
            self._interaction = None
            return
        super().keyPressEvent(event)

    # -- drops from the palette -----------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(PALETTE_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(PALETTE_MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        document = self.graph_scene.document
        if not event.mimeData().hasFormat(PALETTE_MIME) or document is None:
            super().dropEvent(event)
            return
        key = bytes(event.mimeData().data(PALETTE_MIME).data()).decode("utf-8")
        kind, name = catalog.parse_key(key)
        point = event.position().toPoint()
        x, y = self.graph_scene.model_pos(self.mapToScene(point))
        target = self.item_at(point)
        while target is not None and not isinstance(target, NodeItem):
            target = target.parentItem()
        after = None
        if target is not None and not isinstance(target, GroupItem):
            after = target.node_id
            if kind != catalog.BLOCK and len(target.output_ports) > 1:  # a Split: the part nearest the drop
                x_in_box = target.mapFromScene(self.mapToScene(point)).x()
                after = port_ref(after, min(target.output_ports, key=lambda p: abs(p.pos().x() - x_in_box)).index)
        g = theme.GRID if self.graph_scene.snap_to_grid else 1
        at = (round(x / g) * g, round(y / g) * g) if after is None else None
        event.acceptProposedAction()
        try:
            ids = (
                document.add_block(name, at, after)
                if kind == catalog.BLOCK
                else [document.add_node(name, at, after=after)]
            )
        except ValueError as exc:
            self.refused.emit(str(exc))
            return
        self.graph_scene.clearSelection()
        for nid in ids[-1:]:
            self.graph_scene.select_node(nid)
