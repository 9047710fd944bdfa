"""Render the designer window offscreen with a template open, for the README: ``python tools/screenshot.py [OUT]``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "screenshot.png"


def render_screenshot(
    out: str | os.PathLike[str] = DEFAULT_OUT,
    template: str = "resnet18",
    focus: str = "layer2.0.conv1",
    size: tuple[int, int] = (1600, 1000),
) -> Path:
    """Open ``template`` in a fresh window, select ``focus``, save a PNG.

    Settings and autosave go to a temporary folder.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from widgets.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(
            settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat),
            autosave_dir=Path(tmp) / "autosave",
            load_panels=False,
        )
        window.resize(*size)
        window.show()
        window.files.apply_template(template)
        app.processEvents()
        window.view.zoom_by(0.82 / window.view.zoom)
        if focus in window.scene.nodes:
            window.reveal_node(focus)
            below = window.scene.nodes[focus].pos()
            window.view.centerOn(below.x() + 110, below.y() + 120)
        app.processEvents()
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(out))
        window.files.autosave.close()
        window.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: write the screenshot and print its path."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", nargs="?", default=str(DEFAULT_OUT))
    parser.add_argument("--template", default="resnet18")
    args = parser.parse_args(argv)
    print(render_screenshot(args.out, args.template))
    return 0


if __name__ == "__main__":
    sys.exit(main())
