"""Layered automatic layout for designs without positions: rows by depth, main path straight, branches to the right.

Pure Python (no Qt), so it is cheap to test; positions are node centres in scene coordinates.
"""

from __future__ import annotations

from collections.abc import Iterable

from designer.model.graph import Graph, NodeId

#: Distance between the centres of two rows (node height plus room for the edge label).
ROW_STEP = 110.0
#: Distance between the centres of two nodes side by side (node width plus a gap for skip edges).
COLUMN_STEP = 250.0

Positions = dict[NodeId, tuple[float, float]]


def layered_layout(
    graph: Graph, ids: Iterable[str] | None = None, origin: tuple[float, float] = (0.0, 0.0)
) -> Positions:
    """Positions for ``ids`` (default: every node), laid out in rows by longest path from the sources.

    Only edges between the laid-out nodes count. Each node sits under its leftmost input, so a chain stays in one
    column and a second consumer of the same tensor moves one column right.
    """
    chosen = [NodeId(i) for i in ids] if ids is not None else graph.ids()
    members = set(chosen)
    preds = {n: [s for s in graph[n].inputs if s in members and s != n] for n in chosen}
    layer = _layers(chosen, preds)
    rows: dict[int, list[NodeId]] = {}
    for n in chosen:
        rows.setdefault(layer[n], []).append(n)
    x: dict[NodeId, float] = {}
    for row in sorted(rows):
        _place_row(rows[row], preds, x)
    ox, oy = origin
    return {n: (round(ox + x[n]), round(oy + layer[n] * ROW_STEP)) for n in chosen}


def _layers(order: list[NodeId], preds: dict[NodeId, list[NodeId]]) -> dict[NodeId, int]:
    """Longest-path depth over the acyclic part; nodes on cycles go one row below everything they can see."""
    users: dict[NodeId, list[NodeId]] = {n: [] for n in order}
    waiting = {n: len(set(preds[n])) for n in order}
    for n in order:
        for s in set(preds[n]):
            users[s].append(n)
    layer: dict[NodeId, int] = {}
    ready = [n for n in order if waiting[n] == 0]
    while ready:
        n = ready.pop(0)
        layer[n] = max((layer[s] + 1 for s in preds[n] if s in layer), default=0)
        for u in users[n]:
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.append(u)
    for n in order:
        if n not in layer:
            layer[n] = max((layer[s] + 1 for s in preds[n] if s in layer), default=max(layer.values(), default=-1) + 1)
    return layer


def _place_row(row: list[NodeId], preds: dict[NodeId, list[NodeId]], x: dict[NodeId, float]) -> None:
    """Each node wants its leftmost placed input's column; collisions push to the right, keeping file order."""
    wanted = {n: min((x[s] for s in preds[n] if s in x), default=0.0) for n in row}
    index = {n: i for i, n in enumerate(row)}
    taken: set[float] = set()
    for n in sorted(row, key=lambda m: (wanted[m], index[m])):
        col = wanted[n]
        while col in taken:
            col += COLUMN_STEP
        taken.add(col)
        x[n] = col


def needs_layout(graph: Graph) -> bool:
    """Whether any node lacks a position (imported or templated designs)."""
    return any(node.pos is None for node in graph)


def bounding_box(positions: Positions) -> tuple[float, float, float, float]:
    """(min x, min y, max x, max y) of the given centres; zeros when empty."""
    if not positions:
        return (0.0, 0.0, 0.0, 0.0)
    xs = [p[0] for p in positions.values()]
    ys = [p[1] for p in positions.values()]
    return (min(xs), min(ys), max(xs), max(ys))


#: A design with more nodes than this opens with its top-level groups collapsed, so the first view is an overview.
OVERVIEW_NODES = 60


def top_level_groups(graph: Graph) -> set[str]:
    """The first parts of dotted ids (``layer1`` of ``layer1.0.conv1``): the groups Collapse All folds."""
    return {nid.split(".")[0] for nid in graph.ids() if "." in nid}


def overview_groups(graph: Graph) -> set[str]:
    """What to collapse when a design opens: its top-level groups if it is big, else nothing."""
    return top_level_groups(graph) if len(graph) > OVERVIEW_NODES else set()
