"""Start-up: the application object, the window, and the design it opens first."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from designer import fileformat
from designer.graph import Graph

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = ROOT / "templates" / "small_cnn.json"
ORGANIZATION = "cnn-designer"
APPLICATION = "CNN Designer"

#: Opened when no file is given and templates/small_cnn.json is not installed.
EXAMPLE = """{
  "format": "cnn-designer/1",
  "name": "Small CNN",
  "description": "Two convolution blocks and a classifier for 28x28 grey images.",
  "nodes": [
    {"id": "input", "type": "Input", "params": {"shape": [1, 28, 28]}},
    {"id": "conv1", "type": "Conv2d", "params": {"out_channels": 32, "kernel_size": 3, "padding": 1}, "inputs": ["input"]},
    {"id": "relu1", "type": "ReLU", "inputs": ["conv1"]},
    {"id": "pool1", "type": "MaxPool2d", "params": {"kernel_size": 2}, "inputs": ["relu1"]},
    {"id": "conv2", "type": "Conv2d", "params": {"out_channels": 64, "kernel_size": 3, "padding": 1}, "inputs": ["pool1"]},
    {"id": "relu2", "type": "ReLU", "inputs": ["conv2"]},
    {"id": "pool2", "type": "MaxPool2d", "params": {"kernel_size": 2}, "inputs": ["relu2"]},
    {"id": "flatten", "type": "Flatten", "inputs": ["pool2"]},
    {"id": "fc", "type": "Linear", "params": {"out_features": 10}, "inputs": ["flatten"]}
  ],
  "outputs": ["fc"]
}
"""


def initial_graph() -> Graph:
    """templates/small_cnn.json when it is installed and readable, else the built-in example."""
    if DEFAULT_TEMPLATE.exists():
        try:
            return fileformat.load(DEFAULT_TEMPLATE)
        except fileformat.ProjectError:
            pass
    return fileformat.loads(EXAMPLE)


def create_window(path: str | os.PathLike[str] | None = None, **options: object) -> "MainWindow":  # noqa: F821
    """The main window showing ``path`` (if it opens) or the default design; ``options`` go to MainWindow."""
    from .main_window import MainWindow

    window = MainWindow(**options)  # type: ignore[arg-type]
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

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    window = create_window(args.file)
    window.show()
    QTimer.singleShot(0, window.files.offer_recovery)
    return app.exec()
