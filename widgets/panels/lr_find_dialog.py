"""The learning-rate range test in the Training dock: runs off the UI thread, plots loss against lr (log x) live,
marks the proposed rate and offers to set it."""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from designer.model.fileformat import dumps, loads
from designer.model.graph import Graph
from designer.training.config import TrainConfig

from .plot_style import style_plots
from .training_form import button, row

UPDATE_MS = 200


class LrFindDialog(QDialog):
    """Runs ``find_lr`` on a snapshot of ``graph`` with ``config`` in a thread; ``apply_lr`` receives the chosen lr."""

    def __init__(
        self,
        graph: Graph,
        config: TrainConfig,
        apply_lr: Callable[[float], None],
        parent: QWidget | None = None,
        steps: int = 100,
    ):
        super().__init__(parent)
        self.setWindowTitle("Learning-rate range test")
        self.resize(560, 420)
        self._apply_lr, self._steps = apply_lr, steps
        self._snapshot, self._config = dumps(graph), config
        self._queue: collections.deque[tuple[str, Any]] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.points: list[tuple[float, float, float]] = []
        self.result: Any = None
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(UPDATE_MS)
        self._timer.timeout.connect(self._drain)

    def _build(self) -> None:
        self.plot_widget = pg.GraphicsLayoutWidget()
        self.plot = self.plot_widget.addPlot(title="Loss against learning rate")
        self.plot.setLogMode(x=True, y=False)
        self.plot.setLabel("bottom", "learning rate")
        self.plot.addLegend(offset=(-10, 10))
        self.raw = self.plot.plot(name="loss", pen=pg.mkPen((120, 160, 220, 110), width=1))
        self.smooth = self.plot.plot(name="smoothed", pen=pg.mkPen((30, 90, 200), width=2))
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen((220, 90, 30), width=2, style=Qt.PenStyle.DashLine))
        self.marker.setVisible(False)
        self.plot.addItem(self.marker)
        style_plots(self.plot_widget)
        self.status = QLabel("Press Run to train one step per learning rate, from 1e-7 to 10.", wordWrap=True)
        self.run_button = button("Run", self.start)
        self.stop_button = button("Stop", lambda: self._stop.set(), enabled=False)
        self.set_button = button("Set learning rate", self.apply, enabled=False)
        lay = QVBoxLayout(self)
        lay.addWidget(self.plot_widget, 1)
        lay.addWidget(self.status)
        lay.addWidget(row(self.run_button, self.stop_button, self.set_button, button("Close", self.reject)))

    # -- running ------------------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the test in a thread (torch works there; the window stays responsive)."""
        if self.running:
            return
        self.points, self.result = [], None
        self._stop.clear()
        self.marker.setVisible(False)
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.set_button.setEnabled(False)
        self.status.setText("Setting up (loading torch and the data)…")
        self._thread = threading.Thread(target=self._work, name="lr-find", daemon=True)
        self._thread.start()
        self._timer.start()

    def _work(self) -> None:
        from designer.training.lr_find import find_lr

        try:
            result = find_lr(
                loads(self._snapshot),
                self._config,
                steps=self._steps,
                on_step=lambda i, lr, loss, smoothed: self._queue.append(("step", (lr, loss, smoothed))),
                should_stop=self._stop.is_set,
            )
            self._queue.append(("done", result))
        except Exception as exc:  # a failed test must not take the window down: it is reported in the dialog
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            hint = getattr(exc, "hint", "")
            self._queue.append(("failed", message + (f" (hint: {hint})" if hint else "")))

    def _drain(self) -> None:
        while self._queue:
            kind, value = self._queue.popleft()
            if kind == "step":
                self.points.append(value)
            elif kind == "done":
                self._finish(value)
            else:
                self._end(f"The test failed: {value}")
        self._redraw()

    def _redraw(self) -> None:
        finite = [(lr, x, s) for lr, x, s in self.points if math.isfinite(x) and math.isfinite(s)]
        if finite:
            self.raw.setData([p[0] for p in finite], [p[1] for p in finite])
            self.smooth.setData([p[0] for p in finite], [p[2] for p in finite])
            if self.result is None:
                self.status.setText(f"Step {len(self.points)} of {self._steps}: lr {finite[-1][0]:.2g}")

    def _finish(self, result: Any) -> None:
        from designer.cli.lr_find import summary_line

        self.result = result
        lr = result.proposal.lr
        if lr is not None:
            self.marker.setValue(math.log10(lr))  # the line lives in the plot's log-x coordinates
            self.marker.setVisible(True)
        self.set_button.setEnabled(lr is not None)
        self.set_button.setText(f"Set learning rate to {lr:.2g}" if lr is not None else "Set learning rate")
        self._end(summary_line(result)[0].upper() + summary_line(result)[1:] + ".")

    def _end(self, text: str) -> None:
        self._timer.stop()
        self.status.setText(text)
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def apply(self) -> None:
        """Hand the proposed learning rate to the settings."""
        if self.result is not None and self.result.proposal.lr is not None:
            self._apply_lr(float(f"{self.result.proposal.lr:.2g}"))
            self.status.setText(f"Learning rate set to {self.result.proposal.lr:.2g}.")

    def done(self, result: int) -> None:
        self._stop.set()  # closing ends a running test after its current step
        super().done(result)
