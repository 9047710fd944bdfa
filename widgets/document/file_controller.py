"""File operations of the window: new, open, templates, save, save as, recent files, export, crash recovery."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from designer.model import fileformat
from designer.model.diagnostics import Diagnostic
from designer.model.graph import Graph, Node, NodeId

from ..panels import dialogs as dlg
from ..panels.template_browser import load_template
from .autosave import Autosave, Orphan
from .document import Document
from .export_runner import ExportKind, ExportRunner

if TYPE_CHECKING:
    from ..main_window import MainWindow

MAX_RECENT = 8
RECENT_KEY = "recent_files"


def untitled_graph() -> Graph:
    """What File > New starts from: one Input, so double-clicking palette entries builds a chain at once."""
    return Graph("Untitled", [Node(NodeId("input"), "Input", {"shape": [3, 32, 32]})])


class FileController(QObject):
    """Owns the autosave and the export runner; asks about unsaved changes before anything replaces the design."""

    def __init__(self, window: MainWindow, autosave: Autosave):
        super().__init__(window)
        self.window = window
        self.autosave = autosave
        self.exports = ExportRunner(self)
        self.exports.finished.connect(self._on_export_finished)
        self.exports.failed.connect(self._on_export_failed)

    @property
    def dialogs(self) -> dlg.Dialogs:
        """The window's dialogs (replaceable in tests)."""
        return self.window.dialogs

    # -- replacing the document -----------------------------------------------------------------------------------

    def maybe_save(self) -> bool:
        """True when the current design may be replaced (saved, discarded, or unchanged)."""
        doc = self.window.document
        if doc is None or not doc.is_modified:
            return True
        answer = self.dialogs.ask_save_changes(self.window, doc.display_name)
        if answer == dlg.SAVE:
            return self.save()
        return answer == dlg.DISCARD

    def show_graph(self, graph: Graph, path: str | None = None) -> Document:
        """Make ``graph`` the window's document."""
        doc = Document(graph, path)
        self.window.set_document(doc)
        self.autosave.set_document(doc)
        return doc

    def new_document(self) -> bool:
        """Start a new design after asking about unsaved changes."""
        if not self.maybe_save():
            return False
        self.show_graph(untitled_graph())
        return True

    def open_file(self, path: str | os.PathLike[str] | None = None) -> bool:
        """Open a project (asking for a path if none); an unreadable file opens nothing and says why."""
        if not self.maybe_save():
            return False
        if path is None:
            path = self.dialogs.open_path(self.window, self._directory())
            if path is None:
                return False
        problems: list[Diagnostic] = []
        try:
            graph = fileformat.load(path, problems.append)
        except fileformat.ProjectError as exc:
            self.dialogs.error(self.window, "Cannot open design", f"{os.fspath(path)} cannot be opened:\n\n{exc}")
            return False
        self.show_graph(graph, os.path.abspath(path))
        self.add_recent(os.path.abspath(path))
        if problems:
            self.dialogs.info(self.window, "Opened with problems", "\n".join(d.message for d in problems[:20]))
        return True

    def open_template(self) -> bool:
        """Let the person pick a template and open or insert it."""
        choice = self.dialogs.choose_template(self.window)
        return self.apply_template(*choice) if choice else False

    def apply_template(self, name: str, insert: bool = False) -> bool:
        """Open template ``name`` as a new untitled design, or insert it into the current one (one undo step)."""
        graph = load_template(name)
        doc = self.window.document
        if insert and doc is not None:
            ids = doc.insert_nodes(graph.nodes, f"Insert template {name}")
            self.window.edit.select_ids(ids)
            return True
        if not self.maybe_save():
            return False
        self.show_graph(graph)  # which fits the view
        return True

    # -- saving ---------------------------------------------------------------------------------------------------

    def save(self) -> bool:
        """Save to the document's file (asking for one if untitled); False if not saved."""
        doc = self.window.document
        if doc is None:
            return False
        if doc.path is None:
            return self.save_as()
        try:
            fileformat.save(doc.graph, doc.path)
        except OSError as exc:
            self.dialogs.error(self.window, "Cannot save design", f"{doc.path} cannot be written:\n\n{exc}")
            return False
        doc.mark_saved()
        self.autosave.discard()
        self.add_recent(doc.path)
        self.window.statusBar().showMessage(f"Saved {doc.path}", 4000)
        return True

    def save_as(self) -> bool:
        """Save under a new name."""
        doc = self.window.document
        if doc is None:
            return False
        suggestion = doc.path or os.path.join(self._directory(), _file_stem(doc.graph.name) + ".json")
        path = self.dialogs.save_path(self.window, suggestion)
        if path is None:
            return False
        if not Path(path).suffix:
            path += ".json"
        doc.set_path(os.path.abspath(path))
        return self.save()

    # -- recent files ---------------------------------------------------------------------------------------------

    def recent_files(self) -> list[str]:
        """Recently opened or saved files, newest first."""
        value = self.window.settings.value(RECENT_KEY, [])
        if isinstance(value, str):  # QSettings gives a lone string for a one-element list on some platforms
            return [value]
        return [str(v) for v in value] if isinstance(value, list) else []

    def add_recent(self, path: str) -> None:
        """Put ``path`` first in the recent files."""
        files = [path] + [p for p in self.recent_files() if p != path]
        self.window.settings.setValue(RECENT_KEY, files[:MAX_RECENT])

    def _directory(self) -> str:
        recent = self.recent_files()
        return os.path.dirname(recent[0]) if recent else str(Path.home())

    # -- export ---------------------------------------------------------------------------------------------------

    def export(self, kind: ExportKind) -> bool:
        """Ask for a file and export a snapshot of the design there, off the UI thread."""
        doc = self.window.document
        if doc is None:
            return False
        if not doc.analysis.ok:
            errors = "\n".join(d.message for d in doc.analysis.errors[:10])
            self.dialogs.error(self.window, "Cannot export", f"Fix these problems first:\n\n{errors}")
            return False
        base = (
            os.path.splitext(doc.path)[0] if doc.path else os.path.join(self._directory(), _file_stem(doc.graph.name))
        )
        path = self.dialogs.save_path(
            self.window, base + kind.suffix, f"Export {kind.text.rstrip('…')}", kind.file_filter
        )
        if path is None:
            return False
        if not self.exports.start(kind, doc.graph, path):
            self.dialogs.error(self.window, "Export running", "Wait for the current export to finish.")
            return False
        self.window.statusBar().showMessage(f"Exporting {kind.text.rstrip('…')} to {path}…")
        return True

    def _on_export_finished(self, what: str, path: str, description: str) -> None:
        detail = f" ({description})" if description else ""
        self.window.statusBar().showMessage(f"Exported {what} to {path}{detail}", 10000)

    def _on_export_failed(self, what: str, message: str) -> None:
        self.window.statusBar().clearMessage()
        self.dialogs.error(self.window, f"{what} export failed", message)

    # -- crash recovery -------------------------------------------------------------------------------------------

    def offer_recovery(self) -> bool:
        """Offer each autosaved copy left by a crashed session; open the first one accepted. Copies are removed."""
        recovered = False
        for orphan in self.autosave.orphans():
            if not recovered and self.dialogs.ask_recover(
                self.window, f"CNN Designer did not close cleanly last time.\n\nRecover {orphan.describe()}?"
            ):
                recovered = self._recover(orphan)
            orphan.remove()
        return recovered

    def _recover(self, orphan: Orphan) -> bool:
        try:
            graph = fileformat.load(orphan.project, lambda d: None)
        except fileformat.ProjectError as exc:
            self.dialogs.error(self.window, "Cannot recover", str(exc))
            return False
        if not self.maybe_save():
            return False
        doc = self.show_graph(graph, orphan.original_path)
        doc.undo_stack.resetClean()  # recovered edits are unsaved until the person saves them
        self.window.update_title()
        self.autosave.set_document(doc)
        self.autosave.save_now()
        return True


def _file_stem(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in name.strip()).strip("_")
    return stem.lower() or "design"
