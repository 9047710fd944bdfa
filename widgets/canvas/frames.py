"""The scene's group frames: one per expanded dotted-id group, refreshed once per event-loop pass after changes."""

from __future__ import annotations

from collections.abc import Iterable
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
            QTimer.singleShot(0, self.refresh)

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
        pieces = {prefix: self._pieces(frame) for prefix, frame in self.frames.items()}
        for prefix, frame in self.frames.items():
            frame.inner = [f for p, f in self.frames.items() if _parent_frame(p, self.frames) == prefix]
            frame.set_pieces([r for r, _ in pieces[prefix]], self._widened(prefix, pieces))
        self.refresh_content()
        self._mark_covered()

    def _widened(self, prefix: str, pieces: dict[str, list[tuple[QRectF, int]]]) -> list[QRectF]:
        """Each piece stretched across its column, where that overlaps no unrelated group: room for the texts a
        covering frame shows (a chain of blocks is much narrower than its name at a far zoom)."""
        out = []
        for rect, column in pieces[prefix]:
            x0, x1 = self.scene.display.column_span(column)
            x0, x1 = x0 - WRAP_GAP / 3, x1 + WRAP_GAP / 3
            wide = QRectF(min(x0, rect.left()), rect.top(), max(x1, rect.right()) - min(x0, rect.left()), rect.height())
            clash = any(
                wide.intersects(other) for p, rects in pieces.items() if not _related(p, prefix) for other, _ in rects
            )
            out.append(rect if clash else wide)
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

    def _pieces(self, frame: GroupFrameItem) -> list[tuple[QRectF, int]]:
        """One rectangle per column around the member blocks drawn in it, with the column."""
        scene = self.scene
        assert scene.document is not None
        graph, display = scene.document.graph, scene.display
        w, h = theme.NODE_WIDTH, theme.NODE_HEIGHT
        by_column: dict[int, QRectF] = {}
        for member in frame.members:
            pos = graph[member].pos if member in graph else None
            if pos is None:
                continue
            p = scene.nodes[member].pos()
            box = QRectF(p.x() - w / 2, p.y() - h / 2, w, h)
            column = display.column(pos[1])
            by_column[column] = by_column[column].united(box) if column in by_column else box
        return [(by_column[c], c) for c in sorted(by_column)]

    def _mark_covered(self) -> None:
        """Tell each block and edge which frames may cover it (innermost first), so that zoomed out, under a frame
        drawn over it, it is not drawn at all: hundreds of hidden blocks and edges made an overview's repaint slow."""
        scene = self.scene
        for nid, item in scene.nodes.items():
            covering: list[Covering] = [self.frames[p] for p in reversed(list(sc.ancestors(nid))) if p in self.frames]
            if covering != item.covering:
                item.covering = covering
                item.update()  # its cached picture may be of the other state
        for _index, edge in scene.edges.made():
            common = [p for p in sc.ancestors(edge.src) if p in self.frames and edge.dst.startswith(p + ".")]
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
