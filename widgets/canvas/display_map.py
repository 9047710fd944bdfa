"""Where the canvas draws a node: its model position, closed up over collapsed groups, and wrapped into columns.

Both are views of the design, never edits: positions in the file stay those of one tall layout. A collapsed group
closes up the rows it hid (what is below moves up); a design much taller than the window is cut into side-by-side
columns between rows (``designer.editing.layout.wrap_breaks``), so it uses the window's width.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from designer.editing.layout import WRAP_GAP


@dataclass
class DisplayMap:
    """Model position <-> drawn position."""

    #: (bottom y, height) in model coordinates of each shown collapsed group: what is below moves up by height.
    shifts: list[tuple[float, float]] = field(default_factory=list)
    #: Closed-up y of the first row of each column after the first (empty: one column).
    breaks: list[float] = field(default_factory=list)
    #: Closed-up y of the first row, and the model x of the design's left edge.
    top: float = 0.0
    left: float = 0.0
    #: Distance between the left edges of two columns.
    pitch: float = 0.0
    #: How wide one column is (the design's width).
    width: float = 0.0

    def closed_up(self, y: float) -> float:
        """``y`` moved up by the height of the collapsed groups above it."""
        return y - sum(h for bottom, h in self.shifts if bottom < y)

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
        extra = sum(h for bottom, h in self.shifts if self.closed_up(bottom - h) < cy)
        return (x - column * self.pitch, cy + extra)

    def _start(self, column: int) -> float:
        return self.top if column == 0 else self.breaks[column - 1]
