"""Runs an export (ONNX, TorchScript, PyTorch code) on a worker thread, so the window stays responsive.

torch is imported there, on first use, never at start-up.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from designer.model import fileformat
from designer.model.graph import Graph


@dataclass(frozen=True)
class ExportKind:
    """One File > Export entry: the designer.export format, menu text, file filter and default suffix."""

    key: str
    text: str
    file_filter: str
    suffix: str


EXPORT_KINDS = (
    ExportKind("onnx", "ONNX…", "ONNX models (*.onnx)", ".onnx"),
    ExportKind("torchscript", "TorchScript…", "TorchScript archives (*.pt)", ".pt"),
    ExportKind("python", "PyTorch code…", "Python files (*.py)", ".py"),
)


def run_export(kind: ExportKind, graph: Graph, path: str) -> str:
    """Write the export (imports torch); return designer.export's one-line description of what was written."""
    from designer.export import export

    return export(graph, path, kind.key)


class ExportRunner(QObject):
    """One export at a time; ``finished(what, path, description)`` or ``failed(what, message)`` arrive on the UI
    thread."""

    finished = Signal(str, str, str)
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """Whether an export is running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, kind: ExportKind, graph: Graph, path: str) -> bool:
        """Export a snapshot of ``graph`` to ``path``; False if an export is already running."""
        if self.busy:
            return False
        snapshot = fileformat.loads(fileformat.dumps(graph))  # the user may keep editing while it runs
        self._thread = threading.Thread(
            target=self._run, args=(kind, snapshot, path), daemon=True, name=f"export-{kind.key}"
        )
        self._thread.start()
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running export ends (tests, shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, kind: ExportKind, graph: Graph, path: str) -> None:
        what = kind.text.rstrip("…")
        try:
            description = run_export(kind, graph, path)
        except Exception as exc:
            self.failed.emit(what, _message(exc))
            return
        self.finished.emit(what, path, str(description or ""))


def _message(exc: Exception) -> str:
    diagnostics = getattr(exc, "diagnostics", None)
    if diagnostics:
        return "the design is not valid:\n" + "\n".join(str(d) for d in diagnostics[:10])
    return str(exc) or type(exc).__name__
