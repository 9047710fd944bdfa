"""The canvas scene: node, edge and group items kept in step with the document's graph events."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPointF, QRect, QRectF, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from designer.analysis.validate import Analysis
from designer.layers.registry import get_spec
from designer.model.graph import Node, ref_node

from .. import theme
from .edge_item import EdgeItem
from .edge_table import EdgeTable
from .frames import FrameSet
from .group_item import GroupItem
from .node_item import NodeContent, NodeItem
from .scene_analysis import AnalysisScene
from .scene_groups import NodeItems

if TYPE_CHECKING:
    from ..document.document import Document


class GraphScene(AnalysisScene):
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
        self.edges = EdgeTable()
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._analysis: Analysis | None = None
        #: Body fills by node id or group prefix when coloured by cost (view state; ``cost_tint.apply_tints``).
        self.tints: dict[str, QColor] = {}
        self.frames = FrameSet(self)
        #: Whether boxes keep a picture of themselves (``set_box_cache``).
        self.box_cache = True
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.setBackgroundBrush(theme.BACKGROUND)

    # -- wiring ---------------------------------------------------------------------------------------------------

    def set_document(self, document: Document, collapsed: AbstractSet[str] = frozenset(), place: bool = True) -> None:
        """Show ``document``, with the groups ``collapsed`` as one box each, and follow its graph events from now on
        (``place=False``: the caller fits the view next, which places the boxes; see ``sync_groups``)."""
        self.clear_document()
        self.document = document
        self._handlers = {
            "node_added": self._on_node_added,
            "node_removed": self._on_node_removed,
            "node_renamed": self._on_node_renamed,
            "edge_added": self._on_edge_added,
            "edge_removed": self._on_edge_removed,
            "field_changed": self._on_field_changed,
            "param_changed": self._on_param_changed,
        }
        for name, handler in self._handlers.items():
            getattr(document.graph.events, name).connect(handler)
        document.analysis_changed.connect(self._on_analysis)
        self.collapsed = set(collapsed)
        with self.unindexed():
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
            self._on_analysis(document.analysis)
            self.sync_groups(place)
        self.frames.schedule()

    def restyle(self) -> None:
        """Repaint every item in the current theme's colours (texts, tooltips and the background)."""
        self.setBackgroundBrush(theme.BACKGROUND)
        for item in self.nodes.values():
            item.key = None
        for _index, edge in self.edges.made():
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
        self.nodes, self.groups, self.edges = NodeItems(self._make_hidden_item), {}, EdgeTable()
        self.collapsed = set()
        self._analysis = None
        self.tints = {}
        self.reset_display()

    # -- graph events ---------------------------------------------------------------------------------------------

    def _on_node_added(self, node: Node, index: int) -> None:
        self._add_node_item(node)
        for i, src in enumerate(node.inputs):
            self._add_edge_item(src, node.id, i)
        for edge in self.edges.outputs.get(node.id, []):
            self._route(edge)
        self._sync_groups_if_needed(node.id)
        self.frames.schedule()

    def _on_node_removed(self, node: Node, index: int) -> None:
        for edge in self.edges.take_node(node.id):
            self._remove_edge_item(edge)
        item = self.nodes.pop(node.id, None)
        if item is not None:
            self.removeItem(item)
        for edge in self.edges.outputs.get(node.id, []):
            self._route(edge)
        self._sync_groups_if_needed(node.id)
        self.frames.schedule()

    def _on_node_renamed(self, old: str, new: str) -> None:
        item = self.nodes.pop(old, None)
        if item is not None:
            item.node_id = new
            self.nodes[new] = item
        self.edges.rename(old, new)
        if self.collapsed:
            self.sync_groups()
        self.frames.schedule()

    def _on_edge_added(self, src: str, dst: str, index: int) -> None:
        self._add_edge_item(src, dst, index)

    def _on_edge_removed(self, src: str, dst: str, index: int) -> None:
        edge = self.edges.take(dst, index, keep_slot=False)
        if edge is not None:
            self._remove_edge_item(edge)
        for e in self.edges.into(dst):
            self._route(e)

    def _on_field_changed(self, node_id: str, name: str, old: Any, new: Any) -> None:
        if name != "pos":
            return
        if self.collapsed and self.collapsed_ancestor(node_id) is not None:
            self._place_all()  # a hidden member moved: the group's extent, hence every shift, may change
        elif node_id in self.nodes:
            self.nodes[node_id].setPos(self.display_pos(new))
            self.node_moved(self.nodes[node_id])

    def _on_param_changed(self, node_id: str, name: str, old: Any, new: Any) -> None:
        """A Split's parts changed: as many output ports as it now has, and its wires follow them."""
        item = self.nodes.get(node_id)
        if item is None or item.spec is None or not item.spec.multi_output or self.document is None:
            return
        if item.set_output_count(item.spec.output_count(self.document.graph[node_id].params)):
            for edge in self.edges.outputs.get(node_id, []):
                self._route(edge)

    # -- items ----------------------------------------------------------------------------------------------------

    def _add_node_item(self, node: Node, content: NodeContent | None = None, place: bool = True) -> NodeItem:
        if content is None:  # its texts follow with the analysis of the edit
            content = NodeContent(node.label or node.id, node.type, "", "→ …")
        item = NodeItem(node.id, get_spec(node.type), content, cached=self.box_cache)
        item.tint = self.tints.get(node.id)
        if item.spec is not None and item.spec.multi_output:
            item.set_output_count(item.spec.output_count(node.params))
        self.nodes[node.id] = item
        self.addItem(item)
        if place:
            item.setPos(self.display_pos(node.pos))
        return item

    def set_box_cache(self, on: bool) -> None:
        """Let boxes keep a picture of themselves, or not. Worth it zoomed in, where a box draws five texts; zoomed
        out, a box is a plain block or hidden under its group's frame, and a picture per box at each new zoom cost
        a fifth of the first paint of an expanded big design."""
        if on != self.box_cache:
            self.box_cache = on
            mode = QGraphicsItem.CacheMode.DeviceCoordinateCache if on else QGraphicsItem.CacheMode.NoCache
            for item in [*self.nodes.values(), *self.groups.values()]:
                item.setCacheMode(mode)

    def _add_edge_item(self, src: str, dst: str, index: int) -> None:
        """A new input slot of ``dst``; its item is made unless the edge lies inside a collapsed group."""
        self.edges.insert(dst, index, None)
        if not self._inside_collapsed(src, dst):  # its label and state follow with the analysis of the edit
            self.edges.put(dst, index, self._make_edge_item(src, dst))
        if not self.placing:
            for e in self.edges.into(dst):
                self._route(e)

    def _make_edge_item(self, src: str, dst: str, add: bool = True) -> EdgeItem:
        edge = EdgeItem(src, dst)
        if add:
            self._add_edge_items([edge])
        return edge

    def _add_edge_items(self, edges: list[EdgeItem]) -> None:
        for edge in edges:
            self.addItem(edge)
            self.addItem(edge.label)

    def _inside_collapsed(self, src: str, dst: str) -> bool:
        """Whether the edge runs inside one collapsed group, so no one sees it."""
        return (
            bool(self.collapsed)
            and (group := self.collapsed_ancestor(ref_node(src))) is not None
            and (group == self.collapsed_ancestor(dst))
        )

    def sync_edges(self) -> None:
        """Make the items of edges a group opened up; drop those of edges a collapsed group now hides."""
        made: list[tuple[int, EdgeItem]] = []
        assert self.document is not None
        graph = self.document.graph
        for dst, index, edge in list(self.edges.slots()):
            src = edge.src if edge is not None else graph[dst].inputs[index] if dst in graph else None
            if src is None:
                continue
            inside = self._inside_collapsed(src, dst)
            if edge is None and not inside:
                edge = self._make_edge_item(src, dst, add=False)
                self.edges.put(dst, index, edge)
                made.append((index, edge))
            elif edge is not None and inside and not edge.isSelected():
                self.edges.take(dst, index, keep_slot=True)
                self._remove_edge_item(edge)
        if made:
            # Labelled before they join the scene: out of it, a label's new size and text tell no one.
            self._refresh_edges(made, self._by_node())
            self._add_edge_items([edge for _index, edge in made])

    def _remove_edge_item(self, edge: EdgeItem) -> None:
        self.removeItem(edge.label)
        self.removeItem(edge)

    def node_moved(self, item: NodeItem) -> None:
        """A node or group box was moved (by a drag, or to its new place): its edges follow, and the frames."""
        self.frames.schedule()
        if self.placing:
            return
        if isinstance(item, GroupItem):
            for member in item.members:
                self._route_node_edges(member)
            return
        self._route_node_edges(item.node_id)

    def _route_node_edges(self, node_id: str) -> None:
        for edge in self.edges.touching(node_id):
            self._route(edge)

    def route_all(self) -> None:
        """Route every edge again (after boxes moved in bulk)."""
        for _index, edge in self.edges.made():
            self._route(edge)

    def route_nodes(self, node_ids: list[str]) -> None:
        """Route the edges of these nodes again, each edge once."""
        if len(node_ids) * 2 > len(self.nodes):
            self.route_all()
            return
        edges = {id(e): e for n in node_ids for e in self.edges.touching(n)}
        for edge in edges.values():
            self._route(edge)

    def _route(self, edge: EdgeItem) -> None:
        src, dst = self.visible_item(edge.src_node), self.visible_item(edge.dst)
        if src is None or dst is None or src is dst:
            edge.set_shown(False)
            return
        edge.set_shown(True)
        if isinstance(dst, GroupItem):
            end = dst.input_anchor(0, 1)
        else:
            end = dst.input_anchor(self.edges.index_of(edge), self.edges.count(edge.dst))
        edge.set_ends(src.output_anchor(edge.src_port), end)

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
            (e.dst, self.edges.index_of(e)) for e in self.selectedItems() if isinstance(e, EdgeItem) and e.isVisible()
        ]

    def edges_into(self, node_id: str) -> list[EdgeItem]:
        """The edge items of ``node_id``'s inputs, in input order (those inside a collapsed group made now)."""
        for index, edge in enumerate(self.edges.inputs.get(node_id, [])):
            if edge is None and self.document is not None and node_id in self.document.graph:
                made = self._make_edge_item(self.document.graph[node_id].inputs[index], node_id)
                self.edges.put(node_id, index, made)
                self._refresh_edges([(index, made)], self._by_node())
                self._route(made)
        return self.edges.into(node_id)

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
