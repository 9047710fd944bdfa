"""Colours, fonts and sizes of the canvas, in one place."""

from __future__ import annotations

import functools

from PySide6.QtGui import QColor, QFont

NODE_WIDTH = 184.0
NODE_HEIGHT = 64.0
PORT_RADIUS = 5.0
GRID = 10.0
#: Below this zoom, boxes are drawn without text, ports and edge labels are left out.
DETAIL_ZOOM = 0.35
#: How far a skip edge bows out beside the column it would otherwise run through.
SKIP_BOW = NODE_WIDTH / 2 + 32

CATEGORY_COLORS = {
    "Input/Output": "#546E7A",
    "Convolution": "#1E88E5",
    "Pooling": "#00897B",
    "Normalization": "#8E24AA",
    "Activation": "#F4511E",
    "Linear": "#D81B60",
    "Merge": "#43A047",
    "Reshape": "#6D4C41",
    "Regularization": "#757575",
    "Upsampling": "#00ACC1",
    "Blocks": "#3949AB",
}
UNKNOWN_COLOR = "#9E9E9E"

#: Colours of text in labels, HTML and style sheets, which take names rather than QColors.
ERROR_HEX = "#D32F2F"
#: Darker than WARNING: amber text on a light background must stay readable.
WARNING_TEXT_HEX = "#B26A00"
OK_HEX = "#2E7D32"
INFO_HEX = "#1565C0"
MUTED_HEX = "#66727F"

BACKGROUND = QColor("#F5F7FA")
GRID_DOT = QColor("#D5DBE3")
NODE_FILL = QColor("#FFFFFF")
NODE_BORDER = QColor("#B8C2CC")
TEXT = QColor("#1F2933")
TEXT_MUTED = QColor(MUTED_HEX)
SHAPE_TEXT = QColor("#234E70")
SELECTED = QColor("#2962FF")
ERROR = QColor(ERROR_HEX)
WARNING = QColor("#EF8F00")
EDGE = QColor("#8796A5")
LABEL_FILL = QColor(255, 255, 255, 235)
LABEL_TEXT = QColor("#3E4C59")
SHADOW = QColor(20, 30, 40, 28)
TAG_FILL = QColor("#37474F")
TAG_TEXT = QColor("#FFFFFF")


def category_color(category: str | None) -> QColor:
    """The accent colour of a palette group or layer category."""
    return QColor(CATEGORY_COLORS.get(category or "", UNKNOWN_COLOR))


def font(pixel_size: int, bold: bool = False, mono: bool = False) -> QFont:
    """Canvas fonts are sized in scene pixels, so a node looks the same on every screen density."""
    f = QFont()
    if mono:
        f.setFamilies(["DejaVu Sans Mono", "Menlo", "Consolas", "monospace"])
        f.setStyleHint(QFont.StyleHint.Monospace)
    f.setPixelSize(pixel_size)
    f.setBold(bold)
    return f


@functools.cache
def fonts() -> dict[str, QFont]:
    """The canvas fonts by role (made on first use: a QFont wants the application to exist)."""
    return {
        "title": font(12, bold=True),
        "type": font(10),
        "param": font(11),
        "shape": font(11, mono=True),
        "label": font(10, mono=True),
        "small": font(10),
        "tag": font(8, bold=True),
    }


def key_value_table(rows: list[tuple[str, str]], gap: int = 8) -> str:
    """Rows of (muted key, value) as an HTML table, the way the inspector and the template browser show facts."""
    cells = "".join(
        f"<tr><td style='color:{MUTED_HEX};padding-right:{gap}px'>{key}</td><td>{value}</td></tr>"
        for key, value in rows
    )
    return f"<table>{cells}</table>"
