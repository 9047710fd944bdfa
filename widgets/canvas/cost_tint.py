"""Colouring the canvas by cost: each box's fill on a sequential scale from the theme's node fill to a hot colour.

The scale is the square root of a box's share of the largest value, so a layer holding a quarter of the top one
sits half way: parameter and mult-add counts span orders of magnitude, and a linear scale would leave all but the
few largest boxes blank. A collapsed group box shows the sum of its members, on the scale of the groups at its depth
(a group sums many layers: on the layers' scale every group would be the hottest).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from PySide6.QtGui import QColor

from .. import theme

if TYPE_CHECKING:
    from .scene import GraphScene

#: The colour the costliest box reaches, per theme: an orange read as heat, deeper on the dark canvas, where the
#: box's texts are light.
HOT = {"light": "#E4572E", "dark": "#D9480F"}
#: The hottest fill is this share of the hot colour, the rest the node fill: on it the box's text keeps a contrast of
#: 4.5 and its muted and shape lines 3 (WCAG AA for text and for large or secondary text), in both themes.
MAX_MIX = 0.45


def position(value: float, top: float) -> float:
    """Where ``value`` sits on a scale whose end is ``top``: 0 to 1, increasing with the value."""
    if top <= 0 or value <= 0:
        return 0.0
    return min(1.0, math.sqrt(value / top))


def ramp(t: float) -> QColor:
    """The fill at position ``t`` (0 to 1) of the current theme's scale."""
    low, high = theme.NODE_FILL, QColor(HOT[theme.current.name])
    mix = max(0.0, min(1.0, t)) * MAX_MIX
    return QColor.fromRgbF(
        low.redF() + (high.redF() - low.redF()) * mix,
        low.greenF() + (high.greenF() - low.greenF()) * mix,
        low.blueF() + (high.blueF() - low.blueF()) * mix,
    )


def group_sums(values: Mapping[str, float]) -> dict[str, float]:
    """Every dotted-id prefix (``layer1``, ``layer1.0``) with the sum of its members' values."""
    sums: dict[str, float] = {}
    for node_id, value in values.items():
        parts = node_id.split(".")
        for k in range(1, len(parts)):
            prefix = ".".join(parts[:k])
            sums[prefix] = sums.get(prefix, 0.0) + value
    return sums


def tints(values: Mapping[str, float]) -> tuple[dict[str, QColor], float]:
    """The fill of every node and group box, and the value the layers' scale ends at."""
    top = max(values.values(), default=0.0)
    out = {node_id: ramp(position(v, top)) for node_id, v in values.items()}
    sums = group_sums(values)
    level_top: dict[int, float] = {}
    for prefix, v in sums.items():
        level_top[prefix.count(".")] = max(level_top.get(prefix.count("."), 0.0), v)
    out.update((p, ramp(position(v, level_top[p.count(".")]))) for p, v in sums.items() if p not in out)
    return out, top


def apply_tints(scene: GraphScene, fills: dict[str, QColor]) -> None:
    """Give every box its fill (an empty dict: the theme's); boxes made later read theirs from ``scene.tints``."""
    if not fills and not scene.tints:
        return  # colouring off and already off: an edit of a big design pays nothing for it
    scene.tints = fills
    for node_id, item in scene.nodes.items():
        item.set_tint(fills.get(node_id))
    for prefix, box in scene.groups.items():
        box.set_tint(fills.get(prefix))
