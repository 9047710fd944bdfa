"""A fault injector for the tests: writes under a folder fail as a full disk or a read-only folder would.

Permissions cannot stand in for these faults (the tests may run as root, who writes anywhere), so the injector
patches the calls that create or open files for writing: ``open``/``io.open``, ``os.open`` (``tempfile.mkstemp``)
and ``os.replace``/``os.rename``/``os.mkdir``.
"""

from __future__ import annotations

import builtins
import errno
import fnmatch
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class FaultInjector:
    """Make writes to files under ``root`` (whose names match ``pattern``) fail with ``code``, once ``armed``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, root: Path, code: int = errno.ENOSPC, pattern: str = "*"):
        self.root, self.code, self.pattern = str(Path(root).resolve()), code, pattern
        self.armed, self.hits = False, 0
        real_open, real_os_open = builtins.open, os.open
        real_replace, real_rename, real_mkdir = os.replace, os.rename, os.mkdir

        def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+"):
                self.check(file)
            return real_open(file, mode, *args, **kwargs)

        def guarded_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if flags & _WRITE_FLAGS:
                self.check(path)
            return real_os_open(path, flags, *args, **kwargs)

        def guarded(real: Callable[..., Any]) -> Callable[..., Any]:
            def call(src: Any, dst: Any = None, *args: Any, **kwargs: Any) -> Any:
                self.check(dst if dst is not None else src)
                return real(src, *(() if dst is None else (dst,)), *args, **kwargs)

            return call

        monkeypatch.setattr(builtins, "open", guarded_open)
        monkeypatch.setattr(io, "open", guarded_open)
        monkeypatch.setattr(os, "open", guarded_os_open)
        monkeypatch.setattr(os, "replace", guarded(real_replace))
        monkeypatch.setattr(os, "rename", guarded(real_rename))

        def guarded_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
            self.check(path)
            real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "mkdir", guarded_mkdir)

    def check(self, path: Any) -> None:
        """Raise the fault if ``path`` is one of the files it covers."""
        if not self.armed:
            return
        full = os.path.abspath(os.fspath(path))
        if full.startswith(self.root) and fnmatch.fnmatch(os.path.basename(full), self.pattern):
            self.hits += 1
            raise OSError(self.code, os.strerror(self.code), full)


def leftovers(folder: Path) -> list[str]:
    """Temporary files under ``folder`` that a failed write left behind."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.endswith((".tmp", ".partial")))
