"""Start-up: the application object, the window, and the design it opens first."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from designer.editing.templates import DEFAULT_TEMPLATE, load_template
from designer.model.graph import Graph

if TYPE_CHECKING:
    from .main_window import MainWindow

ORGANIZATION = "cnn-designer"
APPLICATION = "CNN Designer"


def initial_graph() -> Graph:
    """The default template (package data, so present in every install)."""
    return load_template(DEFAULT_TEMPLATE)


def create_window(path: str | os.PathLike[str] | None = None, **options: Any) -> MainWindow:
    """The main window showing ``path`` (if it opens) or the default design; ``options`` go to MainWindow."""
    from .main_window import MainWindow

    window = MainWindow(**options)
    if path is None or not window.files.open_file(path):
        window.files.show_graph(initial_graph())
    return window


def main(argv: list[str] | None = None) -> int:
    """``python main.py [FILE]``: open the designer window."""
    parser = argparse.ArgumentParser(prog="cnn-designer-gui", description="Design CNNs visually.")
    parser.add_argument("file", nargs="?", help="a design to open (default: the small CNN template)")
    args = parser.parse_args(argv)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ._none_refcount import guard_none_refcount

    guard_none_refcount()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    window = create_window(args.file)
    window.show()
    QTimer.singleShot(0, window.files.offer_recovery)
    return app.exec()
