"""Where the window puts what an edit adds: below the node it follows, right of everything, or in a small layered
layout of its own; and which nodes move down to make room. Pure Python (no Qt); positions are node centres."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from designer.model.graph import Graph, Node, NodeId

from .layout import COLUMN_STEP, ROW_STEP, layered_layout

if TYPE_CHECKING:
    from designer.analysis.validate import Analysis

Pos = tuple[float, float]


def free_spot(graph: Graph) -> Pos:
    """Right of every placed node, level with the top (the origin of an empty design)."""
    placed = [n.pos for n in graph if n.pos is not None]
    if not placed:
        return (0.0, 0.0)
    return (max(p[0] for p in placed) + COLUMN_STEP, min(p[1] for p in placed))


def below(graph: Graph, node_id: str | None) -> Pos:
    """One row under ``node_id``; the free spot when it has no place (or there is no such node)."""
    pos = graph[node_id].pos if node_id is not None else None
    return (pos[0], pos[1] + ROW_STEP) if pos is not None else free_spot(graph)


def nearest_above(graph: Graph, analysis: Analysis, pos: Pos) -> NodeId | None:
    """The closest node with a feature-map output a little above ``pos`` (what a dropped block should read)."""
    best, best_d = None, float("inf")
    for node in graph:
        shape = analysis.shape(node.id)
        if node.pos is None or shape is None or len(shape) != 3:
            continue
        dx, dy = pos[0] - node.pos[0], pos[1] - node.pos[1]
        if 0 < dy <= 2.5 * ROW_STEP and abs(dx) <= COLUMN_STEP * 0.75 and dx * dx + dy * dy < best_d:
            best, best_d = node.id, dx * dx + dy * dy
    return best


def downstream(graph: Graph, start: str) -> set[NodeId]:
    """Every node that reads ``start``, directly or through others."""
    users = graph.consumers()
    seen: set[NodeId] = set()
    todo = list(users.get(NodeId(start), []))
    while todo:
        nid = todo.pop()
        if nid not in seen:
            seen.add(nid)
            todo.extend(users.get(nid, []))
    return seen


def room_after(graph: Graph, after: str, rows: int = 1) -> dict[NodeId, Pos]:
    """New places for the nodes downstream of ``after`` and below it, ``rows`` rows lower, so that what is inserted
    after it has free rows (nothing moves when ``after`` has no place)."""
    base = graph[after].pos
    if base is None:
        return {}
    return {
        nid: (pos[0], pos[1] + rows * ROW_STEP)
        for nid in downstream(graph, after)
        if (pos := graph[nid].pos) is not None and pos[1] > base[1]
    }


def lay_out_new(nodes: list[Node], origin: Pos) -> None:
    """Place freshly made nodes (a block, a template) as a small layered layout starting at ``origin``."""
    by_id = {n.id: n for n in nodes}
    for nid, pos in layered_layout(_scratch(nodes), origin=origin).items():
        by_id[nid].pos = pos


def depth(nodes: Iterable[Node]) -> int:
    """How many rows the layered layout of ``nodes`` takes."""
    positions = layered_layout(_scratch(nodes))
    return int(max(p[1] for p in positions.values()) / ROW_STEP) + 1 if positions else 0


def place_missing(graph: Graph) -> None:
    """Give positions to nodes without one (all of them: a layered layout; a few: a layout right of the rest).

    Done when a document opens, before its undo stack exists: positions are presentation, not an edit.
    """
    missing = [n.id for n in graph if n.pos is None]
    if not missing:
        return
    origin = free_spot(graph)
    with graph.events.changed.blocked():
        for nid, pos in layered_layout(graph, missing, origin).items():
            graph.set_field(nid, "pos", pos)


def _scratch(nodes: Iterable[Node]) -> Graph:
    return Graph("scratch", [n.clone() for n in nodes])
