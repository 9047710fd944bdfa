"""The designer window: palette, canvas, inspector, summary and problems around one document."""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QUndoGroup
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QWidget

from designer.analysis.summary import totals as design_totals
from designer.analysis.validate import Analysis
from designer.editing.layout import overview_groups
from designer.editing.node_text import fmt_count

from . import theme
from .actions import WindowActions
from .canvas.group_item import GroupItem
from .canvas.scene import GraphScene
from .canvas.view import GraphView
from .document.autosave import INTERVAL_MS, Autosave
from .document.document import Document
from .document.editing import EditController
from .document.file_controller import FileController, untitled_graph
from .panels.cost_coloring import CostColoring
from .panels.dialogs import Dialogs
from .panels.inspector import Inspector
from .panels.palette import Palette
from .panels.problems_dock import ProblemsDock
from .panels.summary_dock import SummaryDock
from .theming import ThemeController

APP_NAME = "CNN Designer"
Area = Qt.DockWidgetArea
#: Panels loaded on demand: (dock title, module, area). The module is imported and its
#: ``create_panel(window) -> QWidget`` called the first time the dock is shown, because these modules pull in torch,
#: pyqtgraph and numpy (seconds), which start-up must not wait for.
LAZY_PANELS = (
    ("Training", "widgets.panels.training_panel", Area.RightDockWidgetArea),
    ("Insight", "widgets.panels.insight_dock", Area.RightDockWidgetArea),
    ("Runs", "widgets.panels.runs_view", Area.RightDockWidgetArea),
)


def _create_panel(module_name: str, window: MainWindow) -> QWidget:
    module = importlib.import_module(module_name)
    if not hasattr(module, "create_panel"):
        raise RuntimeError(f"{module_name} has no create_panel(window)")
    return module.create_panel(window)


