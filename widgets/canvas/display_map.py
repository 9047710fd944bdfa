"""Where the canvas draws a node: its model position, closed up over collapsed groups, and wrapped into columns.

Both are views of the design, never edits: positions in the file stay those of one tall layout. A collapsed group
closes up the rows it hid (what is below moves up); a design much taller than the window is cut into side-by-side
columns between rows (``designer.editing.layout.wrap_breaks``), so it uses the window's width.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from designer.editing.layout import ROW_STEP, WRAP_GAP


@dataclass
class DisplayMap:
    """Model position <-> drawn position."""

    #: (model y, closed-up y) of each shown row, ascending: heights between rows are interpolated.
    rows: list[tuple[float, float]] = field(default_factory=list)
    #: Closed-up y of the first row of each column after the first (empty: one column).
    breaks: list[float] = field(default_factory=list)
    #: Closed-up y of the first row, and the model x of the design's left edge.
    top: float = 0.0
    left: float = 0.0
    #: Distance between the left edges of two columns.
    pitch: float = 0.0
    #: How wide one column is (the design's width).
    width: float = 0.0

    def close_up(self, shown: list[float], spans: list[tuple[float, float]]) -> None:
        """Rows at the model heights ``shown`` are drawn; the rows that collapsed groups (``spans``: first and last
        row of each) hide between two shown rows are closed up, once even where groups stand side by side."""
        self.rows = []
        for y in sorted(set(shown)):
            if not self.rows:
                self.rows.append((y, y))
                continue
            prev, drawn = self.rows[-1]
            gap = y - prev
            hidden = _union_length(
                [(max(top, prev), min(bottom, y)) for top, bottom in spans if top < y and bottom > prev]
            )
            self.rows.append((y, drawn + max(min(gap, ROW_STEP), gap - hidden)))

    def closed_up(self, y: float) -> float:
        """``y`` moved up by the rows collapsed groups hide above it."""
        return _interpolate(self.rows, y)

    def column(self, y: float) -> int:
        """The column a node at model height ``y`` is drawn in (0: the first)."""
        return bisect.bisect_right(self.breaks, self.closed_up(y))

    def column_span(self, column: int) -> tuple[float, float]:
        """The left and right edge of a column, in scene coordinates."""
        x0 = self.left + column * self.pitch
        return (x0, x0 + self.width)

    def to_display(self, x: float, y: float) -> tuple[float, float]:
        """Where a node at model position (x, y) is drawn."""
        cy = self.closed_up(y)
        column = bisect.bisect_right(self.breaks, cy)
        return (x + column * self.pitch, cy - (self._start(column) - self.top))

    def to_model(self, x: float, y: float) -> tuple[float, float]:
        """The model position drawn at (x, y) (the inverse of ``to_display``, for drops)."""
        column = 0
        if self.breaks and self.pitch > 0:
            column = min(len(self.breaks), max(0, int((x - self.left + WRAP_GAP / 2) // self.pitch)))
        cy = y + (self._start(column) - self.top)
        return (x - column * self.pitch, _interpolate([(c, m) for m, c in self.rows], cy))

    def _start(self, column: int) -> float:
        return self.top if column == 0 else self.breaks[column - 1]


def _interpolate(points: list[tuple[float, float]], x: float) -> float:
    """The piecewise-linear map through ``points`` (ascending in both), kept at the end slopes' offset outside."""
    if not points:
        return x
    i = bisect.bisect_right(points, (x, float("inf"))) - 1
    if i < 0:
        return x + points[0][1] - points[0][0]
    x0, y0 = points[i]
    if i + 1 == len(points):
        return x + y0 - x0
    x1, y1 = points[i + 1]
    return y0 + (x - x0) * (y1 - y0) / (x1 - x0) if x1 > x0 else y0


def _union_length(spans: list[tuple[float, float]]) -> float:
    """The total length covered by the intervals (overlaps counted once)."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total
