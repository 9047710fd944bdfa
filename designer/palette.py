"""Colours that mean "which one" (a class, a run, a trial) wherever the designer draws: Qt plots, PNG reports and
overlays. Kept apart from ``designer.insight`` so that a Qt panel can use them without importing torch."""

from __future__ import annotations

#: Tableau 10, matplotlib's default cycle: ten distinct colours, readable on white and on dark grey.
TAB10: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)


def colour(k: int) -> tuple[int, int, int]:
    """The ``k``-th colour of the cycle (the eleventh is the first again)."""
    return TAB10[k % len(TAB10)]
