"""The document controller: one open design, its undo stack, and every edit as a command on that stack.

Views, dialogs and menus call these methods; they never call graph mutators. Validation reruns after every change,
coalesced by a 0-ms single-shot timer so a macro of many commands revalidates once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from designer.analysis.advice import silence_codes
from designer.analysis.incremental import AnalysisFollower
from designer.analysis.validate import Analysis
from designer.editing import catalog, clipboard, placement
from designer.editing.layout import ROW_STEP, layered_layout
from designer.editing.outputs import output_count, toggled_outputs
from designer.editing.placement import Pos
from designer.layers.registry import get_spec
from designer.model.diagnostics import DesignError
from designer.model.graph import PORT_SEP, Graph, Node, NodeId, canonical_ref, ref_node, split_ref

from . import commands as cmd


class Document(QObject):
    """One design with its undo stack, file path and latest analysis."""

    analysis_changed = Signal(object)
    path_changed = Signal(object)

    def __init__(self, graph: Graph, path: str | os.PathLike[str] | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.graph = graph
        self.path = os.fspath(path) if path is not None else None
        self.undo_stack = QUndoStack(self)
        #: The analysis, re-analysed after parameter edits from the last one (only what an edit reaches).
        self._follower = AnalysisFollower(graph)
        #: Whether the views have not yet been told of the latest analysis. Kept apart from the analysis: a view may
        #: compute the analysis early (the inspector on a selection change), and the others must still hear of it.
        self._views_stale = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.flush)
        placement.place_missing(graph)
        graph.events.changed.connect(self._on_changed)

    # -- state ----------------------------------------------------------------------------------------------------

    @property
    def analysis(self) -> Analysis:
        """The analysis of the current graph (computed now if an edit made it stale)."""
        return self._follower.analysis

    @property
    def is_modified(self) -> bool:
        """Whether there are edits since the last save."""
        return not self.undo_stack.isClean()

    @property
    def display_name(self) -> str:
        """The file name, or the design's name while it is untitled."""
        return os.path.basename(self.path) if self.path else self.graph.name

    def set_path(self, path: str | None) -> None:
        """Record where the document is saved (Save As)."""
        self.path = path
        self.path_changed.emit(path)

    def mark_saved(self) -> None:
        """Make the current undo state the saved one."""
        self.undo_stack.setClean()

    def close(self) -> None:
        """Stop following the graph (the window is done with this document)."""
        self._timer.stop()
        self.graph.events.changed.disconnect(self._on_changed)
        self._follower.close()

    def _on_changed(self) -> None:
        self._views_stale = True
        self._timer.start()

    def flush(self) -> None:
        """Tell the views of the current analysis if they have not heard of it since the last edit."""
        self._timer.stop()
        if self._views_stale:
            self._views_stale = False
            self.analysis_changed.emit(self.analysis)

    # -- command plumbing -----------------------------------------------------------------------------------------

    def push(self, command: QUndoCommand) -> None:
        """Run a command and put it on the undo stack."""
        self.undo_stack.push(command)

    @contextlib.contextmanager
    def macro(self, text: str) -> Iterator[None]:
        """Group the commands pushed inside into one undo step."""
        self.undo_stack.beginMacro(text)
        try:
            yield
        finally:
            self.undo_stack.endMacro()

    # -- adding ---------------------------------------------------------------------------------------------------

    def add_node(
        self, type_name: str, pos: Pos | None = None, params: dict[str, Any] | None = None, after: str | None = None
    ) -> NodeId:
        """Add a layer; with ``after`` (a node, or ``"id:k"`` for its output ``k``) it is wired after that output (and
        takes over its readers if single-input)."""
        spec = get_spec(type_name)
        node = Node(
            catalog.fresh_id(self.graph, type_name),
            type_name,
            dict(params) if params is not None else catalog.starting_params(type_name),
        )
        takes_input = spec is not None and spec.arity[1] != 0
        after = canonical_ref(after) if after is not None and self._readable(after) and takes_input else None
        x, y = pos if pos is not None else placement.below(self.graph, ref_node(after) if after else None)
        node.pos = (round(x), round(y))
        with self.macro(f"Add {node.id}"):
            if after is not None:
                self._make_room(ref_node(after))
                node.inputs = [NodeId(after)]
            self.push(cmd.AddNodeCommand(self.graph, node))
            if after is not None and spec is not None and spec.arity[1] == 1:
                self._take_over_consumers(after, node.id)
        return node.id

    def add_block(self, name: str, pos: Pos | None = None, after: str | None = None) -> list[NodeId]:
        """Add a building block's nodes, wired after ``after`` (or the nearest node above ``pos``), laid out there.

        Raises:
            ValueError: the block does not fit the shape it would read (the message says why).
        """
        after = (
            after
            if after in self.graph
            else (placement.nearest_above(self.graph, self.analysis, pos) if pos is not None else None)
        )
        shape = self.analysis.shape(after) if after else None
        try:
            nodes, output = catalog.block_nodes(name, self.graph, after, shape)
        except DesignError as exc:
            raise ValueError(f"{name} does not fit after '{after}': {exc.message}") from None
        origin = pos if pos is not None else placement.below(self.graph, after)
        placement.lay_out_new(nodes, origin)
        with self.macro(f"Add {name}"):
            if after is not None and pos is None:
                self._make_room(after, rows=max(1, placement.depth(nodes)))
            for node in nodes:
                self.push(cmd.AddNodeCommand(self.graph, node))
            if after is not None and pos is None:
                self._take_over_consumers(after, output, skip={n.id for n in nodes})
        return [n.id for n in nodes]

    def insert_nodes(
        self, nodes: list[Node], text: str, at: Pos | None = None, keep_external: bool = False
    ) -> list[NodeId]:
        """Add copies of ``nodes`` under free ids (paste, duplicate, insert a template); return the new ids."""
        fresh = clipboard.reidentify(nodes, self.graph, keep_external)
        if any(n.pos is None for n in fresh):
            placement.lay_out_new(fresh, at or placement.free_spot(self.graph))
        else:
            mx, my = clipboard.centre(fresh) or (0.0, 0.0)
            tx, ty = at or (mx + 40, my + 40)
            clipboard.shift_positions(fresh, (tx - mx, ty - my))
        with self.macro(text):
            for node in fresh:
                self.push(cmd.AddNodeCommand(self.graph, node))
        return [n.id for n in fresh]

    def paste(self, text: str, at: Pos | None = None) -> list[NodeId]:
        """Insert nodes copied with ``copy_text`` under fresh ids."""
        nodes = clipboard.text_to_nodes(text)
        return self.insert_nodes(nodes, f"Paste {len(nodes)} node(s)", at) if nodes else []

    def duplicate(self, ids: Iterable[str]) -> list[NodeId]:
        """Copy nodes in place, keeping their inputs from outside the copy."""
        chosen = set(ids)
        nodes = [n for n in self.graph if n.id in chosen]
        return self.insert_nodes(nodes, f"Duplicate {len(nodes)} node(s)", keep_external=True) if nodes else []

    def copy_text(self, ids: Iterable[str]) -> str:
        """The nodes as clipboard text."""
        return clipboard.nodes_to_text(self.graph, ids)

    # -- wiring ---------------------------------------------------------------------------------------------------

    def can_connect(self, src: str, dst: str) -> bool:
        """Whether ``src`` (a node, or ``"id:k"`` for its output ``k``) may feed ``dst``: both exist, the source has
        that output and ``dst`` takes inputs."""
        spec = get_spec(self.graph[dst].type) if dst in self.graph else None
        return self._readable(src) and ref_node(src) != dst and spec is not None and spec.arity[1] != 0

    def _readable(self, ref: str) -> bool:
        """Whether ``ref`` names a node of the design and an output it has."""
        node_id, port = split_ref(ref)
        return node_id in self.graph and port < output_count(self.graph, node_id)

    def connect_nodes(self, src: str, dst: str) -> bool:
        """Feed ``src`` into ``dst``; a single-input node gives up its current input. False if refused."""
        if not self.can_connect(src, dst):
            return False
        spec = get_spec(self.graph[dst].type)
        inputs = self.graph[dst].inputs
        if spec is not None and spec.arity[1] == 1 and inputs:
            if inputs == [canonical_ref(src)]:
                return False
            with self.macro(f"Connect {src} to {dst}"):
                for i in reversed(range(len(inputs))):
                    self.push(cmd.DisconnectCommand(self.graph, dst, i))
                self.push(cmd.ConnectCommand(self.graph, src, dst))
        else:
            self.push(cmd.ConnectCommand(self.graph, src, dst))
        return True

    def disconnect_input(self, dst: str, index: int) -> None:
        """Remove input ``index`` of ``dst``."""
        self.push(cmd.DisconnectCommand(self.graph, dst, index))

    def _take_over_consumers(self, old: str, new: str, skip: set[str] | None = None) -> None:
        """Make every reader of ``old`` (but ``new`` itself) read ``new``; outputs too."""
        skip = (skip or set()) | {new}
        for node in list(self.graph):
            if node.id in skip:
                continue
            for i, src in enumerate(list(node.inputs)):
                if src == old:
                    self.push(cmd.DisconnectCommand(self.graph, node.id, i))
                    self.push(cmd.ConnectCommand(self.graph, new, node.id, i))
        if self.graph.outputs is not None and old in self.graph.outputs:
            self.push(cmd.SetOutputsCommand(self.graph, [new if o == old else o for o in self.graph.outputs]))

    # -- removing -------------------------------------------------------------------------------------------------

    def remove_nodes(self, ids: Iterable[str]) -> None:
        """Delete nodes with every edge touching them."""
        self.delete(ids, ())

    def delete(self, ids: Iterable[str], edges: Iterable[tuple[str, int]]) -> None:
        """Remove nodes (with every edge touching them) and edges given as (dst, input index), as one step."""
        doomed = [n.id for n in self.graph if n.id in set(ids)]
        cut = {(d, i) for d, i in edges if d in self.graph and d not in doomed}
        for node in self.graph:
            if node.id not in doomed:
                cut.update((node.id, i) for i, s in enumerate(node.sources) if s in doomed)
        if not doomed and not cut:
            return
        with self.macro(f"Delete {len(doomed)} node(s)" if doomed else "Delete connection"):
            for dst, index in sorted(cut, key=lambda e: (e[0], -e[1])):
                self.push(cmd.DisconnectCommand(self.graph, dst, index))
            outputs = self.graph.outputs
            if outputs is not None and any(ref_node(o) in doomed for o in outputs):
                kept = [o for o in outputs if ref_node(o) not in doomed]
                self.push(cmd.SetOutputsCommand(self.graph, kept or None))
            for nid in doomed:
                self.push(cmd.RemoveNodeCommand(self.graph, nid))

    def replace_node(self, node_id: str, layers: Sequence[tuple[str, dict[str, Any]]], text: str) -> list[NodeId]:
        """Replace a one-input node by a chain of layers, as one step; the last keeps the id, so its readers read it."""
        old = self.graph[node_id]
        index, (x, y) = self.graph.index_of(node_id), old.pos or placement.free_spot(self.graph)
        ids = [self.graph.unique_id(f"{node_id}_{k}") for k in range(1, len(layers))] + [old.id]
        nodes, src = [], old.inputs[:1]
        for k, (nid, (type_, params)) in enumerate(zip(ids, layers)):
            node = Node(nid, type_, dict(params), list(src), pos=(x, y + k * ROW_STEP), frozen=old.frozen)
            node.lr_mult, src = old.lr_mult, [nid]
            nodes.append(node)
        nodes[-1].extra = dict(old.extra)
        with self.macro(text):
            self._make_room(node_id, rows=len(layers) - 1)
            self.push(cmd.RemoveNodeCommand(self.graph, node_id))
            for k, node in enumerate(nodes):
                self.push(cmd.AddNodeCommand(self.graph, node, index + k))
        return [n.id for n in nodes]

    # -- values ---------------------------------------------------------------------------------------------------

    def set_param(self, node_id: str, name: str, value: Any, merge: bool = False) -> None:
        """Set a parameter (None removes it); ``merge`` folds spin-box bursts into one step."""
        if self.graph[node_id].params.get(name, _MISSING) == value:
            return
        self.push(cmd.SetParamCommand(self.graph, node_id, name, value, merge))

    def set_field(self, node_id: str, name: str, value: Any, merge: bool = False) -> None:
        """Set label, frozen or lr_mult (``merge`` as for ``set_param``)."""
        if getattr(self.graph[node_id], name) == value:
            return
        self.push(cmd.SetFieldCommand(self.graph, node_id, name, value, merge))

    def set_outputs(self, outputs: Sequence[str] | None) -> None:
        """Declare the design's outputs (None: the nodes nobody consumes)."""
        self.push(cmd.SetOutputsCommand(self.graph, outputs))

    def toggle_output(self, ref: str) -> None:
        """Make ``ref`` (a node, or ``"id:k"``) one of the design's outputs, or no longer one (``toggled_outputs``)."""
        ref = canonical_ref(ref)
        declared = toggled_outputs(self.graph, ref)
        if declared != self.graph.outputs:
            verb = "Unmark" if ref in self.graph.output_ids() else "Mark"
            self.push(cmd.SetOutputsCommand(self.graph, declared, f"{verb} {ref} as an output"))

    def set_name(self, name: str) -> None:
        """Rename the design."""
        if name != self.graph.name:
            self.push(cmd.SetNameCommand(self.graph, name))

    def set_extra(self, key: str, value: Any) -> None:
        """Set a top-level section of the file, e.g. the training settings (undoable)."""
        if self.graph.extra.get(key) != value:
            self.push(cmd.SetExtraCommand(self.graph, key, value))

    def silence_advice(self, node_id: str, code: str, silenced: bool = True) -> None:
        """Add ``code`` to the node's ``silence`` list (or take it out), as one undoable step."""
        codes = silence_codes(self.graph[node_id])
        new = [*codes, code] if silenced and code not in codes else [c for c in codes if c != code or silenced]
        if new != codes:
            verb = "Silence" if silenced else "Unsilence"
            self.push(
                cmd.SetNodeExtraCommand(self.graph, node_id, "silence", new or None, f"{verb} {code} on {node_id}")
            )

    def move_nodes(self, positions: Mapping[NodeId, Pos] | Mapping[str, Pos], merge: bool = False) -> None:
        """Move nodes to new centres (one step; ``merge`` folds a burst of nudges of the same nodes into one)."""
        moved = {
            NodeId(k): (round(x), round(y))
            for k, (x, y) in positions.items()
            if k in self.graph and self.graph[k].pos != (round(x), round(y))
        }
        if moved:
            self.push(cmd.MoveNodesCommand(self.graph, moved, merge))

    def nudge(self, ids: Iterable[str], dx: float, dy: float) -> None:
        """Move nodes by an offset (arrow keys); consecutive nudges of the same nodes merge."""
        self.move_nodes(
            {i: (pos[0] + dx, pos[1] + dy) for i in ids if i in self.graph and (pos := self.graph[i].pos) is not None},
            merge=True,
        )

    def auto_layout(self) -> None:
        """Lay every node out in layers, as one undo step."""
        with self.macro("Auto layout"):
            self.move_nodes(layered_layout(self.graph))

    # -- ids and groups -------------------------------------------------------------------------------------------

    def rename_node(self, old: str, new: str) -> None:
        """Give a node a new id. Raises ValueError if the id is empty or already used."""
        new = new.strip()
        if new == old:
            return
        if not new or new in clipboard.referenced_ids(self.graph):
            raise ValueError(f"'{new}' is already used" if new else "an id cannot be empty")
        if PORT_SEP in new:
            raise ValueError(f"an id cannot hold '{PORT_SEP}': 'split{PORT_SEP}1' names output 1 of node 'split'")
        self.push(cmd.RenameNodeCommand(self.graph, old, new))

    def group_nodes(self, ids: Iterable[str], group: str) -> list[NodeId]:
        """Put nodes in the dotted group ``group`` (``layer2.1``) by renaming them ``group.<last part>``."""
        group = group.strip().strip(".")
        if not group or group in self.graph:
            raise ValueError(f"'{group}' is a node id; choose another group name" if group else "empty group name")
        return self._rename_all(ids, lambda nid: f"{group}.{nid.rsplit('.', 1)[-1]}", f"Group as {group}")

    def ungroup_nodes(self, ids: Iterable[str]) -> list[NodeId]:
        """Take nodes out of their group: each keeps only the last part of its id."""
        return self._rename_all(ids, lambda nid: nid.rsplit(".", 1)[-1], "Ungroup")

    def _rename_all(self, ids: Iterable[str], new_name: Any, text: str) -> list[NodeId]:
        chosen = [n.id for n in self.graph if n.id in set(ids)]
        taken = clipboard.referenced_ids(self.graph)
        out = []
        with self.macro(text):
            for nid in chosen:
                target = new_name(nid)
                new = nid if target == nid else clipboard.free_id(target, taken)
                taken.add(new)
                if new != nid:
                    self.push(cmd.RenameNodeCommand(self.graph, nid, new))
                out.append(NodeId(new))
        return out

    def _make_room(self, after: str, rows: int = 1) -> None:
        """Push the nodes downstream of ``after`` and below it down, so an inserted node has a free row."""
        self.move_nodes(placement.room_after(self.graph, after, rows))


_MISSING = object()
