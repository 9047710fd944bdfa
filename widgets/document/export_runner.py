"""Runs an export (ONNX, TorchScript, PyTorch code) in a worker process, so the window stays responsive.

A process, not a thread: torch's exporters hold the interpreter for hundreds of milliseconds at a time (imports,
tracing), and a thread doing that freezes the window as surely as the UI thread would. The worker is started on the
first export (it imports torch then, not the window) and kept for the next ones.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from designer.model import fileformat
from designer.model.graph import Graph


@dataclass(frozen=True)
class ExportKind:
    """One File > Export entry: the designer.export format, menu text, file filter and default suffix; ``with_nms``:
    a detection design's ONNX with its decode and NMS (boxes as outputs)."""

    key: str
    text: str
    file_filter: str
    suffix: str
    with_nms: bool = False


EXPORT_KINDS = (
    ExportKind("onnx", "ONNX…", "ONNX models (*.onnx)", ".onnx"),
    ExportKind("torchscript", "TorchScript…", "TorchScript archives (*.pt)", ".pt"),
    ExportKind("python", "PyTorch code…", "Python files (*.py)", ".py"),
    ExportKind("onnx", "ONNX with Boxes (Decode and NMS)…", "ONNX models (*.onnx)", ".onnx", with_nms=True),
)


def export_in_worker(project_json: str, path: str, fmt: str, with_nms: bool = False) -> str:
    """What the worker process runs (importing torch there): ``designer.export.export_project``."""
    from designer.export import export_project

    return export_project(project_json, path, fmt, with_nms=with_nms)


class ExportRunner(QObject):
    """One export at a time; ``finished(what, path, description)`` or ``failed(what, message)`` arrive on the UI
    thread."""

    finished = Signal(str, str, str)
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._pool: ProcessPoolExecutor | None = None

    @property
    def busy(self) -> bool:
        """Whether an export is running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, kind: ExportKind, graph: Graph, path: str) -> bool:
        """Export a snapshot of ``graph`` to ``path``; False if an export is already running."""
        if self.busy:
            return False
        if self._pool is None:  # spawn, not fork: a forked Qt application is not safe to run on
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        future = self._pool.submit(export_in_worker, fileformat.dumps(graph), path, kind.key, kind.with_nms)
        self._thread = threading.Thread(target=self._wait, args=(kind, path, future), daemon=True, name="export")
        self._thread.start()
        return True

    def close(self) -> None:
        """Stop the worker process (the window is closing); a running export is abandoned."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running export ends (tests, shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _wait(self, kind: ExportKind, path: str, future: Future[str]) -> None:
        what = kind.text.rstrip("…")
        try:
            description = future.result()
        except BrokenProcessPool:
            self._pool = None  # the next export starts a new worker
            self.failed.emit(what, "the export process stopped unexpectedly (out of memory?); nothing was written")
            return
        except Exception as exc:
            self.failed.emit(what, _message(exc))
            return
        self.finished.emit(what, path, str(description or ""))


def _message(exc: Exception) -> str:
    diagnostics = getattr(exc, "diagnostics", None)
    if diagnostics:
        return "the design is not valid:\n" + "\n".join(str(d) for d in diagnostics[:10])
    return str(exc) or type(exc).__name__
