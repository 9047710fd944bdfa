"""The core stays free of Qt, and validation and summaries never import torch."""

from __future__ import annotations

import subprocess
import sys

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


def test_no_module_of_the_core_imports_qt():
    offenders = []
    for path in (ROOT / "designer").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if any(word in text for word in ("PySide6", "PyQt", "pyqtgraph", "shiboken")):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
