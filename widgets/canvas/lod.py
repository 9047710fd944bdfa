"""Level of detail: which texts the canvas draws at a zoom, and texts kept at a constant size on screen.

Every canvas text goes through ``draw_text``, so no text is ever drawn smaller than ``MIN_TEXT_PX`` on screen, and
``record_texts`` can list what a render really drew with its on-screen size (the readability test uses it).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPainter
from PySide6.QtWidgets import QStyleOptionGraphicsItem

from .. import theme

#: No text is drawn smaller than this on screen (pixels).
MIN_TEXT_PX = 9.0
#: Size on screen of the texts that zoomed-out boxes keep readable.
OVERVIEW_TEXT_PX = 11.0
#: Size on screen of their second and third lines (shape, parameter count).
OVERVIEW_DETAIL_PX = 9.5
#: The smallest font of a full node box (type name, edge labels, the OUT tag), in scene pixels.
SMALLEST_BOX_FONT_PX = 10.0
#: From this zoom up, node boxes are drawn in full: their smallest text is then MIN_TEXT_PX on screen.
FULL_ZOOM = MIN_TEXT_PX / SMALLEST_BOX_FONT_PX


@dataclass(frozen=True)
class DrawnText:
    """One text a render drew, with its font's pixel size on screen."""

    text: str
    screen_px: float


_recorded: list[DrawnText] | None = None


@contextmanager
def record_texts() -> Iterator[list[DrawnText]]:
    """Collect every text the canvas draws inside the block (with its size on screen)."""
    global _recorded
    outer, _recorded = _recorded, []
    try:
        yield _recorded
    finally:
        _recorded = outer


def lod_of(painter: QPainter) -> float:
    """The scale of scene pixels to screen pixels of the painter's current transform."""
    return QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())


def draw_text(painter: QPainter, rect: QRectF, flags: Qt.AlignmentFlag, text: str) -> None:
    """Draw ``text`` in the painter's font, unless it would be smaller than ``MIN_TEXT_PX`` on screen."""
    if not text:
        return
    screen_px = painter.font().pixelSize() * lod_of(painter)
    if screen_px < MIN_TEXT_PX - 1e-6:
        return
    if _recorded is not None:
        _recorded.append(DrawnText(text, screen_px))
    painter.drawText(rect, flags, text)


def screen_font(lod: float, bold: bool = False, screen_px: float = OVERVIEW_TEXT_PX) -> QFont:
    """A font that is ``screen_px`` tall on screen at ``lod`` (its scene size grows as the view zooms out)."""
    return _font(_pixel_size(lod, screen_px), bold)  # ceil: never under the size asked for


@functools.lru_cache(maxsize=256)
def _font(pixel_size: int, bold: bool) -> QFont:
    """Fonts by size, made once: a zoomed-out repaint asks for one per line of every covering frame and box."""
    return theme.font(pixel_size, bold=bold)


@functools.lru_cache(maxsize=256)
def _metrics(pixel_size: int, bold: bool) -> QFontMetricsF:
    return QFontMetricsF(_font(pixel_size, bold))


def paint_overview_lines(painter: QPainter, rect: QRectF, lines: list[tuple[str, bool]], lod: float) -> int:
    """Draw as many of ``lines`` ((text, bold)) as fit in ``rect`` at a constant screen size; how many were drawn.

    Texts are elided to the rect's width, so a box zoomed far out keeps its name (``layer3``) readable.
    """
    line_h = OVERVIEW_TEXT_PX * 1.25 / lod
    pad = 4 / lod
    room = int((rect.height() - 2 * pad) // line_h)
    shown = lines[: max(0, room)]
    top = rect.center().y() - len(shown) * line_h / 2
    width = rect.width() - 2 * pad
    for i, (text, bold) in enumerate(shown):
        font, elided = _fitting(text, bold, width, lod)
        if len(elided) < min(len(text), 6):  # "l…2" names nothing
            continue
        painter.setFont(font)
        painter.setPen(theme.TEXT if bold else theme.TEXT_MUTED)  # the theme's checked text colours on NODE_FILL
        row = QRectF(rect.left() + pad, top + i * line_h, width, line_h)
        draw_text(painter, row, Qt.AlignmentFlag.AlignCenter, elided)
    return len(shown)


def _fitting(text: str, bold: bool, width: float, lod: float) -> tuple[QFont, str]:
    """The line's font, shrunk down to the minimum size before the text is elided, and the text as it fits."""
    size = _pixel_size(lod, OVERVIEW_TEXT_PX if bold else OVERVIEW_DETAIL_PX)
    if _metrics(size, bold).horizontalAdvance(text) > width:
        size = _pixel_size(lod, MIN_TEXT_PX)
        if text.startswith("→ ") and _metrics(size, bold).horizontalAdvance(text) > width:
            text = text[2:]  # the arrow says "output"; the numbers say more
    return _font(size, bold), _metrics(size, bold).elidedText(text, Qt.TextElideMode.ElideMiddle, width)


def _pixel_size(lod: float, screen_px: float) -> int:
    return max(1, math.ceil(screen_px / lod))
