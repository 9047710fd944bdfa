"""Render the README's window pictures offscreen with the designer itself (re-runnable, a few seconds):

    python tools/screenshots.py            # writes docs/window_light.png, docs/window_dark.png, docs/overview_*.png
    python tools/screenshots.py runs_view.png   # the Runs view after a sweep it runs first (a minute or more)

Each picture is the real window grabbed with ``QWidget.grab()``, settings and autosave in a temporary folder.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SIZE = (1280, 800)
#: GitHub shows README pictures at about this width; larger files only cost download time.
LIMIT_BYTES = 300_000


def _settle(seconds: float = 0.5) -> None:
    """Let timers (analysis debounce, group frames, minimap) fire."""
    import time

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    assert app is not None
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()


def _window(folder: str, theme: str):  # -> MainWindow (Qt imported only once the platform is chosen)
    from PySide6.QtCore import QSettings

    from widgets.main_window import MainWindow

    window = MainWindow(
        settings=QSettings(str(Path(folder) / f"{theme}.ini"), QSettings.Format.IniFormat),
        autosave_dir=Path(folder) / "autosave",
        load_panels=False,
    )
    window.themes.apply(theme)
    window.resize(*SIZE)
    window.show()
    return window


def _editing(window) -> None:
    """ResNet-18 at 100 %, a block selected so the inspector shows its formulas."""
    window.files.apply_template("resnet18")
    window.menu_actions.expand_all.trigger()
    window.view.zoom_by(1.0 / window.view.zoom)
    window.reveal_node("layer2.0.conv1")
    window.view.center_on_node("layer2.0.bn1")


def _overview(window) -> None:
    """ResNet-50 as it opens: its stages collapsed, the rest wrapped into the window's width."""
    window.files.apply_template("resnet50")


def _zoomed_out(window) -> None:
    """ResNet-50 expanded and fitted: the blocks give way to boxes naming each residual block."""
    window.files.apply_template("resnet50")
    window.menu_actions.expand_all.trigger()


SHOTS: dict[str, tuple[str, Callable[..., None]]] = {
    "window_light.png": ("light", _editing),
    "window_dark.png": ("dark", _editing),
    "overview_resnet50.png": ("light", _overview),
    "overview_resnet50_expanded.png": ("light", _zoomed_out),
}

#: Pictures that train first (minutes), each made by a tool of its own: only when named.
TRAINED: dict[str, str] = {"runs_view.png": "runs_view_picture"}


def render(out_dir: Path = DOCS, only: list[str] | None = None) -> list[Path]:
    """Write each picture of ``SHOTS`` (or those named in ``only``) to ``out_dir``; their paths."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtWidgets import QApplication

    QApplication.instance() or QApplication([])
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as folder:
        for name, (theme, arrange) in SHOTS.items():
            if only and name not in only:
                continue
            window = _window(folder, theme)
            _settle(0.2)
            arrange(window)
            _settle()
            path = out_dir / name
            window.grab().save(str(path), "PNG")
            size = path.stat().st_size
            if size > LIMIT_BYTES:
                print(f"warning: {path} is {size // 1000} kB, over {LIMIT_BYTES // 1000} kB", file=sys.stderr)
            written.append(path)
            window.files.autosave.close()
            window.document.undo_stack.setClean()
            window.close()
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: write the pictures and print their paths."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"only these pictures (of {', '.join([*SHOTS, *TRAINED])})")
    parser.add_argument("--out", type=Path, default=DOCS, help="folder to write to (default: docs/)")
    args = parser.parse_args(argv)
    quick = [n for n in args.names if n not in TRAINED]
    paths = render(args.out, quick or None) if quick or not args.names else []
    for name in [n for n in args.names if n in TRAINED]:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        sys.path.insert(0, str(ROOT))
        tool = importlib.import_module(f"tools.{TRAINED[name]}")
        paths.append(tool.render(args.out / name))
    for path in paths:
        print(f"{path} ({path.stat().st_size // 1000} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
