"""The training panel: a settings form, Start / Pause / Stop, live loss and accuracy curves, and past runs.

Training runs on a Python thread (torch releases the GIL in its kernels); its events go into a queue that a timer
drains ten times a second, so a fast run cannot flood the window. The run trains a snapshot of the design taken at
Start. Nothing here imports torch until a run or a preview starts.
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer.model.graph import Graph
from designer.training.api import (
    CheckpointSaved,
    EpochEnded,
    Event,
    Failed,
    Finished,
    Note,
    Paused,
    Resumed,
    RunStarted,
    StepEnded,
    TrainConfig,
    default_runs_root,
    list_runs,
    metric_series,
    read_metrics,
    read_section,
)
from designer.training.config import OPTIMIZERS, PRECISIONS, SCHEDULES, ConfigError
from designer.training.events import format_duration, unhandled

if TYPE_CHECKING:
    from designer.training.engine import Trainer

DesignGetter = Callable[[], "tuple[Graph, str | None] | Graph"]
DATA_KINDS = ("shapes", "mnist", "fashion-mnist", "cifar10", "folder")
SNAPSHOT_NOTE = (
    "Training uses a copy of the design taken when you press Start; edits made during a run do not affect it."
)
UPDATE_MS = 200  # at most five redraws a second, whatever the step rate: live enough, and cheap on 2 cores


class ConfigForm(QWidget):
    """Every training setting as a form; ``config()`` reads it, ``set_config()`` fills it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        form = QFormLayout(self)
        self._add_data_rows(form)
        self._add_optimizer_rows(form)
        self._add_run_rows(form)
        self._extra: dict[str, Any] = {}

    def _add_data_rows(self, form: QFormLayout) -> None:
        self.data_kind = _combo(DATA_KINDS)
        self.data_root = QLineEdit(placeholderText="folder with the dataset")
        form.addRow("Dataset", _row(self.data_kind, (self.data_root, 1), _tool_button("…", self._browse)))
        self.samples = _spin(10, 1_000_000, 10_000, step=1000)
        self.val_split = _dspin(0.0, 0.9, 0.1, 0.05, 2)
        self.aug = {
            name: QCheckBox(label)
            for name, label in (
                ("crop", "crop"),
                ("resized_crop", "resized crop"),
                ("hflip", "h-flip"),
                ("vflip", "v-flip"),
                ("affine", "affine"),
            )
        }
        self.rotation = _dspin(0, 180, 0, 5, 0)
        self.color_jitter = _dspin(0, 1, 0, 0.05, 2)
        for label, w in (
            ("Shapes samples", self.samples),
            ("Validation share", self.val_split),
            ("Augmentation", _row(*self.aug.values())),
            ("Rotation (°)", self.rotation),
            ("Colour jitter", self.color_jitter),
        ):
            form.addRow(label, w)

    def _add_optimizer_rows(self, form: QFormLayout) -> None:
        self.optimizer = _combo(OPTIMIZERS)
        self.lr = _dspin(1e-6, 10.0, 1e-3, 1e-4, 6)
        self.momentum = _dspin(0, 0.999, 0.9, 0.01, 3)
        self.nesterov = QCheckBox("Nesterov")
        self.weight_decay = _dspin(0, 1, 0, 1e-4, 6)
        self.schedule = _combo(SCHEDULES)
        self.label_smoothing = _dspin(0, 0.9, 0, 0.05, 2)
        for label, w in (
            ("Optimiser", self.optimizer),
            ("Learning rate", self.lr),
            ("Momentum (SGD)", self.momentum),
            ("", self.nesterov),
            ("Weight decay", self.weight_decay),
            ("LR schedule", self.schedule),
            ("Label smoothing", self.label_smoothing),
        ):
            form.addRow(label, w)

    def _add_run_rows(self, form: QFormLayout) -> None:
        self.epochs = _spin(1, 10_000, 5)
        self.batch_size = _spin(1, 65_536, 64)
        self.seed = _spin(0, 2**31 - 1, 0)
        self.device = _combo(("auto", "cpu", "cuda", "mps"))
        self.precision = _combo(PRECISIONS)
        self.init_weights = QLineEdit(placeholderText="none: start from random weights")
        weights = _row((self.init_weights, 1), _tool_button("…", self._browse_weights))
        for label, w in (
            ("Epochs", self.epochs),
            ("Batch size", self.batch_size),
            ("Seed", self.seed),
            ("Device", self.device),
            ("Mixed precision", self.precision),
            ("Start from weights", weights),
        ):
            form.addRow(label, w)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Dataset folder", self.data_root.text())
        if path:
            self.data_root.setText(path)

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Weights", self.init_weights.text(), "Checkpoints (*.pt *.pth *.ckpt);;All files (*)"
        )
        if path:
            self.init_weights.setText(path)

    def config(self) -> TrainConfig:
        """The form's settings (settings the form does not show are kept from the last ``set_config``)."""
        kind = self.data_kind.currentText()
        data = kind if kind == "shapes" else f"{kind}:{self.data_root.text().strip()}"
        augment: dict[str, Any] = {k: True for k, box in self.aug.items() if box.isChecked()}
        if self.rotation.value():
            augment["rotation"] = self.rotation.value()
        if self.color_jitter.value():
            augment["color_jitter"] = self.color_jitter.value()
        values = dict(
            self._extra,
            data=data,
            samples=self.samples.value(),
            val_split=self.val_split.value(),
            augment=augment,
            optimizer=self.optimizer.currentText(),
            lr=self.lr.value(),
            momentum=self.momentum.value(),
            nesterov=self.nesterov.isChecked(),
            weight_decay=self.weight_decay.value(),
            schedule=self.schedule.currentText(),
            label_smoothing=self.label_smoothing.value(),
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            seed=self.seed.value(),
            device=self.device.currentText(),
            precision=self.precision.currentText(),
            init_weights=self.init_weights.text().strip() or None,
        )
        return TrainConfig.from_dict(values)

    def set_config(self, cfg: TrainConfig) -> None:
        self._extra = cfg.to_dict()
        kind, _, root = cfg.data.partition(":")
        self.data_kind.setCurrentText(kind)
        self.data_root.setText(root)
        for name, box in self.aug.items():
            box.setChecked(bool(cfg.augment.get(name)))
        self.rotation.setValue(float(cfg.augment.get("rotation", 0)))
        self.color_jitter.setValue(float(cfg.augment.get("color_jitter", 0)))
        for name in (
            "samples",
            "val_split",
            "lr",
            "momentum",
            "weight_decay",
            "label_smoothing",
            "epochs",
            "batch_size",
            "seed",
        ):
            getattr(self, name).setValue(getattr(cfg, name))
        self.nesterov.setChecked(cfg.nesterov)
        self.init_weights.setText(cfg.init_weights or "")
        for name in ("optimizer", "schedule", "device", "precision"):
            getattr(self, name).setCurrentText(getattr(cfg, name).split(":")[0])


