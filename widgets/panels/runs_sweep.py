"""The Runs view's sweep control: a sweep in a child process (``designer.sweep.remote``), its events queued on the
reader thread and drained on the UI thread by a timer, so the window never waits for a trial."""

from __future__ import annotations

import collections
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from designer.model.fileformat import dumps
from designer.model.graph import Graph
from designer.sweep.events import SweepEnded, SweepEvent, SweepFailed, SweepStarted, TrialEnded, TrialProgress
from designer.sweep.remote import RemoteSweep, SweepRequest
from designer.sweep.runner import SweepOptions
from designer.training.events import EpochEnded

DRAIN_MS = 200


class SweepController(QObject):
    """Starts, stops and resumes one sweep at a time; reports progress as signals on the UI thread.

    ``progress(text, done, total)``: trials the study holds and should hold; ``trial_ended(event)``: a trial's end
    (the list refreshes); ``finished(text)``: the sweep ended, stopped or failed.
    """

    progress = Signal(str, int, int)
    trial_ended = Signal(object)
    finished = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.remote: RemoteSweep | None = None
        self.last: tuple[Graph, str | None, SweepOptions] | None = None
        self.folder: Path | None = None
        self.done = self.total = 0
        self._queue: collections.deque[SweepEvent] = collections.deque()
        self._lock = threading.Lock()
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self._drain)

    @property
    def running(self) -> bool:
        """True from start until the sweep's last event has been shown."""
        return self.remote is not None

    def start(self, graph: Graph, path: str | None, options: SweepOptions) -> None:
        """Run a sweep over a snapshot of ``graph`` (taken now) in a child process."""
        if self.running:
            return
        self.last = (graph, path, options)
        request = SweepRequest(dumps(graph), path, options)
        self.remote = RemoteSweep(request, self._enqueue)
        self.progress.emit("starting the sweep process…", self.done, max(self.total, options.trials))
        self.remote.start()
        self._timer.start()

    def stop(self) -> None:
        """Stop after the current trial's current step; ``resume()`` continues from its checkpoint."""
        if self.remote is not None:
            self.remote.stop()
            self.progress.emit("stopping after this step…", self.done, self.total)

    def resume(self) -> None:
        """Run the last sweep again: its study continues, a stopped trial from its checkpoint."""
        if self.last is not None and not self.running:
            self.start(*self.last)

    def close(self, timeout: float = 30.0) -> None:
        """Stop the sweep and wait for it (the window is closing)."""
        if self.remote is not None:
            self.remote.close(timeout)
            self._drain()

    def _enqueue(self, event: SweepEvent) -> None:
        with self._lock:
            self._queue.append(event)

    def _drain(self) -> None:
        with self._lock:
            events = list(self._queue)
            self._queue.clear()
        for event in events:
            self._show(event)

    def _show(self, event: SweepEvent) -> None:
        match event:
            case SweepStarted():
                self.folder, self.done, self.total = Path(event.folder), event.existing, event.trials
                self.progress.emit(
                    f"study {event.study}: {event.existing} of {event.trials} trials", self.done, self.total
                )
            case TrialProgress(event=EpochEnded() as e):
                acc = f", val acc {e.val_accuracy:.1%}" if e.val_accuracy is not None else ""
                self.progress.emit(f"trial {event.number}: epoch {e.epoch}/{e.epochs}{acc}", self.done, self.total)
            case TrialEnded():
                self.done += event.state != "stopped"
                value = f" {event.value:.4g}" if event.value is not None else ""
                self.progress.emit(f"trial {event.number} {event.state}{value}", self.done, self.total)
                self.trial_ended.emit(event)
            case SweepEnded():
                best = event.best_value
                tail = f", best trial {event.best_number} ({best:.4g})" if best is not None else ""
                self._end(f"sweep {event.reason}: {event.trials_run} trial(s) run{tail}")
            case SweepFailed():
                self._end(f"sweep failed: {event.message}")
            case _:
                pass

    def _end(self, text: str) -> None:
        self._timer.stop()
        if self.remote is not None:
            self.remote.join(10.0)
        self.remote = None
        self.progress.emit(text, self.done, self.total)
        self.finished.emit(text)
