"""Copy and paste of nodes as text: the file format's node objects, re-identified on paste."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from designer.model import fileformat
from designer.model.graph import Graph, Node, NodeId, port_ref, ref_node, split_ref

MIME_TYPE = "application/x-cnn-designer-nodes"
_MARK = "cnn-designer/nodes"


def nodes_to_text(graph: Graph, ids: Iterable[str]) -> str:
    """The chosen nodes, in file order, as JSON text; inputs from outside the selection are kept for reference."""
    chosen = set(ids)
    nodes = [fileformat.node_to_dict(n) for n in graph if n.id in chosen]
    return json.dumps({"format": _MARK, "nodes": nodes}, ensure_ascii=False)


def text_to_nodes(text: str) -> list[Node] | None:
    """Nodes read back from ``nodes_to_text`` output; None when the text is not such a payload."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _MARK or not isinstance(data.get("nodes"), list):
        return None
    try:
        project = fileformat.from_dict({"format": fileformat.FORMAT, "name": "clip", "nodes": data["nodes"]})
    except fileformat.ProjectError:
        return None
    return project.nodes


def referenced_ids(graph: Graph) -> set[str]:
    """Every id the graph mentions: nodes, inputs (even dangling ones) and declared outputs."""
    ids: set[str] = set(graph.ids())
    for node in graph:
        ids.update(node.sources)
    ids.update(ref_node(o) for o in graph.outputs or ())
    return ids


def free_id(base: str, taken: set[str]) -> NodeId:
    """``base`` if nobody uses it, else ``base_2``, ``base_3``, ..."""
    if base not in taken:
        return NodeId(base)
    k = 2
    while f"{base}_{k}" in taken:
        k += 1
    return NodeId(f"{base}_{k}")


def reidentify(nodes: list[Node], graph: Graph, keep_external: bool = False) -> list[Node]:
    """Copies of ``nodes`` with ids free in ``graph``; inputs among them follow, outside inputs are dropped or kept."""
    taken = referenced_ids(graph)
    mapping: dict[str, NodeId] = {}
    for node in nodes:
        mapping[node.id] = free_id(node.id, taken)
        taken.add(mapping[node.id])
    out = []
    for node in nodes:
        copy = node.clone()
        copy.id = mapping[node.id]
        copy.inputs = [
            _remapped(s, mapping)
            for s in node.inputs
            if ref_node(s) in mapping or (keep_external and ref_node(s) in graph)
        ]
        out.append(copy)
    return out


def _remapped(ref: NodeId, mapping: dict[str, NodeId]) -> NodeId:
    """``ref`` with its node renamed by ``mapping`` (output index kept: a pasted Split's ``"s:1"`` reads the copy's)."""
    node_id, port = split_ref(ref)
    return port_ref(mapping[node_id], port) if node_id in mapping else ref


def shift_positions(nodes: list[Node], offset: tuple[float, float]) -> None:
    """Move every placed node by ``offset``."""
    dx, dy = offset
    for node in nodes:
        if node.pos is not None:
            node.pos = (round(node.pos[0] + dx), round(node.pos[1] + dy))


def centre(nodes: list[Node]) -> tuple[float, float] | None:
    """The mean position of the placed nodes (None if none is placed)."""
    placed = [n.pos for n in nodes if n.pos is not None]
    if not placed:
        return None
    return (sum(p[0] for p in placed) / len(placed), sum(p[1] for p in placed) / len(placed))


def as_json_value(value: Any) -> Any:
    """Tuples as lists, as the file writes them."""
    return list(value) if isinstance(value, tuple) else value
