"""The scene's groups: which dotted-id groups are collapsed into one box, and the boxes of their hidden members,
made only when first shown or asked for."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from designer.model.graph import ref_node

from . import scene_content as sc
from .group_item import GroupItem
from .node_item import NodeContent, NodeItem
from .scene_display import DisplayScene

if TYPE_CHECKING:
    from PySide6.QtGui import QColor

    from designer.analysis.validate import Analysis
    from designer.model.graph import Node


class NodeItems(dict[str, NodeItem]):
    """The node boxes made so far, by id. A member of a collapsed group gets its box when first asked for
    (``nodes[id]``) or shown: a big design opens on a few group boxes without making its hundreds of hidden ones."""

    def __init__(self, make: Callable[[str], NodeItem | None]):
        super().__init__()
        self._make = make

    def __missing__(self, node_id: str) -> NodeItem:
        item = self._make(node_id)
        if item is None:
            raise KeyError(node_id)
        return item


class GroupScene(DisplayScene):
    """Collapsing and expanding groups (``GraphScene`` adds the items and follows the document)."""

    #: Collapsed group prefixes (view state, not part of the design).
    collapsed: set[str]
    _analysis: Analysis | None
    tints: dict[str, QColor]
    box_cache: bool

    def _add_node_item(self, node: Node, content: NodeContent | None = None, place: bool = True) -> NodeItem:
        """Make and add the box of ``node``, showing ``content``, where it is drawn unless not ``place`` (see
        ``GraphScene``)."""
        raise NotImplementedError

    def sync_edges(self) -> None:
        """Make or drop edge items as groups open and close (see ``GraphScene``)."""
        raise NotImplementedError

    def collapsed_ancestor(self, node_id: str) -> str | None:
        """The outermost collapsed group containing ``node_id``."""
        collapsed = self.collapsed
        if collapsed:
            end = node_id.find(".")
            while end != -1:
                if node_id[:end] in collapsed:
                    return node_id[:end]
                end = node_id.find(".", end + 1)
        return None

    def collapse(self, prefix: str) -> bool:
        """Show the dotted-id group ``prefix`` as one box; False if no node belongs to it."""
        if self.document is None or not sc.group_members(self.document.graph, prefix):
            return False
        self.collapsed.add(prefix)
        self.sync_groups()
        return True

    def expand(self, prefix: str) -> None:
        """Show the members of group ``prefix`` again."""
        self.collapsed.discard(prefix)
        self.sync_groups()

    def expand_all(self, place: bool = True) -> None:
        """Expand every collapsed group (``place``: as for ``sync_groups``)."""
        self.collapsed.clear()
        self.sync_groups(place)

    def _sync_groups_if_needed(self, node_id: str) -> None:
        if self.collapsed and self.collapsed_ancestor(node_id) is not None:
            self.sync_groups()

    def sync_groups(self, place: bool = True) -> None:
        """Make the group boxes, member visibility and edge routes match ``collapsed``.

        ``place=False`` leaves placing the boxes and routing the edges to the ``rewrap`` that the caller runs next (a
        fit): done here too, a big design would be placed and routed twice.
        """
        with self.unindexed():
            self._sync_groups(place)

    def _sync_groups(self, place: bool) -> None:
        assert self.document is not None
        graph = self.document.graph
        members_of = sc.members_by_group(graph, self.collapsed)
        self.collapsed = {p for p in self.collapsed if members_of[p]}
        shown = {p for p in self.collapsed if self.collapsed_ancestor(p + ".x") == p}
        for prefix in list(self.groups):
            if prefix not in shown:
                self.removeItem(self.groups.pop(prefix))
        by_node = sc.diagnostics_by_node(self._analysis) if self._analysis is not None else {}
        self._make_hidden_items(  # members of groups just expanded, placed with the rest below or by the caller
            [n for n in graph.ids() if n not in self.nodes and self.collapsed_ancestor(n) is None], place=False
        )
        contents = sc.group_contents(graph, {p: members_of[p] for p in shown}, self._analysis, by_node)
        for prefix in shown:
            members = members_of[prefix]
            box = self.groups.get(prefix)
            if box is None:
                box = self.groups[prefix] = GroupItem(prefix, members, NodeContent(prefix, "", "", ""), self.box_cache)
                box.tint = self.tints.get(prefix)
                self.addItem(box)
                box.setSelected(any(i.isSelected() for m in members if (i := self.nodes.get(m)) is not None))
            box.members = members
            box.set_content(contents[prefix])
        for nid, item in self.nodes.items():
            hidden = self.collapsed_ancestor(nid) is not None
            if hidden and item.isSelected():
                item.setSelected(False)
            item.setVisible(not hidden)
        self.sync_edges()
        self.unrouted = True  # edges into and out of groups change ends or visibility, moved or not
        if place:
            self._place_all()

    def _make_hidden_item(self, node_id: str) -> NodeItem | None:
        """The box of a node not shown so far (a member of a collapsed group), made now with its content."""
        return self._make_hidden_items([node_id]).get(node_id)

    def _make_hidden_items(self, node_ids: list[str], place: bool = True) -> dict[str, NodeItem]:
        """The boxes of nodes not shown so far, made with their content; their edges are routed by the caller
        (``place=False``: so are the boxes, which wait at the origin)."""
        if self.document is None:
            return {}
        graph, analysis = self.document.graph, self._analysis
        outputs = {ref_node(o) for o in graph.output_ids()}
        by_node = sc.diagnostics_by_node(analysis) if analysis is not None else {}
        made = {}
        placing, self.placing = self.placing, True
        try:
            for node_id in node_ids:
                if node_id not in graph:
                    continue
                node = graph[node_id]
                content = (
                    sc.node_content(node, analysis, by_node.get(node_id, []), outputs) if analysis is not None else None
                )
                item = made[node_id] = self._add_node_item(node, content, place)
                if self.collapsed_ancestor(node_id) is not None:
                    item.setVisible(False)
        finally:
            self.placing = placing
        return made
