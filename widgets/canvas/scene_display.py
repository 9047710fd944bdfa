"""The scene's half that places items: collapsed groups close up the rows they hid, tall designs wrap into columns."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPointF
from PySide6.QtWidgets import QGraphicsScene

from designer.editing.layout import WRAP_GAP, wrap_breaks

from .. import theme
from .display_map import DisplayMap
from .group_item import GroupItem
from .lod import FULL_ZOOM
from .node_item import NodeItem

if TYPE_CHECKING:
    from ..document.document import Document
    from .frames import FrameSet


class DisplayScene(QGraphicsScene):
    """Where each node and group box is drawn (``GraphScene`` adds the items and follows the document)."""

    document: Document | None
    nodes: dict[str, NodeItem]
    groups: dict[str, GroupItem]
    frames: FrameSet

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        #: Where items are drawn: closed up over collapsed groups, wrapped into columns (view state).
        self.display = DisplayMap()
        #: Whether Fit may wrap a tall design into columns.
        self.wrap_columns = True
        self._wrap_view: tuple[float, float] | None = None  # the view size the last wrap was made for
        #: While True, boxes moved in bulk do not route their edges one by one (``route_all`` follows once).
        self.placing = False
        #: Whether every edge must be routed at the next placing, moved or not (groups opened or closed).
        self.unrouted = False
        self._unindexed = 0

    @contextlib.contextmanager
    def unindexed(self) -> Iterator[None]:
        """Add or move items in bulk with the spatial index off; it is built once after, at the next paint. Kept on,
        the BSP tree is updated for each item added or moved: a large part of opening or expanding a big design."""
        self._unindexed += 1
        if self._unindexed == 1:
            self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        try:
            yield
        finally:
            self._unindexed -= 1
            if self._unindexed == 0:
                self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)

    def reset_display(self) -> None:
        """Forget closed-up rows and columns (a new document)."""
        self.display = DisplayMap()
        self._wrap_view = None

    def collapsed_ancestor(self, node_id: str) -> str | None:
        """The outermost collapsed group containing ``node_id`` (see ``GraphScene``)."""
        raise NotImplementedError

    def route_all(self) -> None:
        """Route every edge again (see ``GraphScene``)."""
        raise NotImplementedError

    def route_nodes(self, node_ids: list[str]) -> None:
        """Route the edges of these nodes again (see ``GraphScene``)."""
        raise NotImplementedError

    def display_pos(self, pos: tuple[float, float] | None) -> QPointF:
        """Where a node at model position ``pos`` is drawn."""
        return QPointF(0, 0) if pos is None else QPointF(*self.display.to_display(*pos))

    def model_pos(self, point: QPointF) -> tuple[float, float]:
        """The model position drawn at ``point`` (inverse of ``display_pos``, for drops)."""
        return self.display.to_model(point.x(), point.y())

    def rewrap(self, view: tuple[float, float] | None) -> None:
        """Cut the shown design into columns that fill a view of ``view`` (width, height) pixels; None: one column."""
        self._wrap_view = view if self.wrap_columns else None
        self._place_all()

    def _plan_columns(self) -> None:
        """Choose the column cuts for the shown boxes and the last wrapped view size (one column when off)."""
        assert self.document is not None
        graph, closing = self.document.graph, self.display.rows
        self.display = DisplayMap(rows=closing)
        shown = [graph[n].pos for n in graph.ids() if n in self.nodes and self.collapsed_ancestor(n) is None]
        shown += [self._group_model_pos(box) for box in self.groups.values()]
        points = [p for p in shown if p is not None]
        if not points:
            return
        rows: dict[float, int] = {}
        for _x, y in points:
            cy = self.display.closed_up(y)
            rows[cy] = rows.get(cy, 0) + 1
        left = min(x for x, _ in points) - theme.NODE_WIDTH / 2
        width = max(x for x, _ in points) + theme.NODE_WIDTH / 2 - left
        view = self._wrap_view
        breaks = wrap_breaks(rows, width, view, FULL_ZOOM, preferred=self._group_starts()) if view is not None else []
        pitch = math.ceil((width + WRAP_GAP) / theme.GRID) * theme.GRID  # columns on the grid: snapping stays true
        self.display = DisplayMap(closing, breaks, min(rows), left, pitch, width)

    def _group_starts(self) -> set[float]:
        """The closed-up y of each shown group's first row: where a cut into columns splits no block."""
        assert self.document is not None
        graph = self.document.graph
        first: dict[str, float] = {}
        for nid in self.nodes:
            pos = graph[nid].pos if nid in graph else None
            if pos is None or "." not in nid or self.collapsed_ancestor(nid) is not None:
                continue
            group = nid.rsplit(".", 1)[0]
            first[group] = min(first.get(group, pos[1]), pos[1])
        starts = {self.display.closed_up(y) for y in first.values()}
        starts |= {self.display.closed_up(p[1]) for box in self.groups.values() if (p := self._group_model_pos(box))}
        return starts

    def _group_model_pos(self, box: GroupItem) -> tuple[float, float] | None:
        """The model position of a group box: that of its topmost member."""
        assert self.document is not None
        graph = self.document.graph
        points = [p for m in box.members if m in graph and (p := graph[m].pos) is not None]
        return min(points, key=lambda p: (p[1], p[0]), default=None)

    def _place_all(self) -> None:
        """Close up hidden rows, plan the columns, put every item where its model position is drawn; reroute what
        moved."""
        with self.unindexed():
            self._place_and_route()

    def _place_and_route(self) -> None:
        assert self.document is not None
        graph = self.document.graph
        spans = []
        for box in self.groups.values():
            ys = [pos[1] for m in box.members if m in graph and (pos := graph[m].pos) is not None]
            if ys:
                spans.append((min(ys), max(ys)))
        shown = [p[1] for n in graph.ids() if (p := graph[n].pos) is not None and self.collapsed_ancestor(n) is None]
        self.display.close_up(shown + [top for top, _ in spans], spans)
        self._plan_columns()
        moved: list[str] = []
        self.placing = True
        try:
            for nid, item in self.nodes.items():
                target = self.display_pos(graph[nid].pos) if nid in graph else item.pos()
                if item.pos() != target:
                    item.setPos(target)
                    moved.append(nid)
            for box in self.groups.values():
                if self._place_group(box):
                    moved += box.members
        finally:
            self.placing = False
        if self.unrouted:
            self.unrouted = False
            self.route_all()
        else:
            self.route_nodes(moved)
        self.frames.schedule()

    def _place_group(self, box: GroupItem) -> bool:
        """A group box sits where its topmost member is drawn (the first row it hid); whether it moved."""
        top = self._group_model_pos(box)
        if top is None or box.pos() == self.display_pos(top):
            return False
        box.setPos(self.display_pos(top))
        return True
