"""The palette: every layer type and building block, grouped, searchable, to drag onto the canvas or double-click."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QBrush, QFont, QPalette
from PySide6.QtWidgets import QApplication, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from designer.editing import catalog

from .. import theme
from ..canvas.view import PALETTE_MIME

_KEY_ROLE = Qt.ItemDataRole.UserRole
_GROUP_ROLE = Qt.ItemDataRole.UserRole + 1


class PaletteTree(QTreeWidget):
    """The tree of entries; dragging an entry carries its palette key."""

    def mimeTypes(self) -> list[str]:
        return [PALETTE_MIME]

    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:
        data = QMimeData()
        keys = [item.data(0, _KEY_ROLE) for item in items if item.data(0, _KEY_ROLE)]
        if keys:
            data.setData(PALETTE_MIME, keys[0].encode("utf-8"))
            data.setText(keys[0])
        return data


class Palette(QWidget):
    """Search field over a grouped tree; ``activated`` carries the key of a double-clicked entry."""

    activated = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="Search layers and blocks…", clearButtonEnabled=True)
        self.tree = PaletteTree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragDropMode.DragOnly)
        self.tree.setIndentation(12)
        self.tree.setUniformRowHeights(True)
        self.tree.setMouseTracking(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._populate()
        self.search.textChanged.connect(self._on_search_changed)
        self.tree.itemDoubleClicked.connect(self._on_item_double_clicked)

    def _populate(self) -> None:
        groups: dict[str, QTreeWidgetItem] = {}
        bold = QFont()
        bold.setBold(True)
        for entry in catalog.palette_entries():
            group = groups.get(entry.group)
            if group is None:
                group = groups[entry.group] = QTreeWidgetItem(self.tree, [entry.group])
                group.setFont(0, bold)
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
                group.setData(0, _GROUP_ROLE, entry.group)
            item = QTreeWidgetItem(group, [entry.text])
            item.setData(0, _KEY_ROLE, entry.key)
            item.setToolTip(0, entry.doc)
            item.setStatusTip(0, entry.doc)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
        self.tree.expandAll()
        self.restyle()

    def restyle(self) -> None:
        """Colour the group headers in their category's accent, made readable on the tree's background."""
        # The application's palette: a theme change sets it at once, the tree's own copy follows only later.
        base = QApplication.palette().color(QPalette.ColorRole.Base)
        for group in self.groups():
            accent = theme.category_color(group.data(0, _GROUP_ROLE))
            group.setForeground(0, QBrush(theme.readable(accent, base)))

    def groups(self) -> list[QTreeWidgetItem]:
        """The group header items, in display order."""
        items = (self.tree.topLevelItem(g) for g in range(self.tree.topLevelItemCount()))
        return [group for group in items if group is not None]

    def entry_items(self) -> list[QTreeWidgetItem]:
        """Every entry item (not the group headers), in display order."""
        return [item for group in self.groups() for item in _children(group)]

    def item_for(self, key: str) -> QTreeWidgetItem | None:
        """The entry with palette key ``key``, or None."""
        return next((i for i in self.entry_items() if i.data(0, _KEY_ROLE) == key), None)

    def visible_keys(self) -> list[str]:
        """The keys of the entries the search leaves shown."""
        return [i.data(0, _KEY_ROLE) for i in self.entry_items() if not i.isHidden()]

    def _on_search_changed(self, text: str) -> None:
        words = text.lower().split()
        for group in self.groups():
            shown = 0
            for item in _children(group):
                hay = f"{item.text(0)} {item.data(0, _KEY_ROLE)} {item.toolTip(0)} {group.text(0)}".lower()
                hide = not all(w in hay for w in words)
                item.setHidden(hide)
                shown += not hide
            group.setHidden(shown == 0)

    def _on_item_double_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        key = item.data(0, _KEY_ROLE)
        if key:
            self.activated.emit(key)


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    children = (item.child(i) for i in range(item.childCount()))
    return [child for child in children if child is not None]
