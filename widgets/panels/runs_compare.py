"""Two designs side by side (two runs, two trials, or a run against the open design), the nodes that differ
outlined on both canvases: added in green on the right, removed in red on the left, changed in orange on both.
Below, the same text as ``python -m designer diff``."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QDialog,
    QGraphicsRectItem,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from designer.model.graph import Graph
from designer.sweep.diff import DesignDiff, diff, format_diff

from ..canvas.scene import GraphScene
from ..canvas.view import GraphView
from ..document.document import Document

KIND_COLORS = {"added": "#2E9E44", "removed": "#D62728", "changed": "#F08C00", "affected": "#7F7F7F"}
#: Margin of an outline around its node, in scene units.
MARGIN = 8.0


class DesignPane(QWidget):
    """One side: a title and a canvas of its own document (edits there change nothing on disk)."""

    def __init__(self, title: str, graph: Graph, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = Document(graph, parent=self)
        self.scene = GraphScene(self)
        self.scene.set_document(self.document)
        self.view = GraphView(self.scene, self)
        self.title = QLabel(title)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        self.outlines: dict[str, QGraphicsRectItem] = {}

    def outline(self, node_id: str, kind: str) -> None:
        """Draw a coloured frame around node ``node_id``."""
        item = self.scene.nodes.get(node_id)
        if item is None:
            return
        rect = QGraphicsRectItem(item.sceneBoundingRect().adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN))
        pen = QPen(QColor(KIND_COLORS[kind]), 4)
        rect.setPen(pen)
        rect.setZValue(item.zValue() - 1)
        self.scene.addItem(rect)
        self.outlines[node_id] = rect

    def fit(self) -> None:
        self.view.fitInView(self.scene.items_rect(), Qt.AspectRatioMode.KeepAspectRatio)

    def close_document(self) -> None:
        self.scene.clear_document()


class CompareView(QWidget):
    """Design ``a`` on the left and ``b`` on the right, their differences outlined, the diff's text below."""

    def __init__(self, a: Graph, b: Graph, name_a: str, name_b: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.diff: DesignDiff = diff(a, b)
        self.left, self.right = DesignPane(name_a, a), DesignPane(name_b, b)
        kinds = {n.node_id: n.kind for n in self.diff.nodes}
        for pane, side in ((self.left, "a"), (self.right, "b")):
            for node_id in sorted(self.diff.ids(side)):
                pane.outline(node_id, kinds[node_id])
        canvases = QSplitter(Qt.Orientation.Horizontal)
        canvases.addWidget(self.left)
        canvases.addWidget(self.right)
        self.text = QPlainTextEdit(format_diff(self.diff, name_a, name_b))
        self.text.setReadOnly(True)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(canvases)
        split.addWidget(self.text)
        split.setStretchFactor(0, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(split)

    def fit(self) -> None:
        """Show each whole design."""
        self.left.fit()
        self.right.fit()

    def close_documents(self) -> None:
        """Unsubscribe the canvases from their documents."""
        self.left.close_document()
        self.right.close_document()


def open_compare(a: Graph, b: Graph, name_a: str, name_b: str, parent: QObject | None = None) -> QDialog:
    """A non-modal window with the two designs compared."""
    dialog = QDialog(parent if isinstance(parent, QWidget) else None)
    dialog.setWindowTitle(f"Compare {name_a} and {name_b}")
    view = CompareView(a, b, name_a, name_b, dialog)
    layout = QVBoxLayout(dialog)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(view)
    dialog.resize(1200, 800)
    dialog.finished.connect(lambda _code: view.close_documents())
    dialog.compare_view = view  # type: ignore[attr-defined]
    dialog.show()
    view.fit()
    return dialog
