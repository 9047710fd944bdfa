"""The canvas scene: node, edge and group items kept in step with the document's graph events."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPointF, QRect, QRectF, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from designer.analysis.validate import Analysis
from designer.layers.registry import get_spec
from designer.model.graph import Node

from .. import theme
from . import scene_content as sc
from .edge_item import EdgeItem
from .frames import FrameSet
from .group_item import GroupItem
from .node_item import NodeContent, NodeItem
from .scene_groups import GroupScene, NodeItems

if TYPE_CHECKING:
    from ..document.document import Document


class GraphScene(GroupScene):
    """Items for one document; they change only in the ``_on_<event>`` handlers and on analysis updates."""

    node_activated = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.document: Document | None = None
        self.snap_to_grid = True
        self.nodes = NodeItems(self._make_hidden_item)
        self.groups: dict[str, GroupItem] = {}
        #: Collapsed group prefixes (view state, not part of the design).
        self.collapsed: set[str] = set()
        self._inputs: dict[str, list[EdgeItem]] = {}
        self._outputs: dict[str, list[EdgeItem]] = {}
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._analysis: Analysis | None = None
        self.frames = FrameSet(self)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.setBackgroundBrush(theme.BACKGROUND)

    # -- wiring ---------------------------------------------------------------------------------------------------

    def set_document(self, document: Document, collapsed: AbstractSet[str] = frozenset()) -> None:
        """Show ``document``, with the groups ``collapsed`` as one box each, and follow its graph events from now on."""
        self.clear_document()
        self.document = document
        self._handlers = {
            "node_added": self._on_node_added,
            "node_removed": self._on_node_removed,
            "node_renamed": self._on_node_renamed,
            "edge_added": self._on_edge_added,
            "edge_removed": self._on_edge_removed,
            "field_changed": self._on_field_changed,
        }
        for name, handler in self._handlers.items():
            getattr(document.graph.events, name).connect(handler)
        document.analysis_changed.connect(self._on_analysis)
        # Items are added with the scene's spatial index off and indexed once after: adding them to a live BSP tree
        # one by one is a large part of opening a big design.
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.collapsed = set(collapsed)
        self.placing = True
        try:
            for node in document.graph:
                if self.collapsed_ancestor(node.id) is None:  # hidden members get a box when first shown
                    self._add_node_item(node)
            for node in document.graph:
                for i, src in enumerate(node.inputs):
                    self._add_edge_item(src, node.id, i)
        finally:
            self.placing = False
            self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self._on_analysis(document.analysis)
        self.sync_groups()  # places the boxes and routes every edge once
        self.frames.schedule()

    def restyle(self) -> None:
        """Repaint every item in the current theme's colours (texts, tooltips and the background)."""
        self.setBackgroundBrush(theme.BACKGROUND)
        for item in self.nodes.values():
            item.key = None
        for edges in self._inputs.values():
            for edge in edges:
                edge.key = None
        if self._analysis is not None:
            self._on_analysis(self._analysis)
        self.update()

    def clear_document(self) -> None:
        """Unsubscribe from the document and drop every item."""
        if self.document is not None:
            for name, handler in self._handlers.items():
                getattr(self.document.graph.events, name).disconnect(handler)
            self.document.analysis_changed.disconnect(self._on_analysis)
        self.document = None
        self._handlers = {}
        self.clear()
        self.frames.clear()
        self.nodes, self.groups, self._inputs, self._outputs = NodeItems(self._make_hidden_item), {}, {}, {}
        self.collapsed = set()
        self._analysis = None
        self.reset_display()

    # -- graph events ---------------------------------------------------------------------------------------------

    def _on_node_added(self, node: Node, index: int) -> None:
        self._add_node_item(node)
        for i, src in enumerate(node.inputs):
            self._add_edge_item(src, node.id, i)
        for edge in self._outputs.get(node.id, []):
            self._route(edge)
        self._sync_groups_if_needed(node.id)
        self.frames.schedule()

    def _on_node_removed(self, node: Node, index: int) -> None:
        for edge in self._inputs.pop(node.id, []):
            self._outputs[edge.src].remove(edge)
            self._remove_edge_item(edge)
        item = self.nodes.pop(node.id, None)
        if item is not None:
            self.removeItem(item)
        for edge in self._outputs.get(node.id, []):
            self._route(edge)
        self._sync_groups_if_needed(node.id)
        self.frames.schedule()

    def _on_node_renamed(self, old: str, new: str) -> None:
        item = self.nodes.pop(old, None)
        if item is not None:
            item.node_id = new
            self.nodes[new] = item
        for table, attr in ((self._inputs, "dst"), (self._outputs, "src")):
            if old in table:
                table[new] = table.pop(old)
                for edge in table[new]:
                    setattr(edge, attr, new)
        if self.collapsed:
            self.sync_groups()
        self.frames.schedule()

    def _on_edge_added(self, src: str, dst: str, index: int) -> None:
        self._add_edge_item(src, dst, index)

    def _on_edge_removed(self, src: str, dst: str, index: int) -> None:
        edge = self._inputs[dst].pop(index)
        self._outputs[edge.src].remove(edge)
        self._remove_edge_item(edge)
        for e in self._inputs[dst]:
            self._route(e)

    def _on_field_changed(self, node_id: str, name: str, old: Any, new: Any) -> None:
        if name != "pos":
            return
        if self.collapsed and self.collapsed_ancestor(node_id) is not None:
            self._place_all()  # a hidden member moved: the group's extent, hence every shift, may change
        elif node_id in self.nodes:
            self.nodes[node_id].setPos(self.display_pos(new))

    def _on_analysis(self, analysis: Analysis) -> None:
        """Refresh item texts and states from a new analysis; only items whose inputs changed are recomputed."""
        assert self.document is not None
        self._analysis = analysis
        graph = self.document.graph
        by_node = sc.diagnostics_by_node(analysis)
        outputs = set(graph.output_ids())
        shapes: dict[str, tuple[int, ...] | None] = {nid: info.shape for nid, info in analysis.info.items()}
        for node in graph:
            item = self.nodes.get(node.id)
            if item is None:
                continue  # hidden in a collapsed group, not made yet: made with its content when shown
            info, diags = analysis.info.get(node.id), by_node.get(node.id, [])
            key = (
                node.id,
                node.label,
                node.type,
                node.frozen,
                info.ctx.p if info and info.ctx else dict(node.params),
                shapes.get(node.id),
                diags,
                node.id in outputs,
            )
            if key != item.key:
                item.key = key
                item.set_content(sc.node_content(node, analysis, diags, outputs))
        for dst, edges in self._inputs.items():
            diags = by_node.get(dst, [])
            for i, edge in enumerate(edges):
                edge_key = (edge.src, dst, edge.src in graph, shapes.get(edge.src), i, len(edges), diags)
                if edge_key != edge.key:
                    edge.key = edge_key
                    edge.set_state(*sc.edge_state(graph, analysis, edge.src, dst, i, diags))
        contents = sc.group_contents(graph, {p: box.members for p, box in self.groups.items()}, analysis, by_node)
        for prefix, box in self.groups.items():
            box.set_content(contents[prefix])
        self.frames.schedule()

    @property
    def analysis(self) -> Analysis | None:
        """The analysis the items show."""
        return self._analysis

    # -- items ----------------------------------------------------------------------------------------------------

    def _add_node_item(self, node: Node) -> NodeItem:
        content = NodeContent(node.label or node.id, node.type, "", "→ …")
        item = NodeItem(node.id, get_spec(node.type), content)
        self.nodes[node.id] = item
        self.addItem(item)
        item.setPos(self.display_pos(node.pos))
        return item

    def _add_edge_item(self, src: str, dst: str, index: int) -> EdgeItem:
        edge = EdgeItem(src, dst)
        self._inputs.setdefault(dst, []).insert(index, edge)
        self._outputs.setdefault(src, []).append(edge)
        self.addItem(edge)
        self.addItem(edge.label)
        if not self.placing:
            for e in self._inputs[dst]:
                self._route(e)
        return edge

    def _remove_edge_item(self, edge: EdgeItem) -> None:
        self.removeItem(edge.label)
        self.removeItem(edge)

    def node_moved(self, item: NodeItem) -> None:
        """Called by a node or group box whose position changed: follow with its edges (and its group box)."""
        self.frames.schedule()
        if self.placing:
            return
        if isinstance(item, GroupItem):
            for member in item.members:
                self._route_node_edges(member)
            return
        self._route_node_edges(item.node_id)

    def _route_node_edges(self, node_id: str) -> None:
        for edge in self._inputs.get(node_id, []):
            self._route(edge)
        for edge in self._outputs.get(node_id, []):
            self._route(edge)

    def route_all(self) -> None:
        """Route every edge again (after boxes moved in bulk)."""
        for edges in self._inputs.values():
            for edge in edges:
                self._route(edge)

    def route_nodes(self, node_ids: list[str]) -> None:
        """Route the edges of these nodes again, each edge once."""
        if len(node_ids) * 2 > len(self.nodes):
            self.route_all()
            return
        edges = {id(e): e for n in node_ids for e in self._inputs.get(n, []) + self._outputs.get(n, [])}
        for edge in edges.values():
            self._route(edge)

    def _route(self, edge: EdgeItem) -> None:
        src, dst = self.visible_item(edge.src), self.visible_item(edge.dst)
        if src is None or dst is None or src is dst:
            edge.set_shown(False)
            return
        edge.set_shown(True)
        if isinstance(dst, GroupItem):
            end = dst.input_anchor(0, 1)
        else:
            siblings = self._inputs[edge.dst]
            end = dst.input_anchor(siblings.index(edge), len(siblings))
        edge.set_ends(src.output_anchor(), end)

    def visible_item(self, node_id: str) -> NodeItem | None:
        """The item that shows ``node_id``: its own box, or the box of the collapsed group it is hidden in."""
        prefix = self.collapsed_ancestor(node_id) if self.collapsed else None
        item = self.nodes.get(node_id)
        return self.groups.get(prefix, item) if prefix else item

    def item_double_clicked(self, item: NodeItem) -> None:
        """A double-click expands a group box, or activates a node (the window shows it in the inspector)."""
        if isinstance(item, GroupItem):
            self.expand(item.node_id)
        else:
            self.node_activated.emit(item.node_id)

    # -- selection ------------------------------------------------------------------------------------------------

    def selected_node_ids(self) -> list[str]:
        """Selected nodes, members of selected group boxes included, in file order."""
        chosen: set[str] = set()
        for item in self.selectedItems():
            if isinstance(item, GroupItem):
                chosen.update(item.members)
            elif isinstance(item, NodeItem):
                chosen.add(item.node_id)
        return [nid for nid in self.document.graph.ids() if nid in chosen] if self.document is not None else []

    def selected_edges(self) -> list[tuple[str, int]]:
        """Selected connections as (dst, input index)."""
        return [
            (e.dst, self._inputs[e.dst].index(e))
            for e in self.selectedItems()
            if isinstance(e, EdgeItem) and e.isVisible()
        ]

    def edges_into(self, node_id: str) -> list[EdgeItem]:
        """The edge items of ``node_id``'s inputs, in input order."""
        return list(self._inputs.get(node_id, []))

    def select_node(self, node_id: str) -> QGraphicsItem | None:
        """Select only the item showing ``node_id``; return it."""
        item = self.visible_item(node_id)
        self.clearSelection()
        if item is not None:
            item.setSelected(True)
        return item

    def items_rect(self) -> QRectF:
        """The scene area covered by the visible boxes."""
        rect = QRectF()
        for item in list(self.nodes.values()) + list(self.groups.values()):
            if item.isVisible():
                rect = rect.united(item.sceneBoundingRect())
        return rect

    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        super().drawBackground(painter, rect)
        step = theme.GRID * 4
        if painter.worldTransform().m11() < 0.45:
            return  # dots would turn into a grey haze when zoomed far out
        painter.setPen(theme.GRID_DOT)
        x0 = int(rect.left() // step) * step
        y0 = int(rect.top() // step) * step
        points = [QPointF(x, y) for x in _frange(x0, rect.right(), step) for y in _frange(y0, rect.bottom(), step)]
        painter.drawPoints(points)


def _frange(start: float, stop: float, step: float) -> list[float]:
    out = []
    v = start
    while v <= stop:
        out.append(v)
        v += step
    return out
