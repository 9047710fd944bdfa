"""The Runs view: the runs and sweep trials of the design, with their settings and results, sortable by any column.

Select several to overlay their curves; the accuracy-against-parameters scatter marks the Pareto front; the
importance tab asks Optuna which searched values matter. "Open design" opens a run's design (with the trial's
values), "Export…" exports it, "Compare" puts two side by side. A sweep of the open design runs in a child process
(``runs_sweep``) with live progress, Stop and Resume; the window never waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from designer.model.fileformat import ProjectError, load
from designer.model.graph import Graph
from designer.sweep.check import check_space
from designer.sweep.runner import SWEEP_FILE, SweepOptions
from designer.sweep.study import OBJECTIVES
from designer.sweep.table import RunRow, collect, columns
from designer.training import runs

from .plot_style import style_plots
from .runs_compare import open_compare
from .runs_plots import CurvesOverlay, ImportanceBars, ParetoScatter
from .runs_sweep import SweepController

DesignGetter = Callable[[], "tuple[Graph, str | None]"]


class SortItem(QTableWidgetItem):
    """A cell that sorts by its value (numbers as numbers, empty cells last) rather than by its text."""

    def __init__(self, value: Any) -> None:
        super().__init__(_text(value))
        self.value = value

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.value, getattr(other, "value", None)
        if mine is None or theirs is None:
            return theirs is None and mine is not None
        try:
            return bool(mine < theirs)
        except TypeError:
            return str(mine) < str(theirs)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


class RunsPanel(QWidget):
    """Runs and trials under ``folder`` (by default the open design's runs folder), compared and swept."""

    importances_ready = Signal(object)

    def __init__(
        self,
        get_design: DesignGetter,
        parent: QWidget | None = None,
        *,
        open_design: Callable[[Path], None] | None = None,
        export_design: Callable[[Path], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.get_design, self.open_design, self.export_design = get_design, open_design, export_design
        self.folder: Path | None = None
        self.rows: list[RunRow] = []
        self.compare_dialogs: list[Any] = []
        self.sweeps = SweepController(self)
        self.sweeps.progress.connect(self._on_progress)
        self.sweeps.trial_ended.connect(lambda _e: self.refresh())
        self.sweeps.finished.connect(self._on_sweep_finished)
        self.importances_ready.connect(self._on_importances)
        self._build()
        self._update_buttons()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- layout -------------------------------------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.folder_label = QLabel("")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_label.setWordWrap(True)
        layout.addWidget(self.folder_label)
        layout.addLayout(self._build_sweep_row())
        self.progress = QProgressBar()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.table = QTableWidget(0, 0)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.itemSelectionChanged.connect(self._on_selection)
        layout.addWidget(self.table, 2)
        layout.addLayout(self._build_actions())
        self.tabs = QTabWidget()
        self.curves, self.scatter, self.importance = CurvesOverlay(), ParetoScatter(), ImportanceBars()
        self.tabs.addTab(self.curves, "Curves")
        self.tabs.addTab(self.scatter, "Accuracy vs parameters")
        importance = QWidget()
        box = QVBoxLayout(importance)
        self.importance_button = QPushButton("Compute importance")
        self.importance_button.clicked.connect(self.compute_importance)
        box.addWidget(self.importance_button)
        box.addWidget(self.importance, 1)
        self.tabs.addTab(importance, "Importance")
        layout.addWidget(self.tabs, 3)

    def _build_sweep_row(self) -> QVBoxLayout:
        rows = QVBoxLayout()
        settings, row = QHBoxLayout(), QHBoxLayout()
        rows.addLayout(settings)
        rows.addLayout(row)
        self.trials = QSpinBox()
        self.trials.setRange(1, 10_000)
        self.trials.setValue(10)
        self.trials.setPrefix("trials ")
        self.objective = QComboBox()
        self.objective.addItems(list(OBJECTIVES))
        settings.addWidget(self.trials)
        settings.addWidget(self.objective)
        self.start_button = _button("Start sweep", self.start_sweep, row)
        self.stop_button = _button("Stop", self.sweeps.stop, row)
        self.resume_button = _button("Resume", self.resume_sweep, row)
        self.refresh_button = _button("Refresh", self.refresh, row)
        return rows

    def _build_actions(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.open_button = _button("Open design", self.open_selected, row)
        self.export_button = _button("Export…", self.export_selected, row)
        self.compare_button = _button("Compare", self.compare_selected, row)
        return row

    # -- the list -----------------------------------------------------------------------------------------------------

    def default_folder(self) -> Path:
        """The open design's runs folder (``runs/<stem>`` beside its file)."""
        graph, path = self.get_design()
        return runs.default_runs_root(path, graph.name)

    def set_folder(self, folder: str | Path | None) -> None:
        """List the runs under ``folder`` (None: the open design's)."""
        self.folder = Path(folder) if folder is not None else self.default_folder()
        self.refresh()

    def refresh(self) -> None:
        """Read the run folders again."""
        if self.folder is None:
            self.folder = self.default_folder()
        self.folder_label.setText(f"Runs in {self.folder}")
        self.rows = collect(self.folder) if self.folder.is_dir() else []
        cols = columns(self.rows) if self.rows else []  # no empty headers scrolling sideways in a narrow dock
        self.table.setSortingEnabled(False)
        self.table.clear()
        self.table.setColumnCount(len(cols))
        self.table.setHorizontalHeaderLabels(cols)
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            for c, col in enumerate(cols):
                item = SortItem(row.get(col))
                item.setData(Qt.ItemDataRole.UserRole, r)
                self.table.setItem(r, c, item)
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()
        self.table.scrollToTop()
        self.scatter.show_runs(self.rows)
        self._update_buttons()

    def selected_rows(self) -> list[RunRow]:
        """The runs selected in the table, top to bottom."""
        indexes = sorted({i.row() for i in self.table.selectedIndexes()})
        out = []
        for i in indexes:
            item = self.table.item(i, 0)
            if item is not None:
                out.append(self.rows[int(item.data(Qt.ItemDataRole.UserRole))])
        return out

    def select(self, names: list[str]) -> None:
        """Select the runs named (their ``name`` column), as a user's clicks would."""
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for i in range(self.table.rowCount()):
            item = self.table.item(i, 0)
            if item is not None and item.text() in names:
                self.table.selectRow(i)
        self.table.setSelectionMode(mode)

    def _on_selection(self) -> None:
        self.curves.show_runs(self.selected_rows())
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = len(self.selected_rows()) if self.rows else 0
        self.open_button.setEnabled(chosen == 1 and self.open_design is not None)
        self.export_button.setEnabled(chosen == 1 and self.export_design is not None)
        self.compare_button.setEnabled(chosen == 2)
        running = self.sweeps.running
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.resume_button.setEnabled(not running and self.sweeps.last is not None)

    # -- actions ------------------------------------------------------------------------------------------------------

    def open_selected(self) -> None:
        """Open the selected run's design (``project.json``: the trial's values) in the window."""
        (row,) = self.selected_rows()
        if self.open_design is not None:
            self.open_design(row.project)

    def export_selected(self) -> None:
        """Export the selected run's design."""
        (row,) = self.selected_rows()
        if self.export_design is not None:
            self.export_design(row.project)

    def compare_selected(self) -> None:
        """Show the two selected runs' designs side by side, differences outlined."""
        a, b = self.selected_rows()
        try:
            ga, gb = load(a.project), load(b.project)
        except ProjectError as exc:
            self.status.setText(f"cannot compare: {exc}")
            return
        self.compare_dialogs.append(open_compare(ga, gb, a.name, b.name, self))

    def compute_importance(self) -> None:
        """Ask Optuna, on a thread, how much each searched value explains the objective of the sweep shown."""
        sweep = self._sweep_record()
        if sweep is None:
            self.status.setText("no sweep here: importance needs the trials of a sweep")
            return
        self.importance_button.setEnabled(False)
        self.status.setText("computing importance…")
        threading.Thread(target=self._importance_worker, args=sweep, daemon=True, name="importance").start()

    def _sweep_record(self) -> tuple[str, str] | None:
        """``(storage, study)`` of the selected trial's sweep, else of the first sweep under the folder."""
        candidates = [r.path.parent for r in self.selected_rows()] if self.table.selectedIndexes() else []
        if self.folder is not None:
            candidates += sorted(p.parent for p in self.folder.rglob(SWEEP_FILE))
        for folder in candidates:
            if (folder / SWEEP_FILE).is_file():
                record = runs.read_json(folder / SWEEP_FILE)
                return str(record["storage"]), str(record["study"])
        return None

    def _importance_worker(self, storage: str, study_name: str) -> None:
        try:
            import optuna

            from designer.sweep.study import importances, make_storage

            study = optuna.load_study(study_name=study_name, storage=make_storage(storage))
            result: Any = importances(study)
        except Exception as exc:  # a storage gone or unreadable: say so in the panel
            result = exc
        self.importances_ready.emit(result)

    def _on_importances(self, result: Any) -> None:
        self.importance_button.setEnabled(True)
        if isinstance(result, Exception):
            self.status.setText(f"importance: {result}")
            return
        self.importance.show_importances(result)
        self.status.setText("importance: " + (", ".join(f"{k} {v:.2f}" for k, v in result.items()) or "too few trials"))

    # -- sweeps -------------------------------------------------------------------------------------------------------

    def start_sweep(self, options: SweepOptions | None = None) -> bool:
        """Sweep the open design's search space in a child process; False (with the problems shown) if it is unfit."""
        graph, path = self.get_design()
        problems = [d for d in check_space(graph) if d.is_error] if "search" in graph.extra else None
        if problems is None or problems:
            text = "; ".join(str(d) for d in problems[:3]) if problems else "the design has no 'search' section"
            self.status.setText(f"cannot sweep: {text} (see docs/sweeps.md)")
            return False
        options = options or SweepOptions(trials=self.trials.value(), objective=self.objective.currentText())
        self.sweeps.start(graph, path, options)
        self.folder = self.default_folder() if options.out is None else Path(options.out).parent
        self._update_buttons()
        return True

    def resume_sweep(self) -> None:
        """Run the last sweep again: it continues its study, a stopped trial from its checkpoint."""
        self.sweeps.resume()
        self._update_buttons()

    def _on_progress(self, text: str, done: int, total: int) -> None:
        self.status.setText(text)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(min(done, max(1, total)))
        self._update_buttons()

    def _on_sweep_finished(self, text: str) -> None:
        self.refresh()
        self._update_buttons()

    def restyle(self) -> None:
        """Follow a theme change."""
        for plot in (self.curves, self.scatter, self.importance):
            style_plots(plot)

    def shutdown(self) -> None:
        """Stop a running sweep (the window is closing)."""
        self.sweeps.close()


def _button(text: str, slot: Callable[[], object], row: QHBoxLayout) -> QPushButton:
    button = QPushButton(text)
    button.clicked.connect(lambda _checked=False: slot())
    row.addWidget(button)
    return button


def create_panel(window: Any) -> RunsPanel:
    """The Runs dock of the designer window: the open design's runs and sweeps."""
    from designer.model.fileformat import load as load_design
    from widgets.document.export_runner import EXPORT_KINDS

    def design() -> tuple[Graph, str | None]:
        return window.document.graph, window.document.path

    def export(project: Path) -> None:
        kind = next(k for k in EXPORT_KINDS if k.key == "python")  # readable, and what the other formats start from
        path = window.files.dialogs.save_path(window, str(project.with_suffix(kind.suffix)), "Export", kind.file_filter)
        if path and not window.files.exports.start(kind, load_design(project), path):
            window.files.dialogs.error(window, "Export running", "Wait for the current export to finish.")

    panel = RunsPanel(design, open_design=lambda p: window.files.open_file(str(p)), export_design=export)
    window.document_changed.connect(lambda _document: panel.set_folder(None))
    window.themes.changed.connect(panel.restyle)
    window.runs_panel = panel
    panel.refresh()
    return panel
