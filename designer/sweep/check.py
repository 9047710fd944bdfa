"""Checking a search space before any trial runs: every corner of it must give a valid design and valid settings.

Shapes break at the edges of a range (the largest kernel, the smallest map), so the corners are what is checked:
each dimension at each of its extremes (both ends of a range, every choice) with the others as the file has them,
then every combination of the node-parameter extremes while there are few enough. A failure names the corner, the
node that breaks and why, as a diagnostic with code ``search.corner_invalid``.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..analysis.validate import analyze
from ..model import diagnostics as dg
from ..model.diagnostics import Diagnostic
from ..model.graph import Graph
from ..training.config import ConfigError
from .space import SearchSpace, apply, read_space

#: Combinations of extremes checked at most; beyond this only the all-lowest and all-highest corners join the
#: one-at-a-time checks (2**6 combinations of six two-ended ranges).
MAX_CORNERS = 64


def check_space(graph: Graph, space: SearchSpace | None = None) -> list[Diagnostic]:
    """The problems of the design's search space: malformed entries, then corners that break the design."""
    problems: list[Diagnostic] = []
    if space is None:
        space = read_space(graph, problems)
    if problems or not space:
        return problems
    seen = {(d.code, d.node_id) for d in analyze(graph).errors}  # the base design's own errors are not the space's
    for values in corners(space):
        problems.extend(_check_corner(graph, values, seen))
    return problems


def corners(space: SearchSpace) -> list[dict[str, Any]]:
    """The assignments checked: one dimension at a time at each extreme, then combinations of node extremes."""
    out: list[dict[str, Any]] = [{d.key: v} for d in space.dimensions for v in d.extremes()]
    nodes = [d for d in space.dimensions if d.node_id is not None]
    if len(nodes) < 2:
        return out
    count = 1
    for d in nodes:
        count *= len(d.extremes())
    if count <= MAX_CORNERS:
        combos = itertools.product(*(d.extremes() for d in nodes))
        out.extend({d.key: v for d, v in zip(nodes, combo)} for combo in combos)
    else:
        out.append({d.key: d.extremes()[0] for d in nodes})
        out.append({d.key: d.extremes()[-1] for d in nodes})
    return out


def describe(values: dict[str, Any]) -> str:
    """``conv1.kernel_size=9, lr=0.1``."""
    return ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in values.items())


def _check_corner(graph: Graph, values: dict[str, Any], seen: set[tuple[str, str | None]]) -> list[Diagnostic]:
    where = describe(values)
    try:
        trial, _ = apply(graph, values)
    except ConfigError as exc:
        key = ("config", exc.key)
        if key in seen:
            return []
        seen.add(key)
        return [dg.error("search.bad_setting", f"search corner {where}: {exc}", None, f"narrow the range of {exc.key}")]
    out = []
    for d in analyze(trial).errors:
        if (d.code, d.node_id) in seen:
            continue
        seen.add((d.code, d.node_id))
        hint = f"narrow {', '.join(values)}" + (f"; {d.hint}" if d.hint else "")
        out.append(dg.error("search.corner_invalid", f"search corner {where}: {d.message}", d.node_id, hint, d.port))
    return out
