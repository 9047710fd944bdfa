"""Undo commands: each holds ids and before/after values, calls one core mutator in redo() and its inverse in undo().

Compound edits are macros of these, built by ``widgets.document.document.Document``; commands change the model only
and the views follow from the graph's events.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtGui import QUndoCommand

from designer.model.graph import Graph, Node, NodeId

#: Merge ids (QUndoCommand.id): bursts of the same edit become one undo step.
MERGE_PARAM = 1
MERGE_FIELD = 2
MERGE_MOVE = 3


class GraphCommand(QUndoCommand):
    """Base: a command over one graph."""

    def __init__(self, graph: Graph, text: str):
        super().__init__(text)
        self.graph = graph


class AddNodeCommand(GraphCommand):
    """Add a node (with its inputs) at a file position."""

    def __init__(self, graph: Graph, node: Node, index: int | None = None):
        super().__init__(graph, f"Add {node.id}")
        self.node = node.clone()
        self.index = index

    def redo(self) -> None:
        self.graph.add_node(self.node.clone(), self.index)

    def undo(self) -> None:
        self.graph.remove_node(self.node.id)


class RemoveNodeCommand(GraphCommand):
    """Remove one node; its file index is captured in redo() so undo puts it back in the same place."""

    def __init__(self, graph: Graph, node_id: str):
        super().__init__(graph, f"Remove {node_id}")
        self.node_id = NodeId(node_id)
        self._node: Node | None = None
        self._index = 0

    def redo(self) -> None:
        node, self._index = self.graph.remove_node(self.node_id)
        self._node = node.clone()

    def undo(self) -> None:
        assert self._node is not None
        self.graph.add_node(self._node.clone(), self._index)


class ConnectCommand(GraphCommand):
    """Feed ``src`` into ``dst`` at an input position (default: last)."""

    def __init__(self, graph: Graph, src: str, dst: str, index: int | None = None):
        super().__init__(graph, f"Connect {src} to {dst}")
        self.src, self.dst, self.index = NodeId(src), NodeId(dst), index
        self._placed = 0

    def redo(self) -> None:
        self._placed = self.graph.connect(self.src, self.dst, self.index)

    def undo(self) -> None:
        self.graph.disconnect(self.dst, self._placed)


class DisconnectCommand(GraphCommand):
    """Remove input ``index`` of ``dst``."""

    def __init__(self, graph: Graph, dst: str, index: int):
        src = graph[dst].inputs[index]
        super().__init__(graph, f"Disconnect {src} from {dst}")
        self.dst, self.index, self.src = NodeId(dst), index, src

    def redo(self) -> None:
        self.src = self.graph.disconnect(self.dst, self.index)

    def undo(self) -> None:
        self.graph.connect(self.src, self.dst, self.index)


class SetParamCommand(GraphCommand):
    """Set one parameter (None removes it); undo restores the whole params dict, key order included."""

    def __init__(self, graph: Graph, node_id: str, name: str, value: Any, merge: bool = False):
        super().__init__(graph, f"Set {node_id}.{name}")
        self.node_id, self.name, self.value, self.merge = NodeId(node_id), name, copy.deepcopy(value), merge
        self._before: dict[str, Any] | None = None

    def redo(self) -> None:
        if self._before is None:
            self._before = copy.deepcopy(self.graph[self.node_id].params)
        self.graph.set_param(self.node_id, self.name, copy.deepcopy(self.value))

    def undo(self) -> None:
        assert self._before is not None
        restore_params(self.graph, self.node_id, self._before)

    def id(self) -> int:
        return MERGE_PARAM if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not (
            isinstance(other, SetParamCommand)
            and other.merge
            and (other.node_id, other.name) == (self.node_id, self.name)
        ):
            return False
        self.value = other.value
        assert self._before is not None
        self.setObsolete(list(self.graph[self.node_id].params.items()) == list(self._before.items()))
        return True


def restore_params(graph: Graph, node_id: str, target: dict[str, Any]) -> None:
    """Bring a node's params back to exactly ``target`` (values, key order and explicit nulls)."""
    graph.set_params(node_id, copy.deepcopy(target))


