"""The Cost dock: the legend of the canvas's cost colouring and the five costliest layers (clicking one selects it)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QHeaderView, QLabel, QSizePolicy, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from designer.analysis import cost
from designer.analysis.budgets import fmt_bytes
from designer.analysis.cost import LayerCost
from designer.editing.node_text import fmt_count

from .. import theme
from ..canvas.cost_tint import ramp

#: The View > Colour By choices: metric key of ``designer.analysis.cost.METRICS`` (or "none") and menu text.
CHOICES = {
    "none": "None",
    "params": "Parameters",
    "mult_adds": "Mult-adds",
    "memory": "Activation Memory",
    "time": "Measured Time per Layer",
}
TOP = 5


def fmt_value(metric: str, value: float) -> str:
    """A figure of ``metric`` as the dock and the legend write it."""
    if metric == "memory":
        return fmt_bytes(value)
    if metric == "time":
        return f"{value:.3g} ms"
    return fmt_count(int(value))


class Legend(QWidget):
    """The colour scale, left to right, with the values at its start, middle and end."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.labels: tuple[str, str, str] = ("", "", "")
        self.setMinimumHeight(36)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_scale(self, metric: str, top: float) -> None:
        """Label the scale of ``metric`` ending at ``top`` (its middle is a quarter of it: the scale is a root)."""
        self.labels = ("0", fmt_value(metric, top / 4), fmt_value(metric, top))
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        bar = QRectF(4, 2, self.width() - 8, 14)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for k in range(11):
            gradient.setColorAt(k / 10, ramp(k / 10))
        painter.fillRect(bar, gradient)
        painter.setPen(theme.NODE_BORDER)
        painter.drawRect(bar)
        painter.setPen(theme.TEXT)
        text = QRectF(4, bar.bottom() + 2, bar.width(), 16)
        for label, align in zip(
            self.labels, (Qt.AlignmentFlag.AlignLeft, Qt.AlignmentFlag.AlignHCenter, Qt.AlignmentFlag.AlignRight)
        ):
            painter.drawText(text, int(align | Qt.AlignmentFlag.AlignTop), label)
        painter.end()


class CostDock(QWidget):
    """What the colouring means and where the cost is; the colouring itself is ``cost_coloring.CostColoring``'s."""

    node_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("Colour the canvas by a cost: View > Colour By")
        self.title.setWordWrap(True)
        self.legend = Legend()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.top = QTreeWidget()
        self.top.setHeaderLabels(["Layer", "Type", "Cost", "Share"])
        self.top.setRootIsDecorated(False)
        self.top.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.top.itemClicked.connect(lambda item, _col: self.node_clicked.emit(item.text(0)))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        for w in (self.title, self.legend, self.status, self.top):
            layout.addWidget(w)
        self.show_costs("none", [], 0.0)

    def show_costs(self, metric: str, costs: Sequence[LayerCost], top: float, status: str = "") -> None:
        """Show the scale of ``metric`` up to ``top`` and the costliest of ``costs`` with their share of the whole."""
        on = metric != "none"
        self.title.setText(
            f"Coloured by {CHOICES[metric].lower()}" if on else "Colour the canvas by a cost: View > Colour By"
        )
        self.legend.setVisible(on)
        self.legend.set_scale(metric, top)
        self.status.setText(status)
        self.status.setVisible(bool(status))
        self.top.clear()
        total = sum(c.value(metric) for c in costs) if on else 0.0
        rows = []
        for c in cost.top(costs, metric, TOP) if on else []:
            share = f"{100 * c.value(metric) / total:.1f}%" if total else ""
            rows.append(QTreeWidgetItem([c.node_id, c.type, fmt_value(metric, c.value(metric)), share]))
        self.top.addTopLevelItems(rows)
        self.top.setVisible(bool(rows))

    def listed(self) -> list[str]:
        """The node ids of the layers listed, costliest first."""
        items = (self.top.topLevelItem(i) for i in range(self.top.topLevelItemCount()))
        return [item.text(0) for item in items if item is not None]
