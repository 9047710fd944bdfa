"""Start-up: the application object, the window, and the design it opens first."""

from __future__ import annotations

import argparse
import ctypes.util
import gc
import importlib
import os
import sys
import threading
from collections.abc import Mapping
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


def display_problem(environ: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Why Qt could not open a window here, said before Qt aborts the process over it; None if nothing is wrong.

    On Linux, Qt's xcb plugin needs an X display and, since Qt 6.5, the libxcb-cursor0 library; without either
    Qt prints a plugin error and aborts.
    """
    qpa = environ.get("QT_QPA_PLATFORM", "")
    if not platform.startswith("linux") or qpa.startswith(("offscreen", "minimal", "vnc", "eglfs", "linuxfb")):
        return None
    if qpa.startswith("wayland") or (not qpa and environ.get("WAYLAND_DISPLAY")):
        return None
    if not environ.get("DISPLAY"):
        return (
            "No display to open the window on (DISPLAY is not set). Run CNN Designer from a desktop session, or "
            "under a virtual screen: `xvfb-run make run`. The command line works without one: "
            "`python -m designer --help`."
        )
    if ctypes.util.find_library("xcb-cursor") is None:
        return (
            "Qt needs the system library libxcb-cursor0 to open a window on X11 and it is not installed. "
            "Install it, e.g. `sudo apt-get install libxcb-cursor0` (Debian, Ubuntu) or "
            "`sudo dnf install xcb-util-cursor` (Fedora), then start again."
        )
    return None


def main(argv: list[str] | None = None) -> int:
    """``python main.py [FILE]``: open the designer window."""
    parser = argparse.ArgumentParser(prog="cnn-designer-gui", description="Design CNNs visually.")
    parser.add_argument("file", nargs="?", help="a design to open (default: the small CNN template)")
    args = parser.parse_args(argv)
    problem = display_problem(os.environ)
    if problem is not None:
        print(f"cnn-designer-gui: {problem}", file=sys.stderr)
        return 2
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
    QTimer.singleShot(PRELOAD_DELAY_MS, preload_torch)
    return app.exec()


#: Long enough for the window to be painted and usable before the import starts competing for the interpreter.
PRELOAD_DELAY_MS = 1500


#: What the first Start or insight would otherwise import while the window waits: a thread that imports holds the
#: interpreter for the length of each extension's loading (0.2-0.8 s each, measured), stalling the UI. Exports run
#: in their own process and load the exporters there.
PRELOADED = ("torch", "torchvision")


def preload_torch() -> threading.Thread:
    """Import torch and torchvision on a background thread, once the window is up.

    The window itself never needs them; a later import on any thread finds them loaded (or waits for this one).
    """

    def load() -> None:
        for name in PRELOADED:
            importlib.import_module(name)
        # torch and torchvision leave about a million objects that live as long as the process: each full cyclic
        # collection scanned them all, a 240-350 ms stall of whichever thread ran it (17-38 ms once frozen)
        gc.freeze()

    thread = threading.Thread(target=load, name="preload-torch", daemon=True)
    thread.start()
    return thread
