"""The inspector's "Alternatives" box: other ways to compute what the selected Conv2d computes, with their cost.

Each row gives the layers, parameters and mult-adds beside the convolution's own, and an Apply button that replaces
the convolution through the document (one undo step).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QPushButton, QWidget

from designer.analysis.alternatives import Alternative, alternatives
from designer.editing.node_text import fmt_count
from designer.model.graph import NodeId

from .. import theme
from .steady_label import SteadyLabel

if TYPE_CHECKING:
    from designer.analysis.validate import Analysis

    from ..document.document import Document


class AlternativesBox(QGroupBox):
    """Alternatives for one Conv2d; ``refresh`` rebuilds the rows when the figures change."""

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__("Alternatives", parent)
        self.document = document
        self.node_id: str | None = None
        self.found: list[Alternative] = []
        self.buttons: list[QPushButton] = []
        self._labels: list[SteadyLabel] = []
        self._grid = QGridLayout(self)
        self._shown: tuple[object, ...] | None = None

    def refresh(self, analysis: Analysis, node_id: str) -> None:
        """Show the alternatives to ``node_id`` in ``analysis`` (rebuilt only when something changed)."""
        info = analysis.info.get(NodeId(node_id))
        found = alternatives(analysis, node_id)
        key = (node_id, info.params if info else 0, info.mult_adds if info else 0, tuple(found))
        if key == self._shown:
            return
        same_rows = self._shown is not None and self._shown[0] == node_id and len(found) == len(self.found) and found
        self._shown, self.node_id, self.found = key, node_id, found
        if same_rows and info is not None:
            self._retext(info.params, info.mult_adds)  # new figures, same rows: new widgets would relayout the form
            return
        while self._grid.count():
            item = self._grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.buttons, self._labels = [], []
        if not found or info is None:
            self._grid.addWidget(QLabel("none for this convolution"), 0, 0)
            return
        for row in range(len(found) + 1):
            self._labels.append(SteadyLabel())  # new figures keep its height: the form is not laid out again
            self._grid.addWidget(self._labels[-1], row, 0)
        for row in range(1, len(found) + 1):
            button = QPushButton("Apply")
            button.clicked.connect(lambda _=False, i=row - 1: self.apply(self.found[i]))
            self._grid.addWidget(button, row, 1)
            self.buttons.append(button)
        self._grid.setColumnStretch(0, 1)
        self._retext(info.params, info.mult_adds)

    def _retext(self, params: int, mult_adds: int) -> None:
        """The rows' texts and the buttons' tooltips for the alternatives found."""
        _set_text(self._labels[0], f"now: {params:,} parameters, {fmt_count(mult_adds)} mult-adds")
        for label, button, alt in zip(self._labels[1:], self.buttons, self.found):
            _set_text(label, _describe(alt, params, mult_adds))
            button.setToolTip(f"replace '{self.node_id}' by: " + " → ".join(t for t, _ in alt.layers))

    def apply(self, alt: Alternative) -> None:
        """Replace the convolution by ``alt`` (undoable)."""
        if self.node_id is not None and self.node_id in self.document.graph:
            self.document.replace_node(self.node_id, alt.layers, f"{alt.name} for {self.node_id}")


def _describe(alt: Alternative, params: int, mult_adds: int) -> str:
    ratio = f"{alt.params / params:.2f}x" if params else "–"
    muted = theme.MUTED_HEX
    return (
        f"<b>{html.escape(alt.name)}</b>: {alt.params:,} parameters ({ratio}), {fmt_count(alt.mult_adds)} mult-adds"
        f"<br><span style='color:{muted}'>{html.escape(alt.why)}</span>"
    )


def _set_text(label: SteadyLabel, text: str) -> None:
    if label.text() != text:
        label.setText(text)
