"""Light and dark themes: View > Theme, kept in the settings, followed by every view, and every text readable."""

from __future__ import annotations

from collections import Counter

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QApplication, QTreeWidget, QWidget

from designer import loads
from widgets import theme
from widgets.main_window import MainWindow

from .conftest import EXAMPLE

#: The example with one error, so the status bar, Problems and a node show the error colour.
BROKEN = EXAMPLE.replace('"out_features": 10}, "inputs": ["flat"]', '"out_features": 10}, "inputs": ["conv1"]')


@pytest.fixture(autouse=True)
def _restore_application_look():
    """Themes change application-wide state (style, palette, the theme module); later tests get it back."""
    app = QApplication.instance()
    palette, style = QPalette(app.palette()), app.style().name()
    yield
    app.setStyle(style)
    app.setPalette(palette)
    theme.use(theme.LIGHT)


def rendered_contrast(widget: QWidget, rect: QRect | None = None) -> float:
    """The WCAG contrast of a rendered text: its background is the commonest pixel, the text the farthest from it.

    Render one text at a time (a label, one cell): with two texts the better one would hide the worse.
    """
    pixmap = widget.grab() if rect is None else widget.grab(rect)
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_RGB32)
    pixels = Counter(image.pixel(x, y) for y in range(image.height()) for x in range(image.width()))
    background = QColor.fromRgb(pixels.most_common(1)[0][0])
    return max(theme.contrast(QColor.fromRgb(p), background) for p in pixels)


def cells(view: QAbstractItemView, rows: int = 12) -> list[tuple[str, QRect]]:
    """The text and on-screen rectangle of every non-empty cell of the first ``rows`` rows of an item view."""
    model, out = view.model(), []
    indexes = [model.index(r, c) for r in range(min(rows, model.rowCount())) for c in range(model.columnCount())]
    if isinstance(view, QTreeWidget):  # the palette's entries sit under their group rows
        parents = [model.index(r, 0) for r in range(model.rowCount())]
        indexes += [model.index(r, 0, p) for p in parents[:2] for r in range(min(rows, model.rowCount(p)))]
    for index in indexes:
        text = str(index.data() or "")
        rect = view.visualRect(index)
        if text.strip() and rect.isValid() and view.viewport().rect().contains(rect.center()):
            out.append((text, rect))
    return out


def _window_with_error(make_window, choice: str) -> MainWindow:
    window = make_window()
    window.resize(1280, 800)
    window.show()
    window.menu_actions.themes[choice].trigger()
    window.files.show_graph(loads(BROKEN))
    window.document.flush()
    window.scene.select_node("fc")
    QApplication.processEvents()
    return window


def test_the_theme_is_chosen_in_the_view_menu_and_kept_in_the_settings(make_window):
    window = make_window()
    assert window.menu_actions.themes["system"].isChecked() and not theme.current.dark
    window.menu_actions.themes["dark"].trigger()
    assert window.settings.value("view/theme") == "dark" and theme.current is theme.DARK
    assert QApplication.instance().palette().color(QPalette.ColorRole.Base).lightness() < 60
    assert window.scene.backgroundBrush().color() == theme.BACKGROUND and theme.BACKGROUND.lightness() < 60
    again = make_window(settings=window.settings)
    assert again.menu_actions.themes["dark"].isChecked() and theme.current is theme.DARK
    again.menu_actions.themes["light"].trigger()
    assert theme.current is theme.LIGHT and window.settings.value("view/theme") == "light"


def test_system_follows_a_dark_desktop(make_window):
    QApplication.instance().setPalette(theme.application_palette(theme.DARK))
    window = make_window()
    assert window.themes.choice == "system" and theme.current is theme.DARK
    assert theme.BACKGROUND.lightness() < 60, "the canvas follows the desktop, not only the widgets"


@pytest.mark.parametrize("choice", ["light", "dark"])
def test_every_text_is_readable_in_both_themes(make_window, choice):
    """WCAG AA (4.5:1) between each rendered text and its background, and for every text colour the canvas uses."""
    window = _window_with_error(make_window, choice)
    assert "error" in window.status_valid.text()
    low = {}
    for label in (window.status_valid, window.status_params, window.inspector.header):
        if rendered_contrast(label) < 4.5:
            low[label.text()[:30]] = round(rendered_contrast(label), 2)
    checked = 0
    for view in (window.problems.tree, window.layer_palette.tree, window.summary.table):
        for text, rect in cells(view):
            checked += 1
            ratio = rendered_contrast(view.viewport(), rect)
            if ratio < 4.5:
                low[text[:30]] = round(ratio, 2)
    assert checked > 20 and low == {}
    background = QApplication.palette().color(QPalette.ColorRole.Window)
    for name in ("ERROR_HEX", "WARNING_TEXT_HEX", "OK_HEX", "INFO_HEX", "MUTED_HEX"):  # HTML and style sheets
        assert theme.contrast(QColor(getattr(theme, name)), background) >= 4.5, name
    for group in window.layer_palette.groups():
        base = window.layer_palette.tree.palette().color(QPalette.ColorRole.Base)
        assert theme.contrast(group.foreground(0).color(), base) >= 4.5, group.text(0)
    canvas_pairs = {
        "title": (theme.TEXT, theme.NODE_FILL),
        "type and parameters": (theme.TEXT_MUTED, theme.NODE_FILL),
        "shape": (theme.SHAPE_TEXT, theme.NODE_FILL),
        "edge label": (theme.LABEL_TEXT, theme.NODE_FILL),
        "output tag": (theme.TAG_TEXT, theme.TAG_FILL),
    }
    assert {k: round(theme.contrast(*v), 2) for k, v in canvas_pairs.items() if theme.contrast(*v) < 4.5} == {}
    node = window.scene.nodes["conv1"]
    image = QImage(node.boundingRect().size().toSize(), QImage.Format.Format_RGB32)
    image.fill(theme.BACKGROUND)
    painter = QPainter(image)
    window.scene.render(painter, source=node.sceneBoundingRect())
    painter.end()
    fill = image.pixelColor(image.width() // 2, image.height() - 4)
    assert theme.contrast(fill, theme.NODE_FILL) < 1.2, "the node is drawn with the theme's fill"


def test_plots_follow_the_theme(make_window, qtbot):
    from widgets.panels.plot_style import style_plots
    from widgets.panels.training_curves import CurvesView

    window = make_window()
    curves = CurvesView()
    qtbot.addWidget(curves)
    window.themes.changed.connect(lambda: style_plots(curves))
    window.menu_actions.themes["dark"].trigger()
    assert curves.backgroundBrush().color() == theme.NODE_FILL and theme.NODE_FILL.lightness() < 60
    window.menu_actions.themes["light"].trigger()
    assert curves.backgroundBrush().color() == theme.NODE_FILL and theme.NODE_FILL.lightness() > 200
