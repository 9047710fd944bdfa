"""The training panel: a settings form, Start / Pause / Stop, live loss and accuracy curves, and past runs.

Training runs in a child process (``designer.training.remote.RemoteRun``), so a crash in torch, a segfault or the
OOM killer ends the run with a message while the window and the unsaved design stay. Its events go into a queue that a
timer drains five times a second, so a fast run cannot flood the window. The run trains a snapshot of the design taken
at Start. Nothing here imports torch: the run does in its own process, a preview in this one when asked for.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPalette, QPixmap
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from designer.model.fileformat import dumps
from designer.model.graph import Graph
from designer.training.api import (
    METRIC_LABELS,
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
    read_metrics,
    read_section,
)
from designer.training.child import RunRequest
from designer.training.config import ConfigError
from designer.training.events import format_duration, unhandled
from designer.training.remote import RemoteRun

from .lr_find_dialog import LrFindDialog
from .plot_style import style_plots
from .training_curves import CurvesView
from .training_form import ConfigForm, button, row

DesignGetter = Callable[[], "tuple[Graph, str | None] | Graph"]
SNAPSHOT_NOTE = (
    "Training uses a copy of the design taken when you press Start; edits made during a run do not affect it."
)
UPDATE_MS = 200  # at most five redraws a second, whatever the step rate: live enough, and cheap on 2 cores


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
        #: The latest run, in its child process (kept after it ends: its model and data are the insight dock's).
        self.trainer: RemoteRun | None = None
        self._queue: collections.deque[Event] = collections.deque()
        #: Called on the UI thread with every engine event, after the panel shows it (the insight dock follows these).
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
        # Settings and curves are tabs, not side by side: a dock beside the canvas is ~600 px wide, too narrow for
        # both (the form scrolled sideways at 1400x860). The controls and progress stay visible under the tabs.
        self.form = ConfigForm()
        self.form.find_lr_button.clicked.connect(self.find_lr)
        self.lr_dialog: LrFindDialog | None = None
        self.settings_scroll = QScrollArea(widgetResizable=True)
        self.settings_scroll.setWidget(self.form)
        self.settings_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.start_button = button("Start", self.start)
        self.pause_button = button("Pause", self.toggle_pause, enabled=False)
        self.stop_button = button("Stop", self.stop, enabled=False)
        self.progress = QProgressBar(textVisible=True)
        self.status = QLabel("Ready.", wordWrap=True)
        note = QLabel(SNAPSHOT_NOTE, wordWrap=True)
        note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        lay = QVBoxLayout(self)
        lay.addWidget(self._build_tabs(), 1)
        for w in (row(self.start_button, self.pause_button, self.stop_button), self.progress, self.status, note):
            lay.addWidget(w)

    def _build_tabs(self) -> QTabWidget:
        self.curves = CurvesView()
        self.preview = QLabel(
            "Press Preview to see augmented training samples.", alignment=Qt.AlignmentFlag.AlignCenter
        )
        self.preview_tab = preview_tab = QWidget()
        pl = QVBoxLayout(preview_tab)
        pl.addWidget(button("Preview", self.show_preview))
        pl.addWidget(self.preview, 1)
        self.runs = QListWidget()
        self.runs.itemActivated.connect(self._open_run)
        runs_tab = QWidget()
        rl = QVBoxLayout(runs_tab)
        rl.addWidget(self.runs, 1)
        rl.addWidget(
            row(
                button("Show curves", lambda: self._open_run(self.runs.currentItem())),
                button("Resume", self.resume_selected),
                button("Refresh", self.refresh_runs),
            )
        )
        self.log = QPlainTextEdit(readOnly=True)
        self.tabs = QTabWidget()
        for w, title in (
            (self.settings_scroll, "Settings"),
            (self.curves, "Curves"),
            (preview_tab, "Augmentation"),
            (runs_tab, "Runs"),
            (self.log, "Log"),
        ):
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
        return self.trainer is not None and self.trainer.running

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
        self._launch(RunRequest.new(dumps(graph), cfg.to_dict(), str(self.runs_root())))

    def find_lr(self) -> None:
        """Open the learning-rate range test on a snapshot of the design, with the form's settings."""
        try:
            cfg = self.form.config()
        except ConfigError as exc:
            self._fail_message(str(exc))
            return
        if self.lr_dialog is not None:
            self.lr_dialog.close()
        graph, _ = self.design()
        self.lr_dialog = LrFindDialog(graph, cfg, self.form.lr.setValue, self)
        self.lr_dialog.show()

    def resume_selected(self) -> None:
        item = self.runs.currentItem()
        if item is None or self.is_running:
            return
        self._launch(RunRequest.resume(str(item.data(Qt.ItemDataRole.UserRole))))

    def _launch(self, request: RunRequest) -> None:
        """Run ``request`` in a new child process; it imports torch there, so the window goes on meanwhile."""
        self.curves.clear_data()
        self.progress.setValue(0)
        self.status.setText("Starting…")
        self._set_running(True)
        self.trainer = RemoteRun(request, self._queue.append)
        self.trainer.start()
        self._timer.start()

    def toggle_pause(self) -> None:
        trainer = self.trainer
        if trainer is None or not self.is_running:
            return
        if trainer.paused:
            trainer.resume()
        else:
            trainer.pause()

    def stop(self) -> None:
        if self.trainer is None or not self.is_running:
            return
        self.trainer.stop()
        self.status.setText("Stopping after this step…")

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop a run and wait for its checkpoint (called when the application quits)."""
        if self.trainer is not None:
            self.trainer.close(timeout)
        self._drain()

    def _set_running(self, running: bool) -> None:
        if running:
            self.tabs.setCurrentWidget(self.curves)
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.form.setEnabled(not running)
        self.pause_button.setText("Pause")

    # -- events, on the UI thread -------------------------------------------------------------------------------------

    def _drain(self) -> None:
        # Step events only gather data here; the widgets are set once per drain, from the latest step.
        self._latest_step = None
        while self._queue:
            event = self._queue.popleft()
            self.show_event(event)
            for listener in list(self.event_listeners):
                try:
                    listener(event)
                except Exception as exc:  # a view that cannot follow the run must not stop the panel showing it
                    self._say(f"A view could not follow the run: {type(exc).__name__}: {exc}")
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
        headline = e.metrics.get(e.headline) if e.headline != "val_acc" else None
        if headline is not None:
            self.curves.set_headline(e.headline)
            self.curves.add("val_headline", "acc", e.step, headline)
            shown += f" {METRIC_LABELS.get(e.headline, e.headline)} {headline:.1%}"
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
        label = METRIC_LABELS.get(self.curves.headline or "val_acc", "accuracy")  # what picks best.pt
        best = f", best validation {label} {e.best_val_accuracy:.1%}" if e.best_val_accuracy is not None else ""
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
        self.tabs.setCurrentWidget(self.preview_tab)


def _settings_changed(graph: Graph, cfg: TrainConfig) -> bool:
    """Whether ``cfg`` differs from the settings the design holds (its defaults when it has no section)."""
    try:
        return read_section(graph).to_dict() != cfg.to_dict()
    except ConfigError:
        return True  # a malformed section is replaced by what the form shows


def create_panel(window: Any) -> TrainingPanel:
    """The training dock of the designer window: trains the window's current design, settings kept in the file."""

    def design() -> tuple[Graph, str | None]:
        return window.document.graph, window.document.path

    panel = TrainingPanel(design, write_section=lambda graph, section: window.document.set_extra("training", section))
    window.document_changed.connect(lambda _document: panel.refresh_from_design())
    window.themes.changed.connect(lambda: style_plots(panel.curves))
    window.training_panel = panel
    return panel
