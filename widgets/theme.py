"""Colours, fonts and sizes of the window, in one place: a light and a dark scheme, and the contrast rules."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from PySide6.QtGui import QColor, QFont, QPalette

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


@dataclass(frozen=True)
class Colors:
    """One colour scheme of the window: the canvas's colours and those of text in labels, HTML and style sheets."""

    name: str
    dark: bool
    background: str
    grid_dot: str
    node_fill: str
    node_border: str
    text: str
    text_muted: str
    shape_text: str
    selected: str
    error: str
    warning: str
    edge: str
    label_fill: str
    label_text: str
    shadow: str
    tag_fill: str
    tag_text: str
    error_text: str
    warning_text: str
    ok_text: str
    info_text: str


LIGHT = Colors(
    name="light",
    dark=False,
    background="#F5F7FA",
    grid_dot="#D5DBE3",
    node_fill="#FFFFFF",
    node_border="#B8C2CC",
    text="#1F2933",
    text_muted="#5B6670",
    shape_text="#234E70",
    selected="#2962FF",
    error="#D32F2F",
    warning="#EF8F00",
    edge="#8796A5",
    label_fill="#EBFFFFFF",
    label_text="#3E4C59",
    shadow="#1C141E28",
    tag_fill="#37474F",
    tag_text="#FFFFFF",
    error_text="#C62828",
    warning_text="#8F5400",  # darker than ``warning``: amber text on white must stay readable
    ok_text="#2E7D32",
    info_text="#1565C0",
)

DARK = Colors(
    name="dark",
    dark=True,
    background="#1B1F24",
    grid_dot="#2E353D",
    node_fill="#262B31",
    node_border="#4A535D",
    text="#E6EAEE",
    text_muted="#A7B1BB",
    shape_text="#8EC9F5",
    selected="#6E9BFF",
    error="#EF5350",
    warning="#FFB74D",
    edge="#7D8A97",
    label_fill="#EB262B31",
    label_text="#CBD3DB",
    shadow="#50000000",
    tag_fill="#CFD8DC",
    tag_text="#1F2933",
    error_text="#FF7A7A",
    warning_text="#FFB74D",
    ok_text="#6CC070",
    info_text="#6AB7F5",
)

THEMES = {"light": LIGHT, "dark": DARK}
#: What View > Theme offers: follow the desktop, or one scheme whatever the desktop uses.
CHOICES = ("system", "light", "dark")

# The current scheme's colours, as module names the painters read at paint time; ``use`` rebinds them.
current: Colors = LIGHT
ERROR_HEX = WARNING_TEXT_HEX = OK_HEX = INFO_HEX = MUTED_HEX = ""
BACKGROUND = GRID_DOT = NODE_FILL = NODE_BORDER = TEXT = TEXT_MUTED = SHAPE_TEXT = SELECTED = QColor()
ERROR = WARNING = EDGE = LABEL_FILL = LABEL_TEXT = SHADOW = TAG_FILL = TAG_TEXT = QColor()


def use(colors: Colors) -> None:
    """Make ``colors`` the scheme every painter and label reads from now on (views must then repaint)."""
    global current, ERROR_HEX, WARNING_TEXT_HEX, OK_HEX, INFO_HEX, MUTED_HEX
    global BACKGROUND, GRID_DOT, NODE_FILL, NODE_BORDER, TEXT, TEXT_MUTED, SHAPE_TEXT, SELECTED
    global ERROR, WARNING, EDGE, LABEL_FILL, LABEL_TEXT, SHADOW, TAG_FILL, TAG_TEXT
    current = colors
    ERROR_HEX, WARNING_TEXT_HEX, OK_HEX = colors.error_text, colors.warning_text, colors.ok_text
    INFO_HEX, MUTED_HEX = colors.info_text, colors.text_muted
    BACKGROUND, GRID_DOT = QColor(colors.background), QColor(colors.grid_dot)
    NODE_FILL, NODE_BORDER = QColor(colors.node_fill), QColor(colors.node_border)
    TEXT, TEXT_MUTED, SHAPE_TEXT = QColor(colors.text), QColor(colors.text_muted), QColor(colors.shape_text)
    SELECTED, ERROR, WARNING, EDGE = (QColor(c) for c in (colors.selected, colors.error, colors.warning, colors.edge))
    LABEL_FILL, LABEL_TEXT, SHADOW = QColor(colors.label_fill), QColor(colors.label_text), QColor(colors.shadow)
    TAG_FILL, TAG_TEXT = QColor(colors.tag_fill), QColor(colors.tag_text)


use(LIGHT)


def luminance(color: QColor) -> float:
    """WCAG relative luminance of an opaque colour, 0 (black) to 1 (white)."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours, 1 to 21; text needs 4.5 (level AA)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable(color: QColor, background: QColor, ratio: float = 4.5) -> QColor:
    """``color``, lightened or darkened just enough to be read on ``background`` (for accent colours as text)."""
    out = QColor(color)
    lighten = luminance(background) < 0.5
    for _ in range(40):
        if contrast(out, background) >= ratio:
            break
        out = out.lighter(110) if lighten else out.darker(110)
    return out


def system_is_dark(palette: QPalette) -> bool:
    """Whether a desktop palette is a dark one (its window colour darker than its text)."""
    return (
        palette.color(QPalette.ColorRole.Window).lightness() < palette.color(QPalette.ColorRole.WindowText).lightness()
    )


def application_palette(colors: Colors) -> QPalette:
    """A complete Qt palette in the scheme's spirit, for the Fusion style when the scheme is chosen explicitly."""
    window, base, text = ("#202429", "#1B1F24", "#E6EAEE") if colors.dark else ("#EFF1F4", "#FFFFFF", "#1F2933")
    p = QPalette()
    role = QPalette.ColorRole
    for r, value in (
        (role.Window, window),
        (role.WindowText, text),
        (role.Base, base),
        (role.AlternateBase, "#262B31" if colors.dark else "#F5F7FA"),
        (role.Text, text),
        (role.Button, window),
        (role.ButtonText, text),
        (role.ToolTipBase, base),
        (role.ToolTipText, text),
        (role.PlaceholderText, colors.text_muted),
        (role.Highlight, colors.selected),
        (role.HighlightedText, "#FFFFFF"),
        (role.Link, colors.info_text),
    ):
        p.setColor(r, QColor(value))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(colors.text_muted))
    return p


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
