"""The window's actions and menus, with the platform's standard shortcuts (QKeySequence standard keys)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMenu

from .document.export_runner import EXPORT_KINDS
from .theme import CHOICES

if TYPE_CHECKING:
    from .main_window import MainWindow
    from .theming import ThemeController

Key = QKeySequence.StandardKey


class WindowActions:
    """Creates every QAction of the main window and the menu bar; actions are reachable as attributes."""

    def __init__(self, window: MainWindow):
        self.window = window
        self._build_file_menu()
        self._build_edit_menu()
        self._build_view_menu()
        self._build_design_menu()

    def _action(self, text: str, slot: Callable[[], object], shortcut: object = None, tip: str = "") -> QAction:
        action = QAction(text, self.window)
        if isinstance(shortcut, QKeySequence.StandardKey):
            action.setShortcuts(shortcut)
        elif isinstance(shortcut, str):
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.window.addAction(action)  # shortcuts work wherever the focus is in the window
        return action

    def _build_file_menu(self) -> None:
        w, files = self.window, self.window.files
        menu = w.menuBar().addMenu("&File")
        self.new = self._action("&New", files.new_document, Key.New, "Start a new design")
        self.open = self._action("&Open…", lambda: files.open_file(), Key.Open, "Open a design file")
        self.open_template = self._action(
            "Open &Template…",
            files.open_template,
            "Ctrl+Shift+T",
            "Start from a template, or insert one into this design",
        )
        self.recent_menu = QMenu("Open &Recent", w)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.save = self._action("&Save", files.save, Key.Save, "Save the design")
        self.save_as = self._action("Save &As…", files.save_as, Key.SaveAs, "Save the design under a new name")
        self.export_menu = QMenu("&Export", w)
        self.exports = [self._action(kind.text, functools.partial(files.export, kind)) for kind in EXPORT_KINDS]
        self.export_menu.addActions(self.exports)
        self.quit = self._action("&Quit", w.close, Key.Quit, "Close the window")
        menu.addActions([self.new, self.open, self.open_template])
        menu.addMenu(self.recent_menu)
        menu.addSeparator()
        menu.addActions([self.save, self.save_as])
        menu.addMenu(self.export_menu)
        menu.addSeparator()
        menu.addAction(self.quit)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        files = self.window.files.recent_files()
        for path in files:
            self.recent_menu.addAction(path).triggered.connect(
                lambda _checked=False, p=path: self.window.files.open_file(p)
            )
        if not files:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _build_edit_menu(self) -> None:
        w, edit = self.window, self.window.edit
        menu = w.menuBar().addMenu("&Edit")
        self.undo = w.undo_group.createUndoAction(w, "&Undo")
        self.undo.setShortcuts(Key.Undo)
        self.redo = w.undo_group.createRedoAction(w, "&Redo")
        self.redo.setShortcuts(Key.Redo)
        w.addActions([self.undo, self.redo])
        self.cut = self._action("Cu&t", edit.cut, Key.Cut)
        self.copy = self._action("&Copy", edit.copy, Key.Copy)
        self.paste = self._action("&Paste", edit.paste, Key.Paste)
        self.duplicate = self._action("&Duplicate", edit.duplicate, "Ctrl+D", "Copy the selection, inputs kept")
        self.delete = self._action("De&lete", edit.delete, Key.Delete, "Delete the selected nodes and connections")
        self.delete.setShortcuts([QKeySequence(Key.Delete), QKeySequence("Backspace")])
        self.select_all = self._action("Select &All", edit.select_all, Key.SelectAll)
        menu.addActions([self.undo, self.redo])
        menu.addSeparator()
        menu.addActions([self.cut, self.copy, self.paste, self.duplicate, self.delete])
        menu.addSeparator()
        menu.addAction(self.select_all)

    def _build_view_menu(self) -> None:
        w = self.window
        menu = self.view_menu = w.menuBar().addMenu("&View")
        self.zoom_in = self._action("Zoom &In", lambda: w.view.zoom_by(1.25), Key.ZoomIn)
        self.zoom_out = self._action("Zoom &Out", lambda: w.view.zoom_by(0.8), Key.ZoomOut)
        self.fit = self._action("&Fit to View", w.view.fit_to_view, "Ctrl+0", "Show the whole design")
        self.snap = self._action("&Snap to Grid", lambda: setattr(w.scene, "snap_to_grid", self.snap.isChecked()))
        self.snap.setCheckable(True)
        self.snap.setChecked(w.scene.snap_to_grid)
        self.wrap_columns = self._action(
            "&Wrap Tall Designs", self._toggle_wrap, tip="Fit lays a design taller than the window out in columns"
        )
        self.wrap_columns.setCheckable(True)
        self.wrap_columns.setChecked(w.scene.wrap_columns)
        menu.addActions([self.zoom_in, self.zoom_out, self.fit])
        menu.addSeparator()
        self.minimap = self._action(
            "Show &Minimap", lambda: w.view.minimap.set_enabled(self.minimap.isChecked()), tip="A map of a tall design"
        )
        self.minimap.setCheckable(True)
        self.minimap.setChecked(w.view.minimap.enabled)
        menu.addActions([self.snap, self.wrap_columns, self.minimap])
        menu.addSeparator()
        self.panels_menu = menu.addMenu("&Panels")
        for dock in w.findChildren(QDockWidget):
            self.panels_menu.addAction(dock.toggleViewAction())

    def _toggle_wrap(self) -> None:
        self.window.scene.wrap_columns = self.wrap_columns.isChecked()
        self.window.view.fit_to_view()

    def add_theme_menu(self, themes: ThemeController) -> None:
        """View > Theme: system, light or dark, one checked."""
        menu = self.view_menu.addMenu("&Theme")
        group = QActionGroup(menu)
        self.themes: dict[str, QAction] = {}
        for choice in CHOICES:
            action = self._action(choice.capitalize(), functools.partial(themes.apply, choice))
            action.setCheckable(True)
            group.addAction(action)
            menu.addAction(action)
            self.themes[choice] = action
        themes.changed.connect(lambda: self.themes[themes.choice].setChecked(True))

    def _build_design_menu(self) -> None:
        edit = self.window.edit
        menu = self.window.menuBar().addMenu("&Design")
        self.auto_layout = self._action("Auto &Layout", edit.auto_layout, "Ctrl+L", "Arrange the nodes in layers")
        self.group = self._action(
            "&Group Selection…", edit.group_selection, "Ctrl+G", "Put the selected nodes in a dotted-id group"
        )
        self.ungroup = self._action("&Ungroup", edit.ungroup_selection, "Ctrl+Shift+G")
        self.collapse = self._action(
            "&Collapse Group", edit.collapse_selection, "Ctrl+[", "Show the selected node's group as one box"
        )
        self.expand = self._action("&Expand Group", edit.expand_selection, "Ctrl+]")
        self.collapse_all = self._action("Collapse All Groups", edit.collapse_all)
        self.expand_all = self._action("Expand All Groups", edit.expand_all)
        menu.addAction(self.auto_layout)
        menu.addSeparator()
        menu.addActions([self.group, self.ungroup])
        menu.addSeparator()
        menu.addActions([self.collapse, self.expand, self.collapse_all, self.expand_all])

    def context_menu(self) -> QMenu:
        """The canvas context menu (built on each right-click, so it reflects the selection)."""
        menu = QMenu(self.window)
        menu.addActions([self.cut, self.copy, self.paste, self.duplicate, self.delete])
        menu.addSeparator()
        menu.addActions([self.group, self.collapse, self.expand])
        menu.addSeparator()
        self._add_output_choices(menu)
        menu.addActions([self.auto_layout, self.fit])
        return menu

    def _add_output_choices(self, menu: QMenu) -> None:
        """A checkable "Design Output" for the one selected node, or a submenu of its parts for a Split."""
        choices = self.window.edit.output_choices()
        target = menu.addMenu("Design &Outputs") if len(choices) > 1 else menu
        for ref, label, checked in choices:
            action = target.addAction(label)
            action.setCheckable(True)
            action.setChecked(checked)
            action.setStatusTip(f"Whether the design returns {ref}: training, export and the summary read its outputs")
            action.triggered.connect(lambda _checked=False, r=ref: self.window.edit.toggle_output(r))
        if choices:
            menu.addSeparator()
