"""Layered automatic layout for designs without positions: rows by depth, main path straight, branches to the right.

Pure Python (no Qt), so it is cheap to test; positions are node centres in scene coordinates.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from collections.abc import Set as AbstractSet

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
    preds = {n: [s for s in graph[n].sources if s in members and s != n] for n in chosen}
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
    """What to collapse when a design opens: nothing if it is small, else its top-level groups, refined.

    A group holding more than half the design (DenseNet's ``features``) would make the overview one box: it is
    replaced by its own sub-groups (``features.denseblock1``, ...), its loose members shown, as long as the overview
    stays within ``OVERVIEW_BOXES`` boxes.
    """
    if len(graph) <= OVERVIEW_NODES:
        return set()
    ids = [str(i) for i in graph.ids()]
    collapsed = top_level_groups(graph)
    while True:
        biggest = max(collapsed, key=lambda p: _member_count(ids, p), default=None)
        if biggest is None or 2 * _member_count(ids, biggest) <= len(ids):
            return collapsed
        refined = (collapsed - {biggest}) | _child_groups(ids, biggest)
        if refined == collapsed - {biggest} or _shown_count(ids, refined) > OVERVIEW_BOXES:
            return collapsed
        collapsed = refined


#: The most boxes an opening overview shows (when refining a group would show more, it stays collapsed).
OVERVIEW_BOXES = 40


def _member_count(ids: list[str], prefix: str) -> int:
    head = prefix + "."
    return sum(1 for i in ids if i.startswith(head))


def _child_groups(ids: list[str], prefix: str) -> set[str]:
    """The next level of groups inside ``prefix`` (``features.denseblock1`` of ``features.denseblock1.x.conv``)."""
    depth = prefix.count(".") + 2
    return {".".join(i.split(".")[:depth]) for i in ids if i.startswith(prefix + ".") and i.count(".") >= depth}


def _shown_count(ids: list[str], collapsed: set[str]) -> int:
    """How many boxes show with ``collapsed`` folded: one per outermost collapsed group, one per other node."""
    shown = set()
    for i in ids:
        parts = i.split(".")
        outer = next((".".join(parts[:k]) for k in range(1, len(parts)) if ".".join(parts[:k]) in collapsed), i)
        shown.add(outer)
    return len(shown)


#: Room between two wrapped columns of a long design (skip edges bow out to the right of their column).
WRAP_GAP = 150.0
#: Never more columns than this, however tall the design.
MAX_COLUMNS = 12


def wrap_breaks(
    rows: dict[float, int],
    width: float,
    view: tuple[float, float],
    enough: float = 1.0,
    margin: float = 80.0,
    preferred: AbstractSet[float] = frozenset(),
) -> list[float]:
    """Where to cut a tall design into side-by-side columns so it fills a view of ``view`` (width, height) pixels.

    Args:
        rows: the y of each row of boxes, with how many boxes the row has.
        width: how wide the design is (scene pixels, boxes included).
        enough: a zoom at which the uncut design is readable enough: it is then left whole.
        preferred: rows where a cut is best (where a group of blocks begins).

    Returns:
        The y of the first row of each column after the first (empty: one column). Columns are cut between rows,
        preferably where a group begins, else where a single box stands (a chain, not the middle of parallel branches).
    """
    ys = sorted(rows)
    if len(ys) < 2 or view[0] <= 0 or view[1] <= 0:
        return []

    def zoom(breaks: list[float]) -> float:
        height = max(_band_heights(ys, breaks)) + margin
        return min(1.0, view[0] / ((len(breaks) + 1) * (width + WRAP_GAP)), view[1] / height)

    best: list[float] = []
    whole = best_zoom = zoom(best)
    if whole >= enough:
        return []
    for k in range(2, min(MAX_COLUMNS, len(ys)) + 1):
        breaks = _balanced_breaks(ys, rows, k, preferred)
        z = zoom(breaks)
        if z > best_zoom * 1.02:
            best, best_zoom = breaks, z
    return best if best_zoom > whole * 1.15 else []


def _balanced_breaks(ys: list[float], rows: dict[float, int], k: int, preferred: AbstractSet[float]) -> list[float]:
    """``k - 1`` cut rows near equal shares, moved up to three rows to a preferred row or where a single box stands."""
    n, breaks, last = len(ys), [], 0
    for i in range(1, k):
        ideal = round(i * n / k)
        near = sorted(
            range(max(last + 1, ideal - 3), min(n, ideal + 4)),
            key=lambda j: (ys[j] not in preferred, rows[ys[j]] != 1, abs(j - ideal)),
        )
        if near:
            last = near[0]
            breaks.append(ys[last])
    return breaks


def _band_heights(ys: list[float], breaks: list[float]) -> list[float]:
    """The height of each column (first row to last row, plus one row step)."""
    bounds = [0, *(bisect.bisect_left(ys, b) for b in breaks), len(ys)]
    return [ys[j - 1] - ys[i] + ROW_STEP if j > i else 0.0 for i, j in zip(bounds, bounds[1:])]
