"""Edge drag: from an output port (one of a Split's) to another node's input port (or anywhere on its box)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from designer.model.graph import port_ref

from ... import theme
from ..edge_item import edge_path
from ..group_item import GroupItem
from ..node_item import NodeItem
from ..port_item import PortItem
from .base import Interaction

if TYPE_CHECKING:
    from ..view import GraphView


class EdgeDragInteraction(Interaction):
    """Draws a provisional connection that follows the mouse; releasing on a valid target connects."""

    def __init__(self, view: GraphView, port: PortItem):
        super().__init__(view)
        #: What the wire reads: the node, or ``"id:k"`` when dragged from output port ``k`` of a Split.
        self.src = port_ref(port.node_id, port.index)
        self._start = port.node.output_anchor(port.index)
        self._target: NodeItem | None = None
        self._line = QGraphicsPathItem()
        pen = QPen(theme.SELECTED, 2.0, Qt.PenStyle.DashLine)
        self._line.setPen(pen)
        self._line.setZValue(10)
        view.scene().addItem(self._line)

    def move(self, event: QMouseEvent) -> None:
        pos = self.view.mapToScene(event.position().toPoint())
        target = self._target_at(pos)
        if target is not self._target:
            self._set_target(target)
        end = target.input_anchor(0, 1) if target is not None else pos
        self._line.setPath(edge_path(self._start, end))

    def release(self, event: QMouseEvent) -> None:
        self.move(event)
        target = self._target
        self.cancel()
        document = self.view.graph_scene.document
        if target is not None and document is not None:
            document.connect_nodes(self.src, target.node_id)

    def cancel(self) -> None:
        self._set_target(None)
        if self._line.scene() is not None:
            self._line.scene().removeItem(self._line)

    def _target_at(self, pos: QPointF) -> NodeItem | None:
        """The node whose input port (or box) is under ``pos`` and that can take this source."""
        document = self.view.graph_scene.document
        for item in self.view.scene().items(pos):
            if item is self._line:
                continue
            node = item.node if isinstance(item, PortItem) else item
            if isinstance(node, NodeItem) and not isinstance(node, GroupItem) and node.input_port is not None:
                ok = document is not None and document.can_connect(self.src, node.node_id)
                return node if ok else None
        return None

    def _set_target(self, target: NodeItem | None) -> None:
        if self._target is not None and self._target.input_port is not None:
            self._target.input_port.set_highlight(False)
        self._target = target
        if target is not None and target.input_port is not None:
            target.input_port.set_highlight(True)
