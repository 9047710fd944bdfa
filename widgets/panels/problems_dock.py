"""The list of diagnostics: severity, node and message, with the hint on hover; clicking selects the node."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from designer.analysis.validate import Analysis

from .. import theme

_SYMBOLS = {"error": "✖ error", "warning": "▲ warning", "info": "● info"}


class ProblemsDock(QWidget):
    """Every diagnostic of the design; ``count_changed`` carries (errors, warnings) for the dock title."""

    node_clicked = Signal(str)
    count_changed = Signal(int, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Severity", "Node", "Problem", "Hint"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate((90, 130, 480)):
            self.tree.setColumnWidth(col, width)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tree)
        self.tree.itemClicked.connect(self._on_item_clicked)

    def set_analysis(self, analysis: Analysis) -> None:
        """List the analysis's diagnostics."""
        self.tree.clear()
        items = []
        for d in analysis.diagnostics:
            sev = d.severity.value
            item = QTreeWidgetItem([_SYMBOLS.get(sev, sev), d.node_id or "(design)", d.message, d.hint])
            item.setForeground(0, QBrush(QColor(_severity_color(sev))))
            item.setToolTip(2, f"{d.message}\n[{d.code}]" + (f"\nhint: {d.hint}" if d.hint else ""))
            item.setToolTip(3, d.hint)
            item.setData(0, Qt.ItemDataRole.UserRole, d.node_id)
            items.append(item)
        self.tree.addTopLevelItems(items)
        errors = sum(1 for d in analysis.diagnostics if d.is_error)
        self.count_changed.emit(errors, len(analysis.diagnostics) - errors)

    def _on_item_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        node_id = item.data(0, Qt.ItemDataRole.UserRole)
        if node_id:
            self.node_clicked.emit(node_id)


def _severity_color(severity: str) -> str:
    """The current theme's text colour for a severity (read at each refresh: the theme may have changed)."""
    colors = {"error": theme.ERROR_HEX, "warning": theme.WARNING_TEXT_HEX, "info": theme.INFO_HEX}
    return colors.get(severity, theme.TEXT.name())
