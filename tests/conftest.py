import os

# Qt must never look for a screen in the test run; this has to be set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One torch thread from the first tensor on, before any fixture runs: a module-scoped fixture (training a reference
# run, say) is made before the per-test fixture below sets the count, and a run with two threads differs from one
# with one in the last bits, which the exact-equality tests see when such a test is the first of its worker.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = """{
  "format": "cnn-designer/2",
  "name": "Small CNN",
  "nodes": [
    {"id": "input", "type": "Input", "params": {"shape": [1, 28, 28]}},
    {"id": "conv1", "type": "Conv2d", "params": {"out_channels": 32, "kernel_size": 3}, "inputs": ["input"]},
    {"id": "relu1", "type": "ReLU", "inputs": ["conv1"]},
    {"id": "pool1", "type": "MaxPool2d", "params": {"kernel_size": 2, "stride": 2}, "inputs": ["relu1"]},
    {"id": "flat", "type": "Flatten", "inputs": ["pool1"]},
    {"id": "fc", "type": "Linear", "params": {"out_features": 10}, "inputs": ["flat"]}
  ],
  "outputs": ["fc"]
}
"""


@pytest.fixture
def example_text() -> str:
    return EXAMPLE


@pytest.fixture
def example_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.json"
    path.write_text(EXAMPLE, encoding="utf-8")
    return path


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Make designer windows with settings, autosave and dialogs of their own (nothing modal, nothing shared)."""
    from PySide6.QtCore import QSettings  # here, not at the top: the core tests run without Qt

    from widgets.main_window import MainWindow

    from .gui_helpers import ScriptedDialogs

    made = []

    def make(**options):
        options.setdefault("settings", QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
        options.setdefault("dialogs", ScriptedDialogs())
        options.setdefault("autosave_dir", tmp_path / "autosave")
        options.setdefault("load_panels", False)
        window = MainWindow(**options)
        qtbot.addWidget(window)
        made.append(window)
        return window

    yield make
    for window in made:
        window.files.exports.wait()
        window.files.exports.close()
        window.files.autosave.close()
        window.scene.clear_document()


@pytest.fixture(autouse=True)
def _seeded_random_state() -> None:
    """Every test starts from the same random state, so a test that draws random weights is not flaky.

    Tests run one torch thread: their tensors are tiny, and a second thread only spins on the core other work needs.
    """
    import random
    import sys

    random.seed(0)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(0)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)
        sys.modules["torch"].set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _clear_clipboard_at_exit():
    """Empty the clipboard before Qt shuts down: on the offscreen platform, clipboard data still owned at exit
    crashes the interpreter after the last test (exit code 139 with every test passed)."""
    yield
    import sys

    if "PySide6.QtWidgets" in sys.modules:
        app = sys.modules["PySide6.QtWidgets"].QApplication.instance()
        if app is not None:
            app.clipboard().clear()