class CurvesView(pg.GraphicsLayoutWidget):
    """Loss and accuracy against the step: training per step (raw and smoothed) and per epoch, validation per epoch.

    The axes are fixed for a run (steps 0..total, accuracy 0..1, loss 0..a round ceiling that only grows), so a live
    update redraws the curves but not the axes, which cost most of a repaint.
    """

    def __init__(self, parent: QWidget | None = None, smoothing: float = 0.9):
        super().__init__(parent)
        self.smoothing = smoothing
        self.loss_plot = self.addPlot(row=0, col=0, title="Loss")
        self.acc_plot = self.addPlot(row=1, col=0, title="Accuracy")
        self.acc_plot.setXLink(self.loss_plot)
        self.acc_plot.setLabel("bottom", "step")
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        for plot, metric in ((self.loss_plot, "loss"), (self.acc_plot, "acc")):
            plot.addLegend(offset=(-10, 10))  # no grid: its translucent lines made each repaint five times slower
            plot.disableAutoRange()
            for name, label, pen, symbol in (
                ("train_step", "train (step)", (120, 160, 220, 90), None),
                ("train_smooth", "train (smoothed)", (30, 90, 200), None),
                ("train_epoch", "train (epoch)", (30, 90, 200), "o"),
                ("val_epoch", "validation (epoch)", (220, 90, 30), "s"),
            ):
                item = plot.plot(
                    name=label,
                    pen=pg.mkPen(pen, width=1 if name == "train_step" else 2),
                    symbol=symbol,
                    symbolSize=6,
                    symbolBrush=pen[:3] if symbol else None,
                )
                item.setDownsampling(auto=True, method="peak")
                item.setClipToView(True)
                self.curves[(name, metric)] = item
        self.acc_plot.setYRange(0, 1, padding=0.02)
        self.clear_data()

    def clear_data(self, total_steps: int = 100) -> None:
        """Empty the plots for a run of ``total_steps``."""
        self.data: dict[tuple[str, str], tuple[list[float], list[float]]] = {k: ([], []) for k in self.curves}
        self._ema: dict[str, float | None] = {"loss": None, "acc": None}
        self._dirty = set(self.curves)
        self._loss_top = 0.0
        self.loss_plot.setXRange(0, max(1, total_steps), padding=0.01)
        self.refresh()

    def add(self, series: str, metric: str, step: float, value: float | None) -> None:
        if value is None or not math.isfinite(value):
            return
        xs, ys = self.data[(series, metric)]
        xs.append(step)
        ys.append(value)
        self._dirty.add((series, metric))
        if metric == "loss" and value > self._loss_top:
            self._loss_top = _nice_ceiling(value)
            self.loss_plot.setYRange(0, self._loss_top, padding=0.02)
        if series == "train_step":
            prev = self._ema[metric]
            self._ema[metric] = value if prev is None else self.smoothing * prev + (1 - self.smoothing) * value
            self.add("train_smooth", metric, step, self._ema[metric])

    def load_rows(self, rows: list[dict[str, str]], total_steps: int | None = None) -> None:
        """Show a run from its ``metrics.csv`` rows (a past run, or the start of a resumed one)."""
        self.clear_data(total_steps or max((int(r["step"]) for r in rows), default=1))
        for kind, series in (("step", "train_step"), ("epoch", "train_epoch")):
            for metric in ("loss", "acc"):
                for x, y in zip(*metric_series(rows, kind, f"train_{metric}")):
                    self.add(series, metric, x, y)
        for metric in ("loss", "acc"):
            for x, y in zip(*metric_series(rows, "epoch", f"val_{metric}")):
                self.add("val_epoch", metric, x, y)
        self.refresh()

    def refresh(self) -> None:
        """Hand the curves that changed since the last refresh to pyqtgraph (which then repaints once)."""
        for key in self._dirty:
            xs, ys = self.data[key]
            self.curves[key].setData(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
        self._dirty = set()

    def points(self, series: str, metric: str) -> list[float]:
        return list(self.data[(series, metric)][1])


def _nice_ceiling(value: float) -> float:
    """1, 1.5, 2, 3, 5 or 7 times a power of ten, at least ``value``: the loss axis changes only a few times."""
    power = 10 ** math.floor(math.log10(value)) if value > 0 else 1.0
    return next(m * power for m in (1, 1.5, 2, 3, 5, 7, 10) if m * power >= value)


class TrainingPanel(QWidget):
    """Train the current design: settings, Start / Pause / Stop, progress, live curves and past runs.

    ``get_design`` returns the current ``Graph`` and its file path (or None for an unsaved design); the panel needs
    nothing else from the window. ``write_section``, if given, stores the settings in the design (route it through
    the undo stack); without it the panel writes ``graph.extra["training"]`` itself. ``tabs`` takes more views.
    """

    run_started = Signal(str)
    run_finished = Signal(object)

    def __init__(
        self,
        get_design: DesignGetter,
        parent: QWidget | None = None,
        *,
        runs_root: str | Path | None = None,
        write_section: Callable[[Graph, dict[str, Any]], None] | None = None,
    ):
        super().__init__(parent)
        self._get_design, self._runs_root, self._write_section = get_design, runs_root, write_section
        self.trainer: Trainer | None = None
        self._thread: threading.Thread | None = None
        self._queue: collections.deque[Event] = collections.deque()
        #: Called on the training thread with every engine event (the insight dock refreshes from these).
        self.event_listeners: list[Callable[[Event], None]] = []
        self.last_event: Event | None = None
        self._latest_step: StepEnded | None = None
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(UPDATE_MS)
        self._timer.timeout.connect(self._drain)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self.refresh_from_design()

    def _build(self) -> None:
        self.form = ConfigForm()
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.form)
        self.start_button = _button("Start", self.start)
        self.pause_button = _button("Pause", self.toggle_pause, enabled=False)
        self.stop_button = _button("Stop", self.stop, enabled=False)
        self.progress = QProgressBar(textVisible=True)
        self.status = QLabel("Ready.", wordWrap=True)
        note = QLabel(SNAPSHOT_NOTE, wordWrap=True)
        note.setStyleSheet("color: gray")
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.addWidget(scroll, 1)
        for w in (_row(self.start_button, self.pause_button, self.stop_button), self.progress, self.status, note):
            lay.addWidget(w)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self._build_tabs())
        splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(splitter)

    def _build_tabs(self) -> QTabWidget:
        self.curves = CurvesView()
        self.preview = QLabel(
            "Press Preview to see augmented training samples.", alignment=Qt.AlignmentFlag.AlignCenter
        )
        preview_tab = QWidget()
        pl = QVBoxLayout(preview_tab)
        pl.addWidget(_button("Preview", self.show_preview))
        pl.addWidget(self.preview, 1)
        self.runs = QListWidget()
        self.runs.itemActivated.connect(self._open_run)
        runs_tab = QWidget()
        rl = QVBoxLayout(runs_tab)
        rl.addWidget(self.runs, 1)
        rl.addWidget(
            _row(
                _button("Show curves", lambda: self._open_run(self.runs.currentItem())),
                _button("Resume", self.resume_selected),
                _button("Refresh", self.refresh_runs),
            )
        )
        self.log = QPlainTextEdit(readOnly=True)
        self.tabs = QTabWidget()
        for w, title in ((self.curves, "Curves"), (preview_tab, "Augmentation"), (runs_tab, "Runs"), (self.log, "Log")):
            self.tabs.addTab(w, title)
        return self.tabs

    # -- design access ------------------------------------------------------------------------------------------------

    def design(self) -> tuple[Graph, str | None]:
        got = self._get_design()
        return got if isinstance(got, tuple) else (got, None)

    def runs_root(self) -> Path:
        graph, path = self.design()
        return Path(self._runs_root) if self._runs_root else default_runs_root(path, graph.name)

    def refresh_from_design(self) -> None:
        """Fill the form from the design's ``training`` section and list its runs (call after opening a file)."""
        graph, _ = self.design()
        ignored: list[str] = []
        try:
            self.form.set_config(read_section(graph, ignored))
        except ConfigError as exc:
            self._say(f"The design's training settings were not used: {exc}")
        self.refresh_runs()

    def refresh_runs(self) -> None:
        self.runs.clear()
        for info in list_runs(self.runs_root()):
            acc = f", best {info.best_val_accuracy:.1%}" if info.best_val_accuracy is not None else ""
            item = QListWidgetItem(f"{info.name}  [{info.status}] {info.data}, {info.epoch} epoch(s){acc}")
            item.setData(Qt.ItemDataRole.UserRole, str(info.path))
            self.runs.addItem(item)

    # -- running -------------------------------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Train a snapshot of the current design with the form's settings."""
        if self.is_running:
            return
        try:
            cfg = self.form.config()
        except ConfigError as exc:
            self._fail_message(str(exc))
            return
        graph, _ = self.design()
        if _settings_changed(graph, cfg):  # a run with the design's own settings leaves the design unmodified
            if self._write_section is not None:
                self._write_section(graph, cfg.to_dict())
            else:
                graph.extra["training"] = cfg.to_dict()
        from designer.training.engine import Trainer

        self._launch(Trainer(graph, cfg, runs_root=self.runs_root(), on_event=self._on_trainer_event))

    def resume_selected(self) -> None:
        item = self.runs.currentItem()
        if item is None or self.is_running:
            return
        from designer.training.engine import Trainer
        from designer.training.setup import TrainingError

        try:
            trainer = Trainer.from_run_dir(item.data(Qt.ItemDataRole.UserRole), on_event=self._on_trainer_event)
        except (TrainingError, ConfigError, OSError, ValueError) as exc:
            self._fail_message(str(exc))
            return
        self._launch(trainer)

    def _on_trainer_event(self, event: Event) -> None:
        self._queue.append(event)
        for listener in list(self.event_listeners):
            listener(event)

    def _launch(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.curves.clear_data()
        self.progress.setValue(0)
        self.status.setText("Starting…")
        self._set_running(True)
        self._thread = threading.Thread(target=self._work, args=(trainer,), name="training", daemon=True)
        self._thread.start()
        self._timer.start()

    def _work(self, trainer: Trainer) -> None:
        try:
            trainer.run()
        except BaseException as exc:
            self._queue.append(Failed("error", f"{type(exc).__name__}: {exc}"))

    def toggle_pause(self) -> None:
        if self.trainer is None or not self.is_running:
            return
        if self.trainer.paused:
            self.trainer.resume()
        else:
            self.trainer.pause()

    def stop(self) -> None:
        if self.trainer is not None and self.is_running:
            self.trainer.stop()
            self.status.setText("Stopping after this step…")

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop a run and wait for its checkpoint (called when the application quits)."""
        thread, trainer = self._thread, self.trainer
        if thread is not None and trainer is not None and thread.is_alive():
            trainer.stop()
            thread.join(timeout)
        self._drain()

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.form.setEnabled(not running)
        self.pause_button.setText("Pause")

    # -- events, on the UI thread -------------------------------------------------------------------------------------

    def _drain(self) -> None:
        # Every Qt call may wait for the training thread to hand back the GIL, so step events only gather data
        # here and the widgets are set once per drain, from the latest step.
        self._latest_step = None
        while self._queue:
            self.show_event(self._queue.popleft())
        e = self._latest_step
        if e is not None:
            self.progress.setValue(e.step)
            self.progress.setFormat(f"step %v / %m · epoch {e.epoch}")
            self.status.setText(
                f"{e.samples_per_s:,.0f} samples/s · ETA {format_duration(e.eta_s)} · "
                f"loss {e.loss:.4f} · accuracy {e.accuracy:.1%}"
            )
        self.curves.refresh()
        if not self.is_running and not self._queue and self._timer.isActive():
            self._timer.stop()
            self._set_running(False)

    def show_event(self, event: Event) -> None:
        """Show one engine event: gather a step's points, or update the widgets (call on the UI thread)."""
        self.last_event = event
        # One case per event class: mypy checks the match covers the whole Event union.
        match event:
            case RunStarted():
                self._on_run_started(event)
            case StepEnded():
                self._on_step_ended(event)
            case EpochEnded():
                self._on_epoch_ended(event)
            case Paused():
                self._on_paused(event)
            case Resumed():
                self._on_resumed(event)
            case Note():
                self._on_note(event)
            case Finished():
                self._on_finished(event)
            case Failed():
                self._on_failed(event)
            case CheckpointSaved():
                pass  # the Runs tab lists runs, not their checkpoints
            case _:
                unhandled(event)

    def _on_run_started(self, e: RunStarted) -> None:
        if e.start_step:  # a resumed run: its curves so far, then the new points
            self.curves.load_rows(read_metrics(e.run_dir), e.total_steps)
        else:
            self.curves.clear_data(e.total_steps)
        self.progress.setRange(0, max(1, e.total_steps))
        self.progress.setValue(e.start_step)
        self._say(
            f"Run {e.run_dir}: {e.train_samples} training / {e.val_samples} validation samples on {e.device} "
            f"({e.precision})."
        )
        for note in e.notes:
            self._say("Note: " + note)
        self.run_started.emit(e.run_dir)

    def _on_step_ended(self, e: StepEnded) -> None:
        self.curves.add("train_step", "loss", e.step, e.loss)
        self.curves.add("train_step", "acc", e.step, e.accuracy)
        self._latest_step = e

    def _on_epoch_ended(self, e: EpochEnded) -> None:
        for metric, train, val in (("loss", e.train_loss, e.val_loss), ("acc", e.train_accuracy, e.val_accuracy)):
            self.curves.add("train_epoch", metric, e.step, train)
            self.curves.add("val_epoch", metric, e.step, val)
        shown = f", validation loss {e.val_loss:.4f} accuracy {e.val_accuracy:.1%}" if e.val_loss is not None else ""
        self._say(
            f"Epoch {e.epoch}/{e.epochs}: training loss {e.train_loss:.4f} accuracy {e.train_accuracy:.1%}{shown}"
        )

    def _on_paused(self, e: Paused) -> None:
        self._latest_step = None
        self.pause_button.setText("Resume")
        self.status.setText(f"Paused at step {e.step}; the checkpoint is saved.")

    def _on_resumed(self, e: Resumed) -> None:
        self.pause_button.setText("Pause")

    def _on_note(self, e: Note) -> None:
        self._say("Note: " + e.message)

    def _on_finished(self, e: Finished) -> None:
        if self._latest_step is not None:
            self.progress.setValue(self._latest_step.step)
        self._latest_step = None
        best = f", best validation accuracy {e.best_val_accuracy:.1%}" if e.best_val_accuracy is not None else ""
        self.status.setText(
            f"{e.status.capitalize()} after {e.epoch} epoch(s), {e.step} steps ({format_duration(e.elapsed_s)}){best}."
        )
        self._say(self.status.text())
        self.refresh_runs()
        self.run_finished.emit(e)

    def _on_failed(self, e: Failed) -> None:
        self._latest_step = None
        self._fail_message(e.message + (f" ({e.hint})" if e.hint else ""))
        if e.details:
            self._say(e.details)
        if e.checkpoint:
            self._say(f"The last good checkpoint is {e.checkpoint}.")
        self.refresh_runs()
        self.run_finished.emit(e)

    def _fail_message(self, text: str) -> None:
        self.status.setText(f"<span style='color:#c0392b'>Failed: {text}</span>")
        self._say("Failed: " + text)

    def _say(self, text: str) -> None:
        self.log.appendPlainText(text)

    # -- runs and preview ---------------------------------------------------------------------------------------------

    def _open_run(self, item: QListWidgetItem | None) -> None:
        if item is None or self.is_running:
            return
        self.curves.load_rows(read_metrics(item.data(Qt.ItemDataRole.UserRole)))
        self.tabs.setCurrentWidget(self.curves)

    def show_preview(self) -> None:
        """Draw 16 augmented training samples from the form's dataset at the design's input size."""
        from designer.analysis.validate import analyze
        from designer.training.data import Augment, DataError, load_data, preview_grid

        graph, _ = self.design()
        try:
            cfg = self.form.config()
            inputs = graph.input_ids()
            shape = analyze(graph).shape(inputs[0]) if inputs else None
            if not shape:
                raise DataError("data.input_rank", "the design needs an Input with a known shape")
            bundle = load_data(
                cfg.data,
                shape,
                val_split=0.0,
                augment=Augment.from_dict(cfg.augment),
                seed=cfg.seed,
                samples=min(cfg.samples, 256),
                normalize="none",
            )
            grid = preview_grid(bundle.train, n=16, seed=cfg.seed)
        except (DataError, ConfigError) as exc:
            self._fail_message(str(exc))
            return
        self.preview_array = grid
        h, w, _ = grid.shape
        image = QImage(grid.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self.preview.setPixmap(QPixmap.fromImage(image))
        self.tabs.setCurrentIndex(1)


def _row(*widgets: QWidget | tuple[QWidget, int]) -> QWidget:
    """Widgets side by side; a ``(widget, stretch)`` pair takes the spare room."""
    row = QWidget()
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        widget, stretch = w if isinstance(w, tuple) else (w, 0)
        lay.addWidget(widget, stretch)
    return row


def _button(text: str, slot: Callable[[], None], enabled: bool = True) -> QPushButton:
    button = QPushButton(text)
    button.setEnabled(enabled)
    button.clicked.connect(slot)
    return button


def _tool_button(text: str, slot: Callable[[], None]) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.clicked.connect(slot)
    return button


def _combo(items: tuple[str, ...]) -> QComboBox:
    box = QComboBox()
    box.addItems(list(items))
    return box


def _settings_changed(graph: Graph, cfg: TrainConfig) -> bool:
    """Whether ``cfg`` differs from the settings the design holds (its defaults when it has no section)."""
    try:
        return read_section(graph).to_dict() != cfg.to_dict()
    except ConfigError:
        return True  # a malformed section is replaced by what the form shows


def _spin(low: int, high: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox(minimum=low, maximum=high, singleStep=step)
    box.setValue(value)
    return box


def _dspin(low: float, high: float, value: float, step: float, decimals: int) -> QDoubleSpinBox:
    box = QDoubleSpinBox(decimals=decimals, minimum=low, maximum=high, singleStep=step)
    box.setValue(value)
    return box


def create_panel(window: Any) -> TrainingPanel:
    """The training dock of the designer window: trains the window's current design, settings kept in the file."""

    def design() -> tuple[Graph, str | None]:
        return window.document.graph, window.document.path

    panel = TrainingPanel(design, write_section=lambda graph, section: window.document.set_extra("training", section))
    window.document_changed.connect(lambda _document: panel.refresh_from_design())
    window.training_panel = panel
    return panel
