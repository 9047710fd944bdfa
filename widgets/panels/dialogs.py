"""The window's questions and messages in one replaceable object, so tests script the answers instead of blocking."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

PROJECT_FILTER = "CNN Designer projects (*.json);;All files (*)"

SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


class Dialogs:
    """Modal dialogs used by the main window; subclass (or duck-type) to answer without a person."""

    def ask_save_changes(self, parent: QWidget, name: str) -> str:
        """SAVE, DISCARD or CANCEL for a document with unsaved changes."""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Unsaved changes",
            f"“{name}” has unsaved changes. Save them before closing it?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            parent,
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: SAVE, QMessageBox.StandardButton.Discard: DISCARD}.get(
            QMessageBox.StandardButton(answer), CANCEL
        )

    def error(self, parent: QWidget, title: str, text: str) -> None:
        """Tell the person something failed."""
        QMessageBox.critical(parent, title, text)

    def info(self, parent: QWidget, title: str, text: str) -> None:
        """Tell the person something."""
        QMessageBox.information(parent, title, text)

    def open_path(self, parent: QWidget, directory: str) -> str | None:
        """A project file to open, or None."""
        path, _ = QFileDialog.getOpenFileName(parent, "Open design", directory, PROJECT_FILTER)
        return path or None

    def save_path(
        self, parent: QWidget, directory: str, title: str = "Save design", file_filter: str = PROJECT_FILTER
    ) -> str | None:
        """Where to save, or None."""
        path, _ = QFileDialog.getSaveFileName(parent, title, directory, file_filter)
        return path or None

    def ask_recover(self, parent: QWidget, text: str) -> bool:
        """Whether to recover an autosaved copy."""
        answer = QMessageBox.question(
            parent, "Recover unsaved work", text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        )
        return answer == QMessageBox.StandardButton.Yes

    def ask_text(self, parent: QWidget, title: str, label: str, text: str = "") -> str | None:
        """A line of text, or None if cancelled."""
        value, ok = QInputDialog.getText(parent, title, label, text=text)
        return value if ok else None

    def choose_template(self, parent: QWidget) -> tuple[str, bool] | None:
        """(template name, insert into the current design?) or None."""
        from .template_browser import TemplateBrowser

        browser = TemplateBrowser(parent)
        if browser.exec() and browser.chosen is not None:
            return browser.chosen, browser.insert
        return None
