"""Guard against a PySide6 reference-count bug that aborts the interpreter on Python < 3.12.

PySide6 6.12's abi3 wheels return ``None`` from void methods (``setPos``, ``update``, ``setText``, ...) without
taking a new reference. On Python 3.12+ ``None`` is immortal (PEP 683) so nothing happens; on 3.11 every such call
drops ``None``'s reference count by one, and after a few thousand calls (one repaint of a large canvas) Python aborts
with "Fatal Python error: none_dealloc". We detect the leak and give ``None`` a count too large to run out, which is
what 3.12 does for immortal objects.
"""

from __future__ import annotations

import sys

_HUGE = 1 << 60


def guard_none_refcount() -> bool:
    """Apply the guard if this PySide6 leaks references to None; return whether it was needed."""
    if sys.version_info >= (3, 12):
        return False
    from PySide6.QtCore import QPointF

    point = QPointF()
    before = sys.getrefcount(None)
    for _ in range(8):
        point.setX(1.0)
    if sys.getrefcount(None) >= before:
        return False
    import ctypes

    count = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt is the first field of every CPython object
    if count.value < _HUGE:
        count.value += _HUGE
    return True