class SetFieldCommand(GraphCommand):
    """Set an optional node field (label, frozen, lr_mult, pos)."""

    def __init__(self, graph: Graph, node_id: str, name: str, value: Any, merge: bool = False):
        super().__init__(graph, f"Set {node_id}.{name}")
        self.node_id, self.name, self.value, self.merge = NodeId(node_id), name, value, merge
        self._old: Any = None
        self._captured = False

    def redo(self) -> None:
        old = self.graph.set_field(self.node_id, self.name, self.value)
        if not self._captured:
            self._old, self._captured = old, True

    def undo(self) -> None:
        self.graph.set_field(self.node_id, self.name, self._old)

    def id(self) -> int:
        return MERGE_FIELD if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not (
            isinstance(other, SetFieldCommand)
            and other.merge
            and (other.node_id, other.name) == (self.node_id, self.name)
        ):
            return False
        self.value = other.value
        self.setObsolete(self.value == self._old)
        return True


class MoveNodesCommand(GraphCommand):
    """Give several nodes new positions at once (one drag, one nudge); nudges of the same nodes merge."""

    def __init__(self, graph: Graph, positions: Mapping[NodeId, tuple[float, float]], merge: bool = False):
        n = len(positions)
        super().__init__(graph, f"Move {next(iter(positions))}" if n == 1 else f"Move {n} nodes")
        self.new = dict(positions)
        self.old = {nid: graph[nid].pos for nid in positions}
        self.merge = merge

    def redo(self) -> None:
        for nid, pos in self.new.items():
            self.graph.set_field(nid, "pos", pos)

    def undo(self) -> None:
        for nid, pos in self.old.items():
            self.graph.set_field(nid, "pos", pos)

    def id(self) -> int:
        return MERGE_MOVE if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not (isinstance(other, MoveNodesCommand) and other.merge and other.new.keys() == self.new.keys()):
            return False
        self.new = dict(other.new)
        self.setObsolete(self.new == self.old)
        return True


class RenameNodeCommand(GraphCommand):
    """Give a node a new id; references follow (the new id must not be referenced anywhere yet)."""

    def __init__(self, graph: Graph, old: str, new: str):
        super().__init__(graph, f"Rename {old} to {new}")
        self.old, self.new = NodeId(old), NodeId(new)

    def redo(self) -> None:
        self.graph.rename_node(self.old, self.new)

    def undo(self) -> None:
        self.graph.rename_node(self.new, self.old)


class SetOutputsCommand(GraphCommand):
    """Declare the design's outputs (None: every node nobody consumes)."""

    def __init__(self, graph: Graph, outputs: Sequence[str] | None, text: str = "Set outputs"):
        super().__init__(graph, text)
        self.new = list(outputs) if outputs is not None else None
        self._old: list[NodeId] | None = None

    def redo(self) -> None:
        self._old = self.graph.set_outputs(self.new)

    def undo(self) -> None:
        self.graph.set_outputs(self._old)


class SetNameCommand(GraphCommand):
    """Rename the design."""

    def __init__(self, graph: Graph, name: str):
        super().__init__(graph, "Rename design")
        self.new, self._old = name, graph.name

    def redo(self) -> None:
        self._old = self.graph.set_name(self.new)

    def undo(self) -> None:
        self.graph.set_name(self._old)


class SetExtraCommand(GraphCommand):
    """Set a top-level section of the design file (the training settings, the description)."""

    def __init__(self, graph: Graph, key: str, value: Any):
        super().__init__(graph, f"Set {key}")
        self.key, self.new = key, copy.deepcopy(value)
        self._old: Any = None

    def redo(self) -> None:
        self._old = self.graph.set_extra(self.key, copy.deepcopy(self.new))

    def undo(self) -> None:
        self.graph.set_extra(self.key, self._old)


class SetNodeExtraCommand(GraphCommand):
    """Set a node field other tools own, e.g. the codes of advice it silences (None removes the field)."""

    def __init__(self, graph: Graph, node_id: str, key: str, value: Any, text: str):
        super().__init__(graph, text)
        self.node_id, self.key, self.new = NodeId(node_id), key, copy.deepcopy(value)
        self._old: Any = None

    def redo(self) -> None:
        self._old = self.graph.set_node_extra(self.node_id, self.key, copy.deepcopy(self.new))

    def undo(self) -> None:
        self.graph.set_node_extra(self.node_id, self.key, self._old)
