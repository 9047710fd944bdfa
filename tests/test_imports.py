"""The core stays free of Qt, and validation and summaries never import torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

PROBE = """
import sys
from designer.cli import main
import designer, designer.analysis.summary, designer.analysis.validate, designer.model.fileformat
designer.list_specs()
code = main(['validate', sys.argv[1]]) + main(['summary', sys.argv[1], '--explain'])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'PySide6', 'shiboken6',
                                                                 'pyqtgraph', 'onnx', 'numpy'))
print('HEAVY', heavy, file=sys.stderr)
sys.exit(code + (10 if heavy else 0))
"""


def test_validate_and_summary_import_neither_qt_nor_torch(example_file):
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(example_file)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "HEAVY []" in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr


#: Import every module of the core (the torch ones too), then list what of Qt and the views came with them.
EVERY_MODULE = """
import importlib, pkgutil, sys
import designer
names = [m.name for m in pkgutil.walk_packages(designer.__path__, 'designer.') if not m.name.endswith('__main__')]
for name in names:
    importlib.import_module(name)
views = ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'pyqtgraph', 'widgets')
qt = sorted(m for m in sys.modules if m.split('.')[0] in views)
print(len(names), qt)
"""


@pytest.mark.slow
def test_no_module_of_the_core_brings_qt_or_the_views():
    """Importing any core module leaves Qt unloaded (``make lint``'s import contract checks the source as well)."""
    proc = subprocess.run(
        [sys.executable, "-c", EVERY_MODULE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    count, loaded = proc.stdout.split(" ", 1)
    assert int(count) > 60, "the walk found the core's modules"
    assert loaded.strip() == "[]"
