"""The Qt front end of CNN Designer (PySide6). All Qt code lives in this package; ``designer`` knows nothing of it."""

from ._none_refcount import guard_none_refcount

guard_none_refcount()
