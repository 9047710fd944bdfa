"""Autosave: a copy of the open design every minute in the application data folder, offered back after a crash.

Each running window holds a lock file next to its copy; a copy whose lock nobody holds belongs to a session that
ended without closing cleanly, and is what the next start offers to recover.
"""

from __future__ import annotations

import datetime
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QLockFile, QObject, QStandardPaths, QTimer

from designer.model import fileformat

if TYPE_CHECKING:
    from .document import Document

INTERVAL_MS = 60_000


def default_directory() -> Path:
    """The autosave folder in the application data location."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "autosave"


@dataclass(frozen=True)
class Orphan:
    """An autosaved copy left by a session that did not close cleanly."""

    project: Path
    meta: dict[str, Any]

    @property
    def original_path(self) -> str | None:
        """The file the design was saved as, if it was."""
        return self.meta.get("path")

    def describe(self) -> str:
        """The copy in words, for the recovery question."""
        what = self.original_path or f"the untitled design “{self.meta.get('name', 'Untitled')}”"
        return f"{what}, autosaved {self.meta.get('time', 'at an unknown time')}"

    def remove(self) -> None:
        """Delete the copy."""
        self.project.unlink(missing_ok=True)
        _meta_path(self.project).unlink(missing_ok=True)


def _meta_path(project: Path) -> Path:
    return project.with_name(project.stem + ".meta")


class Autosave(QObject):
    """Writes the current document's design every ``interval_ms`` when it changed and has unsaved edits."""

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        interval_ms: int = INTERVAL_MS,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.directory = Path(directory) if directory is not None else default_directory()
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = f"session-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.project_path = self.directory / f"{stem}.json"
        self._lock = QLockFile(str(self.directory / f"{stem}.lock"))
        self._lock.setStaleLockTime(0)
        self._lock.tryLock(0)
        self._document: Document | None = None
        self._dirty = False
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()

    def set_document(self, document: Document | None) -> None:
        """Autosave ``document`` from now on."""
        if self._document is not None:
            self._document.graph.events.changed.disconnect(self._on_changed)
        self._document = document
        self._dirty = document is not None and document.is_modified
        if document is not None:
            document.graph.events.changed.connect(self._on_changed)
        if not self._dirty:
            self.discard()

    def _on_changed(self) -> None:
        self._dirty = True

    def save_now(self) -> bool:
        """Write the copy if the design changed since the last one and is not saved; return whether it wrote."""
        doc = self._document
        if doc is None or not self._dirty:
            return False
        if not doc.is_modified:
            self.discard()
            return False
        fileformat.write_atomic(self.project_path, fileformat.dumps(doc.graph).encode("utf-8"))
        meta = {
            "path": doc.path,
            "name": doc.graph.name,
            "time": datetime.datetime.now().isoformat(sep=" ", timespec="seconds"),
        }
        fileformat.write_atomic(_meta_path(self.project_path), json.dumps(meta).encode("utf-8"))
        self._dirty = False
        return True

    def discard(self) -> None:
        """Remove this session's copy (after a save, or on a clean close)."""
        self.project_path.unlink(missing_ok=True)
        _meta_path(self.project_path).unlink(missing_ok=True)

    def close(self) -> None:
        """Stop autosaving and remove this session's copy (clean exit)."""
        self.timer.stop()
        self.set_document(None)
        self.discard()
        self._lock.unlock()

    def orphans(self) -> list[Orphan]:
        """Copies of other sessions that are no longer running, newest first."""
        found = []
        for project in sorted(self.directory.glob("session-*.json"), key=_mtime, reverse=True):
            if project == self.project_path:
                continue
            lock = QLockFile(str(project.with_suffix(".lock")))
            lock.setStaleLockTime(0)
            if not lock.tryLock(0):
                continue  # that session is still running
            lock.unlock()
            try:
                meta = json.loads(_meta_path(project).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                meta = {}
            found.append(Orphan(project, meta if isinstance(meta, dict) else {}))
        return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
