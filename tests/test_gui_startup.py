"""Start-up: no torch until needed, what `python main.py [FILE]` opens, and a non-blank screenshot."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage

from tests.conftest import ROOT
from tests.helpers import IMPORT_SPY
from widgets import app as gui_app

_NO_TORCH = textwrap.dedent("""
    import os, sys, tempfile
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import main
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    from widgets.app import create_window
    app = QApplication([])
    tmp = tempfile.mkdtemp()
    window = create_window(settings=QSettings(tmp + "/s.ini", QSettings.Format.IniFormat),
                           autosave_dir=tmp + "/autosave")
    window.show()
    app.processEvents()
    window.files.apply_template("resnet18")
    window.scene.select_node("conv1")
    app.processEvents()
    assert len(window.document.graph) > 10
    window.files.autosave.close()
    window.scene.clear_document()
    print("torch" in sys.modules, "pyqtgraph" in sys.modules)
""")


def test_the_window_opens_without_importing_torch():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", _NO_TORCH], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False False", "torch (or a lazy panel) was imported at start-up"


def _options(tmp_path, dialogs=None):
    from tests.gui_helpers import ScriptedDialogs

    return {
        "settings": QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
        "autosave_dir": tmp_path / "autosave",
        "dialogs": dialogs or ScriptedDialogs(),
        "load_panels": False,
    }


def test_main_opens_the_given_file(qtbot, tmp_path, example_file):
    window = gui_app.create_window(example_file, **_options(tmp_path))
    qtbot.addWidget(window)
    assert window.document.path == str(example_file) and not window.document.is_modified
    window.files.autosave.close()
    window.scene.clear_document()


def test_main_without_a_file_opens_the_default_template(qtbot, tmp_path):
    window = gui_app.create_window(None, **_options(tmp_path))
    qtbot.addWidget(window)
    from designer.model import fileformat

    def content(graph):
        return [(n.id, n.type, n.params, n.inputs) for n in graph]

    template = fileformat.load(ROOT / "templates" / "small_cnn.json")
    assert content(window.document.graph) == content(template), "templates/small_cnn.json is the start design"
    assert window.document.path is None, "saving asks for a new name rather than overwriting the template"
    window.files.autosave.close()
    window.scene.clear_document()


def test_main_with_an_unreadable_file_says_why_and_shows_the_default(qtbot, tmp_path):
    from tests.gui_helpers import ScriptedDialogs

    dialogs = ScriptedDialogs()
    window = gui_app.create_window(tmp_path / "missing.json", **_options(tmp_path, dialogs))
    qtbot.addWidget(window)
    assert dialogs.errors and "missing.json" in dialogs.errors[0]
    assert len(window.document.graph) > 1
    window.files.autosave.close()
    window.scene.clear_document()


def test_screenshot_renders_a_non_blank_window(qtbot, tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from screenshot import render_screenshot
    finally:
        sys.path.remove(str(ROOT / "tools"))
    out = render_screenshot(tmp_path / "shot.png", template="small_cnn", focus="conv1", size=(1200, 800))
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1200, 800)
    colours = {image.pixel(x, y) for x in range(0, 1200, 7) for y in range(0, 800, 7)}
    assert len(colours) > 40, "a blank or single-colour image"


def test_without_a_display_the_window_command_says_why_instead_of_aborting():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "No display" in proc.stderr and "xvfb-run" in proc.stderr


def test_a_missing_libxcb_cursor_is_named_with_the_command_that_installs_it(monkeypatch):
    monkeypatch.setattr(gui_app.ctypes.util, "find_library", lambda name: None)
    message = gui_app.display_problem({"DISPLAY": ":0"}, "linux")
    assert message is not None and "apt-get install libxcb-cursor0" in message
    assert gui_app.display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert gui_app.display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert gui_app.display_problem({}, "darwin") is None


@pytest.mark.slow
def test_torch_is_preloaded_on_a_background_thread():
    code = (
        'WATCHED = {"torch", "torchvision"}\n'
        + IMPORT_SPY
        + "import gc, time\nfrom widgets.app import preload_torch\npreload_torch().join()\n"
        + "print(sorted(first.items()))\nt = time.perf_counter()\ngc.collect()\n"
        + "frozen, t = time.perf_counter() - t, time.perf_counter()\n"
        + "count = gc.get_freeze_count()\ngc.unfreeze()\ngc.collect()\n"
        + "print(count, frozen, time.perf_counter() - t)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    expected = [("torch", "preload-torch"), ("torchvision", "preload-torch")]
    imports, collection = proc.stdout.strip().splitlines()
    assert imports == str(expected)
    # what they loaded is frozen, so a full collection no longer scans it (it took 240-350 ms: a UI stall); timed
    # against a collection of the same objects unfrozen, in the same process, so a loaded machine slows both
    count, frozen, unfrozen = collection.split()
    assert int(count) > 100_000 and float(frozen) < float(unfrozen) / 3
