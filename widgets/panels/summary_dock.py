"""The per-layer summary table with totals (parameters, trainable, mult-adds, memory) as ``designer.analysis.summary``
counts them."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from designer.analysis import summary
from designer.analysis.validate import Analysis, NodeInfo
from designer.editing.node_text import fmt_count, fmt_outputs

from .. import theme

COLUMNS = ("Layer", "Type", "Output shape", "Parameters", "Mult-adds", "Receptive field")
_RIGHT = (3, 4)
Index = QModelIndex | QPersistentModelIndex
#: The invalid index Qt passes for "the table itself" (one shared instance, not a fresh one per call).
_ROOT = QModelIndex()
_DISPLAY, _ALIGNMENT, _FOREGROUND, _USER = (
    int(r)
    for r in (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.TextAlignmentRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.UserRole,
    )
)
#: The roles the model answers (the colour of an error row's text, the node id for a click).
_ROLES = frozenset((_DISPLAY, _ALIGNMENT, _FOREGROUND, _USER))
_RIGHT_ALIGN = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class SummaryModel(QAbstractTableModel):
    """Rows in evaluation order (then nodes on cycles, in file order)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[NodeInfo] = []
        self._errors: set[str] = set()
        self._analysis: Analysis | None = None
        self._row_of: dict[str, int] = {}

    def set_analysis(self, analysis: Analysis) -> None:
        """Show a new analysis: when it names the nodes it changed since the one shown, only their rows."""
        changed = analysis.changed_since(self._analysis) if analysis is not self._analysis else None
        self._analysis = analysis
        self._errors = {d.node_id for d in analysis.errors if d.node_id is not None}
        if changed is not None and self.rows:
            rows = [self._row_of[n] for n in changed if n in self._row_of]
            for row in rows:
                self.rows[row] = analysis.info[self.rows[row].node.id]
            if rows:  # one signal for the span: a view repaints only the part of it that is on screen
                self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), len(COLUMNS) - 1))
            return
        self.beginResetModel()
        seen = set(analysis.order)
        self.rows = [analysis.info[n] for n in analysis.order] + [i for n, i in analysis.info.items() if n not in seen]
        self._row_of = {info.node.id: row for row, info in enumerate(self.rows)}
        self.endResetModel()

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES:  # a view asks each cell for seven roles when it paints it; most are not ours
            return None
        info = self.rows[index.row()]
        col = index.column()
        if role == _DISPLAY:
            return self.cell(info, col)
        if role == _ALIGNMENT:
            return _RIGHT_ALIGN if col in _RIGHT else None
        if role == _FOREGROUND:
            return QColor(theme.ERROR_HEX) if info.node.id in self._errors else None  # the text shade of the error
        return info.node.id

    def cell(self, info: NodeInfo, col: int) -> str:
        """The text of one column of a row."""
        if col == 0:
            return info.node.id
        if col == 1:
            return info.node.type
        if col == 2:
            return fmt_outputs(info.ports or (info.shape,))
        if col == 3:
            return f"{info.params:,}" + ("" if info.trainable_params == info.params else " ❄")
        if col == 4:
            return f"{info.mult_adds:,}"
        return summary.format_rf(info)


class SummaryDock(QWidget):
    """Table plus totals; clicking a row asks the window to select and centre that node."""

    node_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = SummaryModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate((170, 120, 130, 110, 130)):
            self.table.setColumnWidth(col, width)
        self.totals = QLabel()
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table)
        layout.addWidget(self.totals)
        self.table.clicked.connect(self._on_clicked)

    def set_analysis(self, analysis: Analysis, totals: summary.Totals | None = None) -> None:
        """Show a new analysis (``totals``: already computed for it)."""
        self.model.set_analysis(analysis)
        self.totals.setText(totals_text(totals or summary.totals(analysis)))

    def _on_clicked(self, index: QModelIndex) -> None:
        self.node_clicked.emit(self.model.data(index, Qt.ItemDataRole.UserRole))


def totals_text(t: summary.Totals) -> str:
    """The totals line under the table (torchinfo's figures)."""
    mb = 1e6  # megabytes as torchinfo counts them
    return (
        f"<b>Total params</b> {t.params:,} &nbsp; <b>Trainable</b> {t.trainable_params:,} &nbsp; "
        f"<b>Mult-adds</b> {t.mult_adds:,} ({fmt_count(t.mult_adds)}) &nbsp; <b>Memory</b> "
        f"input {t.input_bytes / mb:.2f} MB, forward/backward {t.activation_bytes / mb:.2f} MB, "
        f"params {t.param_bytes / mb:.2f} MB, total {t.total_bytes / mb:.2f} MB"
    )
