"""An edge that moved and was then deleted leaves nothing behind in the scene's index: a stale entry made a later
look-up there (a drop on empty canvas) read freed memory and crash the window. Run in a child process, so that a
crash fails this test instead of killing the worker."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_SCRIPT = textwrap.dedent(
    """
    import gc
    from PySide6.QtCore import QPointF, QRectF
    from PySide6.QtWidgets import QApplication, QGraphicsScene
    from widgets.canvas.edge_item import EdgeItem

    app = QApplication([])
    scene = QGraphicsScene()
    here = QRectF(-50, -50, 100, 200)
    for _ in range(200):
        edge = EdgeItem("a", "b")
        scene.addItem(edge)
        edge.set_ends(QPointF(0, 0), QPointF(0, 100))
        assert edge in scene.items(here)  # the index holds the edge here
        edge.set_ends(QPointF(5000, 5000), QPointF(5000, 5100))
        assert edge not in scene.items(here) and edge in scene.items(QRectF(4950, 4950, 100, 200))
        scene.removeItem(edge)
        del edge
        gc.collect()
        assert scene.items(here) == []
    print("clean")
    """
)


def test_a_moved_then_deleted_edge_leaves_no_stale_index_entry():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "clean", (done.returncode, done.stderr[-2000:])
