"""The scene's group frames: one per expanded dotted-id group, refreshed once per event-loop pass after changes."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QTimer

from designer.editing.layout import WRAP_GAP

from .. import theme
from . import scene_content as sc
from .group_frame import GroupFrameItem
from .node_item import Covering

if TYPE_CHECKING:
    from .scene import GraphScene


class FrameSet:
    """Keeps a ``GroupFrameItem`` for every group with two or more shown members, fitted around them.

    Edits, moves and new analyses only mark the frames stale; they are rebuilt in one pass when the event loop next
    runs, so opening a design or dragging a selection does not refit every frame once per moved block.
    """

    def __init__(self, scene: GraphScene):
        self.scene = scene
        self.frames: dict[str, GroupFrameItem] = {}
        self._pending = False

    def schedule(self) -> None:
        """Refresh the frames when the event loop next runs."""
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self._refresh_if_pending)

    def flush(self) -> None:
        """Refresh now if a refresh is pending: before the scene's first paint after a bulk change, so that the
        frames' own changes do not call for a second paint of the whole view in the next event-loop pass."""
        if self._pending:
            self.refresh()

    def _refresh_if_pending(self) -> None:
        if self._pending:  # not flushed since it was scheduled
            self.refresh()

    def clear(self) -> None:
        """Forget every frame (the scene removes its items itself)."""
        self.frames = {}

    def refresh(self) -> None:
        """Make the frames match the groups, the blocks' places and the analysis now."""
        self._pending = False
        scene = self.scene
        if scene.document is None:
            return
        wanted = self._groups()
        for prefix in [p for p in self.frames if p not in wanted]:
            scene.removeItem(self.frames.pop(prefix))
        for prefix, members in wanted.items():
            frame = self.frames.get(prefix)
            if frame is None:
                frame = self.frames[prefix] = GroupFrameItem(prefix, members)
                scene.addItem(frame)
            frame.members = members
        boxes = self._boxes()
        pieces = {prefix: _pieces(frame.members, boxes) for prefix, frame in self.frames.items()}
        inner: dict[str, list[GroupFrameItem]] = {prefix: [] for prefix in self.frames}
        for prefix, frame in self.frames.items():
            parent = _parent_frame(prefix, self.frames)
            if parent is not None:
                inner[parent].append(frame)
        wide = self._widened(pieces)
        for prefix, frame in self.frames.items():
            frame.inner = inner[prefix]
            frame.set_pieces([r for r, _ in pieces[prefix]], wide[prefix])
        self.refresh_content()
        self._mark_covered()

    def _widened(self, pieces: dict[str, list[tuple[QRectF, int]]]) -> dict[str, list[QRectF]]:
        """Each piece stretched across its column, where that overlaps no unrelated group: room for the texts a
        covering frame shows (a chain of blocks is much narrower than its name at a far zoom). Pieces are binned by
        the column-wide strips they cross, so a stretched piece is checked against those that share a strip only."""
        display = self.scene.display
        strips = _Strips(display.left, display.pitch)
        for prefix, rects in pieces.items():
            for rect, _column in rects:
                strips.add(rect, prefix)
        out: dict[str, list[QRectF]] = {}
        for prefix, rects in pieces.items():
            out[prefix] = []
            for rect, column in rects:
                x0, x1 = display.column_span(column)
                x0, x1 = min(x0 - WRAP_GAP / 3, rect.left()), max(x1 + WRAP_GAP / 3, rect.right())
                wide = QRectF(x0, rect.top(), x1 - x0, rect.height())
                clash = any(wide.intersects(other) for p, other in strips.near(wide) if not _related(p, prefix))
                out[prefix].append(rect if clash else wide)
        return out

    def _groups(self) -> dict[str, list[str]]:
        """Every group prefix of the shown blocks with at least two of them."""
        groups: dict[str, list[str]] = {}
        for nid in self.scene.nodes:
            if self.scene.collapsed_ancestor(nid) is not None:
                continue
            parts = nid.split(".")
            for k in range(1, len(parts)):
                groups.setdefault(".".join(parts[:k]), []).append(nid)
        return {p: m for p, m in groups.items() if len(m) >= 2}

    def _boxes(self) -> dict[str, tuple[QRectF, int]]:
        """The drawn box of each shown block with a model position, and its column: found once for every frame."""
        scene = self.scene
        assert scene.document is not None
        graph, display = scene.document.graph, scene.display
        w, h = theme.NODE_WIDTH, theme.NODE_HEIGHT
        boxes = {}
        for nid, item in scene.nodes.items():
            pos = graph[nid].pos if nid in graph else None
            if pos is None or scene.collapsed_ancestor(nid) is not None:
                continue
            p = item.pos()
            boxes[nid] = (QRectF(p.x() - w / 2, p.y() - h / 2, w, h), display.column(pos[1]))
        return boxes

    def _mark_covered(self) -> None:
        """Tell each block and edge which frames may cover it (innermost first), so that zoomed out, under a frame
        drawn over it, it is not drawn at all: hundreds of hidden blocks and edges made an overview's repaint slow."""
        scene = self.scene
        by_group: dict[str, list[Covering]] = {}  # the blocks of one group share their frames
        for nid, item in scene.nodes.items():
            group = nid.rpartition(".")[0]
            covering = by_group.get(group)
            if covering is None:
                covering = by_group[group] = [
                    self.frames[p] for p in reversed(list(sc.ancestors(nid))) if p in self.frames
                ]
            if covering != item.covering:
                item.covering = covering
                item.update()  # its cached picture may be of the other state
        for _index, edge in scene.edges.made():
            common = [p for p in sc.ancestors(edge.src_node) if p in self.frames and edge.dst.startswith(p + ".")]
            if not common:
                edge.covering = []
                continue
            bounds = edge.sceneBoundingRect()
            edge.covering = [
                f for f in (self.frames[p] for p in reversed(common)) if any(w.contains(bounds) for w in f.wide_pieces)
            ]

    def refresh_content(self, prefixes: Iterable[str] | None = None) -> None:
        """The texts of these frames (None: all) from the scene's analysis; their places stay."""
        scene = self.scene
        analysis = scene.analysis
        if scene.document is None or analysis is None:
            return
        chosen = self.frames if prefixes is None else {p: self.frames[p] for p in prefixes}
        if not chosen:
            return
        by_node = sc.diagnostics_by_node(analysis)
        groups = {prefix: frame.members for prefix, frame in chosen.items()}
        contents = sc.group_contents(scene.document.graph, groups, analysis, by_node)
        for prefix, frame in chosen.items():
            frame.set_content(contents[prefix])


