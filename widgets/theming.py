"""View > Theme: follow the desktop's light or dark palette, or force one, and repaint every view in it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from . import theme

if TYPE_CHECKING:
    from .main_window import MainWindow

#: Where the choice is kept in QSettings.
SETTINGS_KEY = "view/theme"


class ThemeController(QObject):
    """Applies a theme choice (``theme.CHOICES``) to the application and the window, and remembers it."""

    #: After the colours changed; views that draw with them (plots, HTML) redraw.
    changed = Signal()

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        self._app = app
        # The desktop's own look, to return to when the choice goes back to "system".
        self._system_palette = QPalette(app.palette())
        self._system_style = app.style().name()
        self.choice = "system"
        # A desktop switching between light and dark while the designer runs: follow it when the choice is "system".
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_color_scheme_changed)

    def saved_choice(self) -> str:
        """The choice kept in the settings ("system" if none or an unknown one)."""
        value = self.window.settings.value(SETTINGS_KEY, "system")
        return value if value in theme.CHOICES else "system"

    def apply(self, choice: str) -> None:
        """Use ``choice`` ("system", "light" or "dark") from now on, remember it, and repaint."""
        if choice not in theme.CHOICES:
            raise ValueError(f"unknown theme {choice!r}; choose one of {', '.join(theme.CHOICES)}")
        forced_before = self.choice != "system"
        self.choice = choice
        self.window.settings.setValue(SETTINGS_KEY, choice)
        if choice == "system":
            if forced_before:  # back from a forced theme: the desktop's look as it was at start
                self._app.setStyle(self._system_style)
                self._app.setPalette(self._system_palette)
            colors = theme.DARK if theme.system_is_dark(self._app.palette()) else theme.LIGHT
        else:
            colors = theme.THEMES[choice]
            self._app.setStyle("Fusion")  # the one style that draws every role of a palette it is given
            self._app.setPalette(theme.application_palette(colors))
        theme.use(colors)
        self.changed.emit()

    def _on_color_scheme_changed(self) -> None:
        if self.choice == "system":
            self.apply("system")
