"""Move: items follow the mouse freely; on release one command records the old and new place of every moved node."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF
from PySide6.QtGui import QMouseEvent

from ..group_item import GroupItem
from ..node_item import NodeItem
from .base import Interaction

if TYPE_CHECKING:
    from ..view import GraphView


class MoveInteraction(Interaction):
    """Remembers where the selected boxes were at the press; on release pushes one move for those that moved."""

    def __init__(self, view: GraphView):
        super().__init__(view)
        self._start = {item: item.pos() for item in view.scene().selectedItems() if isinstance(item, NodeItem)}

    def follow(self) -> None:
        """The view moved the selected boxes after the mouse: snap the grabbed one, route their edges."""
        for item in self._start:
            item.dragged()

    def release(self, event: QMouseEvent) -> None:
        document = self.view.graph_scene.document
        if document is None:
            return
        positions: dict[str, tuple[float, float]] = {}
        for item, start in self._start.items():
            delta = item.pos() - start
            if delta == QPointF(0, 0):
                continue
            # Offsets, not drawn positions: collapsed groups draw nodes above their model position.
            for member in item.members if isinstance(item, GroupItem) else [item.node_id]:
                if member in document.graph:
                    pos = document.graph[member].pos or (0.0, 0.0)
                    positions[member] = (pos[0] + delta.x(), pos[1] + delta.y())
        if positions:
            document.move_nodes(positions)

    def cancel(self) -> None:
        for item, start in self._start.items():
            item.setPos(start)
            item.dragged()