class _Strips:
    """Rectangles binned by the vertical strips, one column pitch wide, that they cross."""

    def __init__(self, left: float, pitch: float):
        self.left, self.pitch = left, pitch if pitch > 0 else math.inf
        self.bins: dict[int, list[tuple[str, QRectF]]] = {}

    def _span(self, rect: QRectF) -> range:
        first = math.floor((rect.left() - self.left) / self.pitch)
        return range(first, math.floor((rect.right() - self.left) / self.pitch) + 1)

    def add(self, rect: QRectF, prefix: str) -> None:
        """File ``rect`` of group ``prefix`` under every strip it crosses."""
        for k in self._span(rect):
            self.bins.setdefault(k, []).append((prefix, rect))

    def near(self, rect: QRectF) -> Iterator[tuple[str, QRectF]]:
        """The rectangles filed under a strip ``rect`` crosses (one may come more than once)."""
        for k in self._span(rect):
            yield from self.bins.get(k, ())


def _pieces(members: list[str], boxes: dict[str, tuple[QRectF, int]]) -> list[tuple[QRectF, int]]:
    """One rectangle per column around the member blocks drawn in it, with the column."""
    by_column: dict[int, QRectF] = {}
    for member in members:
        found = boxes.get(member)
        if found is None:
            continue
        box, column = found
        by_column[column] = by_column[column].united(box) if column in by_column else box
    return [(by_column[c], c) for c in sorted(by_column)]


def _related(a: str, b: str) -> bool:
    """Whether one group is the other or inside it."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _parent_frame(prefix: str, frames: dict[str, GroupFrameItem]) -> str | None:
    """The nearest enclosing group that has a frame."""
    parts = prefix.split(".")
    for k in range(len(parts) - 1, 0, -1):
        parent = ".".join(parts[:k])
        if parent in frames:
            return parent
    return None