class MainWindow(QMainWindow):
    """One design at a time. ``settings``, ``dialogs`` and the autosave folder are injectable for tests."""

    document_changed = Signal(object)

    def __init__(
        self,
        settings: QSettings | None = None,
        dialogs: Dialogs | None = None,
        autosave_dir: str | os.PathLike[str] | None = None,
        autosave_interval_ms: int = INTERVAL_MS,
        load_panels: bool = True,
    ):
        super().__init__()
        self.settings = settings if settings is not None else QSettings()
        self.dialogs = dialogs if dialogs is not None else Dialogs()
        self.document: Document | None = None
        self.undo_group = QUndoGroup(self)
        self.scene = GraphScene(self)
        self.view = GraphView(self.scene)
        self.setCentralWidget(self.view)
        self.edit = EditController(self)
        self.files = FileController(self, Autosave(autosave_dir, autosave_interval_ms, self))
        self._build_docks()
        self.menu_actions = WindowActions(self)
        self.view.context_menu_factory = lambda _pos: self.menu_actions.context_menu()
        self._build_status_bar()
        self.scene.selectionChanged.connect(self._on_selection_changed)
        self.scene.node_activated.connect(lambda _nid: self.inspector_dock.raise_())
        self.layer_palette.activated.connect(self.edit.add_from_palette)
        self.view.refused.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.summary.node_clicked.connect(self.reveal_node)
        self.problems.node_clicked.connect(self.reveal_node)
        self.problems.count_changed.connect(self._on_problem_count)
        self.problems.silence_requested.connect(self._on_silence_requested)
        self.resize(1400, 860)
        self._restore_layout()
        self.menu_actions.snap.setChecked(self.scene.snap_to_grid)
        self.themes = ThemeController(self)
        self.themes.changed.connect(self._on_theme_changed)
        self.menu_actions.add_theme_menu(self.themes)
        self.cost_coloring = CostColoring(self)  # View > Colour By and the Cost dock
        self.files.show_graph(untitled_graph())
        self.themes.apply(self.themes.saved_choice())
        if load_panels:
            self._install_panels()

    # -- docks ----------------------------------------------------------------------------------------------------

    def _build_docks(self) -> None:
        self.layer_palette = Palette()
        self.inspector = Inspector()
        self.summary = SummaryDock()
        self.problems = ProblemsDock()
        self.palette_dock = self.add_panel("Palette", self.layer_palette, Area.LeftDockWidgetArea)
        self.inspector_dock = self.add_panel("Inspector", self.inspector, Area.RightDockWidgetArea)
        self.summary_dock = self.add_panel("Summary", self.summary, Area.BottomDockWidgetArea)
        self.problems_dock = self.add_panel("Problems", self.problems, Area.BottomDockWidgetArea)
        self.summary_dock.raise_()
        self.resizeDocks([self.palette_dock, self.inspector_dock], [250, 390], Qt.Orientation.Horizontal)
        self.resizeDocks([self.summary_dock], [210], Qt.Orientation.Vertical)

    def add_panel(self, title: str, widget: QWidget, area: Area = Area.RightDockWidgetArea) -> QDockWidget:
        """Add a dock (tabbed with the docks already in ``area``); it is listed in View > Panels."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        others = [d for d in self.findChildren(QDockWidget) if d is not dock and self.dockWidgetArea(d) == area]
        self.addDockWidget(area, dock)
        if others:
            self.tabifyDockWidget(others[0], dock)
        if hasattr(self, "menu_actions"):
            self.menu_actions.panels_menu.addAction(dock.toggleViewAction())
        return dock

    def add_lazy_panel(
        self, title: str, factory: Callable[[], QWidget], area: Area = Area.RightDockWidgetArea
    ) -> QDockWidget:
        """Add a dock whose widget ``factory`` makes the first time the dock becomes visible."""
        placeholder = QLabel(f"Loading {title.lower()}…")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        dock = self.add_panel(title, placeholder, area)

        def on_visible(visible: bool) -> None:
            if not visible or dock.widget() is not placeholder:
                return
            try:
                dock.setWidget(factory())
            except Exception as exc:
                placeholder.setText(f"{title} is not available:\n{exc}")
                print(f"cnn-designer: panel {title!r} not loaded: {exc}", file=sys.stderr)

        dock.visibilityChanged.connect(on_visible)
        return dock

    def _install_panels(self) -> None:
        for title, module_name, area in LAZY_PANELS:
            self.add_lazy_panel(title, functools.partial(_create_panel, module_name, self), area)
        self.inspector_dock.raise_()

    # -- document -------------------------------------------------------------------------------------------------

    def set_document(self, document: Document) -> None:
        """Show ``document`` in every view; the previous one is closed."""
        old = self.document
        if old is not None:
            old.analysis_changed.disconnect(self._on_analysis)
            old.undo_stack.cleanChanged.disconnect(self._on_clean_changed)
            old.path_changed.disconnect(self._on_path_changed)
            self.undo_group.removeStack(old.undo_stack)
            old.close()
            old.deleteLater()
        self.document = document
        self.undo_group.addStack(document.undo_stack)
        self.undo_group.setActiveStack(document.undo_stack)
        document.setParent(self)
        document.undo_stack.cleanChanged.connect(self._on_clean_changed)
        document.path_changed.connect(self._on_path_changed)
        document.analysis_changed.connect(self._on_analysis)
        # A big design opens as an overview; the fit below places its boxes and routes its edges.
        self.scene.set_document(document, overview_groups(document.graph), place=False)
        self.inspector.set_document(document)
        self._on_analysis(document.analysis)
        self.update_title()
        self.view.fit_to_view()
        self.document_changed.emit(document)

    def _on_clean_changed(self, clean: bool) -> None:
        self.update_title()

    def _on_path_changed(self, path: object) -> None:
        self.update_title()

    def update_title(self) -> None:
        """Title, modified marker and the saved state in the status bar."""
        doc = self.document
        if doc is None:
            return
        self.setWindowTitle(f"{doc.display_name}[*] — {APP_NAME}")
        self.setWindowModified(doc.is_modified)
        self.status_saved.setText("● unsaved changes" if doc.is_modified else "saved" if doc.path else "not saved")
        self.status_saved.setStyleSheet(f"color: {theme.WARNING_TEXT_HEX if doc.is_modified else theme.MUTED_HEX};")

    def _on_analysis(self, analysis: Analysis) -> None:
        totals = design_totals(analysis)  # once: each total walks every node
        self.summary.set_analysis(analysis, totals)
        self.problems.set_analysis(analysis)
        self.status_params.setText(f"Params {fmt_count(totals.params)} ({totals.params:,})")
        self.status_macs.setText(f"Mult-adds {fmt_count(totals.mult_adds)}")
        errors = len(analysis.errors)
        warnings = len(analysis.diagnostics) - errors
        if errors:
            text, color = f"✖ {errors} error(s)" + (f", {warnings} warning(s)" if warnings else ""), theme.ERROR_HEX
        else:
            text, color = ("✔ valid" + (f", {warnings} warning(s)" if warnings else "")), theme.OK_HEX
        self.status_valid.setText(text)
        sheet = f"color: {color}; font-weight: 600;"
        if self.status_valid.styleSheet() != sheet:  # setting a style sheet restyles the label, unchanged or not
            self.status_valid.setStyleSheet(sheet)

    def _on_problem_count(self, errors: int, warnings: int) -> None:
        n = errors + warnings
        self.problems_dock.setWindowTitle(f"Problems ({n})" if n else "Problems")

    def _on_silence_requested(self, node_id: str, code: str, silenced: bool) -> None:
        if self.document is not None and node_id in self.document.graph:
            self.document.silence_advice(node_id, code, silenced)

    # -- selection ------------------------------------------------------------------------------------------------

    def _on_selection_changed(self) -> None:
        items = self.scene.selectedItems()
        groups = [i for i in items if isinstance(i, GroupItem)]
        ids = self.scene.selected_node_ids()
        if len(ids) == 1 and not groups:
            self.inspector.show_node(ids[0])
        elif len(groups) == 1 and len(items) == 1:
            self.inspector.show_node(
                None,
                f"Group “{groups[0].node_id}”: {len(ids)} nodes. Double-click the box "
                "(or Design > Expand Group) to see them.",
            )
        else:
            self.inspector.show_node(None, f"{len(ids)} nodes selected." if ids else "")

    def reveal_node(self, node_id: str) -> None:
        """Select and centre a node, expanding the collapsed groups that hide it."""
        if self.document is None or node_id not in self.document.graph:
            return
        while (prefix := self.scene.collapsed_ancestor(node_id)) is not None:
            self.scene.expand(prefix)
        self.scene.select_node(node_id)
        self.view.center_on_node(node_id)

    # -- status bar and settings ----------------------------------------------------------------------------------

    def _build_status_bar(self) -> None:
        self.status_params, self.status_macs = QLabel(), QLabel()
        self.status_valid, self.status_saved = QLabel(), QLabel()
        for label in (self.status_params, self.status_macs, self.status_valid, self.status_saved):
            label.setContentsMargins(8, 0, 8, 0)
            self.statusBar().addPermanentWidget(label)

    def _on_theme_changed(self) -> None:
        self.scene.restyle()
        self.view.viewport().update()
        self.layer_palette.restyle()
        if self.document is not None:  # every view that writes coloured text (status, problems, inspector) rewrites it
            self.document.analysis_changed.emit(self.document.analysis)

    def _restore_layout(self) -> None:
        geometry: Any = self.settings.value("window/geometry")
        state: Any = self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        snap = self.settings.value("view/snap_to_grid", True)
        self.scene.snap_to_grid = snap not in (False, "false", 0, "0")
        self.view.minimap.enabled = self.settings.value("view/minimap", True) not in (False, "false", 0, "0")
        self.menu_actions.minimap.setChecked(self.view.minimap.enabled)

    def save_layout(self) -> None:
        """Store window geometry, dock layout, snapping and the minimap choice in the settings."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("view/snap_to_grid", self.scene.snap_to_grid)
        self.settings.setValue("view/minimap", self.view.minimap.enabled)
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.files.maybe_save():
            event.ignore()
            return
        self.save_layout()
        self.files.autosave.close()
        self.files.exports.close()
        self.scene.clear_document()  # drop the items now, not in whatever order interpreter shutdown picks
        event.accept()
