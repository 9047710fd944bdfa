"""The template browser: each template's description, size and cost; open it as a new design or insert it."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from designer.analysis.validate import analyze
from designer.editing.node_text import fmt_count, fmt_shape
from designer.model import fileformat
from designer.model.graph import Graph

from .. import theme


@dataclass(frozen=True)
class TemplateEntry:
    """A template the browser can show: its name, one-line description and a loader."""

    name: str
    description: str
    load: Callable[[], Graph]
    title: str = ""


def available_templates() -> list[TemplateEntry]:
    """The templates of ``designer.editing.templates``, default first."""
    from designer.editing import templates

    return [
        TemplateEntry(t.name, t.description, _loader(templates.load_template, t.name), t.title)
        for t in templates.list_templates()
    ]


def _loader(load: Callable[[str], Graph], name: str) -> Callable[[], Graph]:
    return lambda: load(name)


def load_template(name: str) -> Graph:
    """A fresh copy of the named template. Raises KeyError for an unknown name."""
    for entry in available_templates():
        if entry.name == name:
            return entry.load()
    raise KeyError(f"no template named {name!r}")


def describe(entry: TemplateEntry, graph: Graph) -> str:
    """The browser's HTML description of one template: text, parameters, mult-adds, shapes, validity."""
    analysis = analyze(graph)
    inputs = ", ".join(fmt_shape(analysis.shape(i)) for i in graph.input_ids()) or "–"
    outputs = ", ".join(fmt_shape(analysis.shape(o)) for o in graph.output_ids()) or "–"
    text = entry.description or graph.extra.get("description", "")
    status = (
        f"<span style='color:{theme.OK_HEX}'>valid</span>"
        if analysis.ok
        else f"<span style='color:{theme.ERROR_HEX}'>{len(analysis.errors)} error(s)</span>"
    )
    rows = [
        ("layers", str(len(graph))),
        ("parameters", f"{analysis.total_params:,} ({fmt_count(analysis.total_params)})"),
        ("mult-adds", f"{analysis.total_mult_adds:,} ({fmt_count(analysis.total_mult_adds)})"),
        ("input", inputs),
        ("output", outputs),
        ("status", status),
    ]
    table = theme.key_value_table(rows, gap=10)
    return f"<h3>{html.escape(graph.name or entry.name)}</h3><p>{html.escape(str(text))}</p>{table}"


class TemplateBrowser(QDialog):
    """Pick a template; ``chosen`` is its name and ``insert`` whether to add it to the current design."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Open template")
        self.resize(760, 440)
        self.chosen: str | None = None
        self.insert = False
        self.entries = available_templates()
        self.list = QListWidget()
        self.details = QTextBrowser()
        for entry in self.entries:
            item = QListWidgetItem(f"{entry.title} ({entry.name})" if entry.title else entry.name)
            item.setToolTip(entry.description)
            self.list.addItem(item)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.open_button = QPushButton("Open as new design")
        self.insert_button = QPushButton("Insert into current design")
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.insert_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.open_button.clicked.connect(lambda: self._choose(False))
        self.insert_button.clicked.connect(lambda: self._choose(True))
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.list, 1)
        top.addWidget(self.details, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(buttons)
        self.list.currentRowChanged.connect(self._on_row_changed)
        self.list.itemDoubleClicked.connect(lambda _item: self._choose(False))
        if self.entries:
            self.list.setCurrentRow(0)
        else:
            self.details.setText("No templates are installed.")
            self.open_button.setEnabled(False)
            self.insert_button.setEnabled(False)

    def select(self, name: str) -> None:
        """Show the template called ``name``."""
        names = [e.name for e in self.entries]
        self.list.setCurrentRow(names.index(name))

    def _on_row_changed(self, row: int) -> None:
        if 0 <= row < len(self.entries):
            entry = self.entries[row]
            try:
                self.details.setHtml(describe(entry, entry.load()))
            except (fileformat.ProjectError, KeyError, OSError) as exc:
                self.details.setText(f"This template cannot be read: {exc}")
        self.details.setAlignment(Qt.AlignmentFlag.AlignLeft)

    def _choose(self, insert: bool) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.entries):
            self.chosen, self.insert = self.entries[row].name, insert
            self.accept()
