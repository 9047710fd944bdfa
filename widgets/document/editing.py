"""Edit-menu operations on the canvas selection: clipboard, delete, duplicate, select all, groups, layout."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, QPointF
from PySide6.QtWidgets import QApplication

from designer.editing import catalog
from designer.editing.clipboard import MIME_TYPE
from designer.editing.layout import top_level_groups
from designer.editing.node_text import fmt_shape
from designer.editing.outputs import output_count
from designer.model.graph import port_ref

from ..canvas.group_item import GroupItem
from ..canvas.node_item import NodeItem

if TYPE_CHECKING:
    from ..main_window import MainWindow


class EditController:
    """Turns menu actions into document edits for the window's current selection."""

    def __init__(self, window: MainWindow):
        self.window = window

    @property
    def scene(self):
        """The window's canvas scene."""
        return self.window.scene

    def _document(self):
        return self.window.document

    # -- clipboard ------------------------------------------------------------------------------------------------

    def copy(self) -> bool:
        """Put the selected nodes on the clipboard; False if nothing is selected."""
        ids = self.scene.selected_node_ids()
        doc = self._document()
        if not ids or doc is None:
            return False
        text = doc.copy_text(ids)
        data = QMimeData()
        data.setData(MIME_TYPE, text.encode("utf-8"))
        data.setText(text)
        QApplication.clipboard().setMimeData(data)
        return True

    def cut(self) -> None:
        """Copy, then delete, the selection."""
        if self.copy():
            self.delete()

    def paste(self) -> None:
        """Insert the clipboard's nodes and select them."""
        doc = self._document()
        data = QApplication.clipboard().mimeData()
        if doc is None or data is None:
            return
        text = bytes(data.data(MIME_TYPE).data()).decode("utf-8") if data.hasFormat(MIME_TYPE) else data.text()
        ids = doc.paste(text)
        if not ids:
            self.window.statusBar().showMessage("The clipboard holds no CNN Designer nodes", 4000)
        self.select_ids(ids)

    def duplicate(self) -> None:
        """Duplicate the selection and select the copies."""
        doc = self._document()
        if doc is not None:
            self.select_ids(doc.duplicate(self.scene.selected_node_ids()))

    def delete(self) -> None:
        """Delete the selected nodes and connections."""
        doc = self._document()
        if doc is not None:
            doc.delete(self.scene.selected_node_ids(), self.scene.selected_edges())

    def select_all(self) -> None:
        """Select every visible box."""
        for item in list(self.scene.nodes.values()) + list(self.scene.groups.values()):
            if item.isVisible():
                item.setSelected(True)

    def select_ids(self, ids: Iterable[str]) -> None:
        """Select exactly the boxes showing ``ids``."""
        self.scene.clearSelection()
        for nid in ids:
            item = self.scene.visible_item(nid)
            if item is not None:
                item.setSelected(True)

    # -- palette --------------------------------------------------------------------------------------------------

    def add_from_palette(self, key: str, pos: QPointF | None = None) -> list[str]:
        """Add a palette entry after the single selected node (wired), else at ``pos`` or a free spot."""
        doc = self._document()
        if doc is None:
            return []
        kind, name = catalog.parse_key(key)
        selected = self.scene.selected_node_ids()
        after = selected[0] if len(selected) == 1 else None
        at = (pos.x(), pos.y()) if pos is not None and after is None else None
        try:
            ids = doc.add_block(name, at, after) if kind == catalog.BLOCK else [doc.add_node(name, at, after=after)]
        except ValueError as exc:
            self.window.statusBar().showMessage(str(exc), 8000)
            return []
        self.select_ids(ids[-1:])
        if ids:
            self.window.view.ensureVisible(self.scene.visible_item(ids[-1]), 60, 60)
        return ids

    # -- groups and layout ----------------------------------------------------------------------------------------

    def group_selection(self) -> None:
        """Ask for a group name and put the selection in that dotted-id group."""
        doc, ids = self._document(), self.scene.selected_node_ids()
        if doc is None or not ids:
            return
        name = self.window.dialogs.ask_text(self.window, "Group nodes", "Group name (e.g. layer2.1):", "block1")
        if name:
            try:
                self.select_ids(doc.group_nodes(ids, name))
            except ValueError as exc:
                self.window.dialogs.error(self.window, "Cannot group", str(exc))

    def ungroup_selection(self) -> None:
        """Take the selected nodes out of their groups."""
        doc, ids = self._document(), self.scene.selected_node_ids()
        if doc is not None and ids:
            self.select_ids(doc.ungroup_nodes(ids))

    def collapse_selection(self) -> bool:
        """Collapse the group of each selected node (a selected group box: its enclosing group)."""
        prefixes = set()
        for item in self.scene.selectedItems():
            if isinstance(item, NodeItem) and "." in item.node_id:
                prefixes.add(item.node_id.rsplit(".", 1)[0])
        done = [p for p in sorted(prefixes) if self.scene.collapse(p)]
        for p in done:
            if p in self.scene.groups:
                self.scene.groups[p].setSelected(True)
        if not done:
            self.window.statusBar().showMessage("Select a node whose id has a group (like layer2.1.conv1)", 4000)
        return bool(done)

    def expand_selection(self) -> None:
        """Expand the selected group boxes."""
        for item in list(self.scene.selectedItems()):
            if isinstance(item, GroupItem):
                self.scene.expand(item.node_id)

    def collapse_all(self) -> None:
        """Collapse every top-level group (``layer1``, ``layer2``, ...) and show the whole design."""
        doc = self._document()
        if doc is None:
            return
        self.scene.collapsed |= top_level_groups(doc.graph)
        self.scene.sync_groups(place=False)  # the fit places and routes, once
        self.window.view.fit_to_view()

    def expand_all(self) -> None:
        """Expand every collapsed group and show the whole design."""
        self.scene.expand_all(place=False)  # the fit places and routes, once
        self.window.view.fit_to_view()

    def output_choices(self) -> list[tuple[str, str, bool]]:
        """For the one selected node: each output it has as (reference, label, whether the design outputs it); one
        entry per part of a Split. Empty unless exactly one node is selected."""
        doc, ids = self._document(), self.scene.selected_node_ids()
        if doc is None or len(ids) != 1 or ids[0] not in doc.graph:
            return []
        count, outputs = output_count(doc.graph, ids[0]), set(doc.graph.output_ids())
        choices: list[tuple[str, str, bool]] = []
        for port in range(count):
            ref = port_ref(ids[0], port)
            label = "Design Output" if count == 1 else f"Part {port} ({fmt_shape(doc.analysis.shape(ref))})"
            choices.append((ref, label, ref in outputs))
        return choices

    def toggle_output(self, ref: str) -> None:
        """Make ``ref`` a design output, or no longer one (undoable)."""
        doc = self._document()
        if doc is not None:
            doc.toggle_output(ref)

    def auto_layout(self) -> None:
        """Lay the design out in layers and show all of it."""
        doc = self._document()
        if doc is not None:
            doc.auto_layout()
            self.window.view.fit_to_view()
