"""The list of diagnostics: severity, node and message, with the hint on hover; clicking selects the node.

A piece of design advice can be silenced for its node (right-click, or the button above the list); "Show silenced"
lists what each node silences, to take it back. The dock only asks: ``silence_requested`` goes to the document.
"""

from __future__ import annotations

import difflib

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from designer.analysis.advice import CODES, silence_codes
from designer.analysis.validate import Analysis
from designer.model.diagnostics import Diagnostic

from .. import theme

_SYMBOLS = {"error": "✖ error", "warning": "▲ warning", "info": "● info"}
SILENCED = "○ silenced"
_CODE_ROLE = Qt.ItemDataRole.UserRole + 1
_SILENCED_ROLE = Qt.ItemDataRole.UserRole + 2


def can_silence(d: Diagnostic) -> bool:
    """Advice about a node can be silenced there (a broken ``silence`` field cannot silence itself)."""
    return d.node_id is not None and d.code.startswith("advice.") and d.code != "advice.silence"


class ProblemsDock(QWidget):
    """Every diagnostic of the design; ``count_changed`` carries (errors, warnings) for the dock title."""

    node_clicked = Signal(str)
    count_changed = Signal(int, int)
    #: (node id, code, True to silence / False to take the silence back)
    silence_requested = Signal(str, str, bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._analysis: Analysis | None = None
        #: What each row of the tree shows: a diagnostic, or a (node id, code) the node silences.
        self._rows: list[Diagnostic | tuple[str, str]] = []
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
        self.silence_action = QAction("Silence this advice for this node", self)
        self.unsilence_action = QAction("Unsilence", self)
        self.show_silenced = QCheckBox("Show silenced")
        self.show_silenced.setToolTip("List the advice each node silences (its 'silence' field), to take it back")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(self._bar())
        layout.addWidget(self.tree)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.tree.addActions([self.silence_action, self.unsilence_action])
        self.tree.itemClicked.connect(self._on_item_clicked)
        self.tree.currentItemChanged.connect(lambda *_: self._update_actions())
        self.silence_action.triggered.connect(lambda: self._request(True))
        self.unsilence_action.triggered.connect(lambda: self._request(False))
        self.show_silenced.toggled.connect(lambda _on: self._refill(rewrite=False))
        self._update_actions()

    def _bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        self.silence_button, self.unsilence_button = QToolButton(), QToolButton()
        self.silence_button.setDefaultAction(self.silence_action)
        self.unsilence_button.setDefaultAction(self.unsilence_action)
        bar.addWidget(self.silence_button)
        bar.addWidget(self.unsilence_button)
        bar.addStretch(1)
        bar.addWidget(self.show_silenced)
        return bar

    def set_analysis(self, analysis: Analysis) -> None:
        """List the analysis's diagnostics (and, if asked, what the nodes silence). The same analysis again (the
        theme changed) rewrites every row; a new one replaces only the rows that differ."""
        rewrite, self._analysis = analysis is self._analysis, analysis
        self._refill(rewrite)
        errors = sum(1 for d in analysis.diagnostics if d.is_error)
        self.count_changed.emit(errors, len(analysis.diagnostics) - errors)

    def _refill(self, rewrite: bool) -> None:
        if self._analysis is None:
            self.tree.clear()
            self._rows = []
            return
        rows: list[Diagnostic | tuple[str, str]] = list(self._analysis.diagnostics)
        graph = self._analysis.graph  # few nodes silence anything: skip the others without a call each
        silences = [(node.id, code) for node in graph if "silence" in node.extra for code in silence_codes(node)]
        self.show_silenced.setText(f"Show silenced ({len(silences)})" if silences else "Show silenced")
        if self.show_silenced.isChecked():
            rows += silences
        old, self._rows = ([] if rewrite else self._rows), rows
        if rewrite:
            self.tree.clear()
        # an edit changes a few rows: replace only those, from the last so that earlier indices stay put
        ops = difflib.SequenceMatcher(None, old, rows, autojunk=False).get_opcodes()
        for tag, i1, i2, j1, j2 in reversed(ops):
            if tag == "equal":
                continue
            for _ in range(i2 - i1):
                self.tree.takeTopLevelItem(i1)
            self.tree.insertTopLevelItems(i1, [_row_item(r) for r in rows[j1:j2]])
        self._update_actions()

    def _current(self) -> tuple[str, str, bool] | None:
        """(node id, code, is a silenced row) of the current row, when it is advice about a node."""
        item = self.tree.currentItem()
        if item is None or not item.data(0, _CODE_ROLE):
            return None
        return item.data(0, Qt.ItemDataRole.UserRole), item.data(0, _CODE_ROLE), bool(item.data(0, _SILENCED_ROLE))

    def _update_actions(self) -> None:
        current = self._current()
        self.silence_action.setEnabled(current is not None and not current[2])
        self.unsilence_action.setEnabled(current is not None and current[2])

    def _request(self, silenced: bool) -> None:
        current = self._current()
        if current is not None and current[2] != silenced:
            self.silence_requested.emit(current[0], current[1], silenced)

    def _on_item_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        node_id = item.data(0, Qt.ItemDataRole.UserRole)
        if node_id:
            self.node_clicked.emit(node_id)


def _row_item(row: Diagnostic | tuple[str, str]) -> QTreeWidgetItem:
    return _diagnostic_item(row) if isinstance(row, Diagnostic) else _silenced_item(*row)


def _diagnostic_item(d: Diagnostic) -> QTreeWidgetItem:
    sev = d.severity.value
    item = QTreeWidgetItem([_SYMBOLS.get(sev, sev), d.node_id or "(design)", d.message, d.hint])
    item.setForeground(0, QBrush(QColor(_severity_color(sev))))
    item.setToolTip(2, f"{d.message}\n[{d.code}]" + (f"\nhint: {d.hint}" if d.hint else ""))
    item.setToolTip(3, d.hint)
    item.setData(0, Qt.ItemDataRole.UserRole, d.node_id)
    if can_silence(d):
        item.setData(0, _CODE_ROLE, d.code)
    return item


def _silenced_item(node_id: str, code: str) -> QTreeWidgetItem:
    what = "all design advice" if code == "advice" else CODES.get(code, "diagnostics with this code")
    item = QTreeWidgetItem([SILENCED, node_id, f"{code}: {what}", "Unsilence to see this advice again"])
    for col in range(3):
        item.setForeground(col, QBrush(QColor(theme.MUTED_HEX)))
    item.setData(0, Qt.ItemDataRole.UserRole, node_id)
    item.setData(0, _CODE_ROLE, code)
    item.setData(0, _SILENCED_ROLE, True)
    return item


def _severity_color(severity: str) -> str:
    """The current theme's text colour for a severity (read at each refresh: the theme may have changed)."""
    colors = {"error": theme.ERROR_HEX, "warning": theme.WARNING_TEXT_HEX, "info": theme.INFO_HEX}
    return colors.get(severity, theme.TEXT.name())
