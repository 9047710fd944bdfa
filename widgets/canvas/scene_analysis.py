"""The scene's items follow the document's analysis: box texts and states, edge labels, group and frame texts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from designer.analysis.validate import Analysis
from designer.model.diagnostics import Diagnostic
from designer.model.graph import Graph, NodeId, ref_node

from . import scene_content as sc
from .scene_groups import GroupScene

if TYPE_CHECKING:
    from .edge_item import EdgeItem
    from .edge_table import EdgeTable
    from .frames import FrameSet
    from .group_item import GroupItem
    from .scene_groups import NodeItems


class AnalysisScene(GroupScene):
    """Refreshing items from a new analysis (``GraphScene`` makes the items and follows the graph's events)."""

    nodes: NodeItems
    groups: dict[str, GroupItem]
    edges: EdgeTable
    frames: FrameSet

    def _on_analysis(self, analysis: Analysis) -> None:
        """Refresh item texts and states from a new analysis: when it names the nodes it changed since the one shown
        (a parameter edit), only their items, edges and groups; else every item whose inputs changed."""
        assert self.document is not None
        changed = analysis.changed_since(self._analysis) if analysis is not self._analysis else None
        self._analysis = analysis
        graph = self.document.graph
        by_node = sc.diagnostics_by_node(analysis)
        if changed is None:
            self._refresh_nodes(graph, graph.ids(), by_node)
            self._refresh_edges(self.edges.made(), by_node)
            self._refresh_groups(self.groups, by_node)
            self.frames.schedule()
            return
        shown = [n for n in changed if n in self.nodes]
        self._refresh_nodes(graph, shown, by_node)
        self._refresh_edges(self.edges.made_touching(changed), by_node)
        touched = sc.groups_touched(changed, analysis.passes.users if analysis.passes else graph.consumers())
        self._refresh_groups([p for p in touched if p in self.groups], by_node)
        self.frames.refresh_content([p for p in touched if p in self.frames.frames])

    def _refresh_nodes(self, graph: Graph, node_ids: Iterable[str], by_node: dict[str, list[Diagnostic]]) -> None:
        """Texts and states of these nodes' boxes (those made); only boxes whose inputs changed are recomputed."""
        analysis = self._analysis
        outputs = {ref_node(o) for o in graph.output_ids()}
        for nid in node_ids:
            item = self.nodes.get(nid)
            if item is None or analysis is None:
                continue  # hidden in a collapsed group, not made yet: made with its content when shown
            node, info, diags = graph[nid], analysis.info.get(NodeId(nid)), by_node.get(nid, [])
            key = (
                nid,
                node.label,
                node.type,
                node.frozen,
                info.ctx.p if info and info.ctx else dict(node.params),
                info.shape if info else None,
                info.ports if info else None,
                diags,
                nid in outputs,
            )
            if key != item.key:
                item.key = key
                item.set_content(sc.node_content(node, analysis, diags, outputs))

    def _refresh_groups(self, prefixes: Iterable[str], by_node: dict[str, list[Diagnostic]]) -> None:
        assert self.document is not None
        groups = {p: self.groups[p].members for p in prefixes}
        for prefix, content in sc.group_contents(self.document.graph, groups, self._analysis, by_node).items():
            self.groups[prefix].set_content(content)

    def _refresh_edges(self, edges: Iterable[tuple[int, EdgeItem]], by_node: dict[str, list[Diagnostic]]) -> None:
        """Labels and states of these (input index, item) from the analysis; only edges whose inputs changed."""
        analysis, graph = self._analysis, self.document.graph if self.document is not None else None
        if analysis is None or graph is None:
            return
        for i, edge in edges:
            diags = by_node.get(edge.dst, [])
            key = (
                edge.src,
                edge.dst,
                edge.src_node in graph,
                analysis.shape(edge.src),
                i,
                self.edges.count(edge.dst),
                diags,
            )
            if key != edge.key:
                edge.key = key
                edge.set_state(*sc.edge_state(graph, analysis, edge.src, edge.dst, i, diags))

    @property
    def analysis(self) -> Analysis | None:
        """The analysis the items show."""
        return self._analysis

    def _by_node(self) -> dict[str, list[Diagnostic]]:
        return sc.diagnostics_by_node(self._analysis) if self._analysis is not None else {}
