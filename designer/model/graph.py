"""The design model: nodes wired into a graph, changed only through mutators that emit events."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NewType

from .signals import Signal

NodeId = NewType("NodeId", str)

#: Optional per-node fields of the file format, in the order they are written.
NODE_FIELDS = ("label", "pos", "frozen", "lr_mult")

#: Joins a node id and an output index in an input reference: ``"split:1"`` is the second output of node ``split``.
#: The first output is the bare id (``"split"``), the one canonical spelling, so that a layer with one output is read
#: as it always was. A colon cannot appear in an id (``analysis.ids``), so a reference is never ambiguous.
PORT_SEP = ":"


def port_ref(node_id: str, port: int) -> NodeId:
    """The reference to output ``port`` of ``node_id``: the bare id for the first output, ``"id:k"`` otherwise."""
    return NodeId(node_id if port == 0 else f"{node_id}{PORT_SEP}{port}")


def split_ref(ref: str) -> tuple[NodeId, int]:
    """The node and output index a reference names (``"split:1"`` -> ``("split", 1)``, ``"conv"`` -> ``("conv", 0)``).

    A reference whose suffix is not a number (a malformed id) names itself, so that it is reported as an unknown node.
    """
    if PORT_SEP not in ref:
        return NodeId(ref), 0
    node_id, _, port = ref.rpartition(PORT_SEP)
    if not port.isdigit():
        return NodeId(ref), 0
    return NodeId(node_id), int(port)


def ref_node(ref: str) -> NodeId:
    """The node a reference reads from (its id without the output index)."""
    return ref if PORT_SEP not in ref else split_ref(ref)[0]  # type: ignore[return-value]  # no NewType call


def canonical_ref(ref: str) -> NodeId:
    """``ref`` in its one spelling: ``"split:0"`` becomes ``"split"``."""
    return port_ref(*split_ref(ref)) if PORT_SEP in ref else NodeId(ref)


@dataclass
class Node:
    """One block of the design: a layer or a graph operation, with its ordered inputs.

    An input is a reference to another node's output: its id, or ``"id:k"`` for output ``k`` of a node with several
    outputs (a channel Split); see ``port_ref`` and ``split_ref``.
    """

    id: NodeId
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: list[NodeId] = field(default_factory=list)
    label: str | None = None
    pos: tuple[float, float] | None = None
    frozen: bool = False
    lr_mult: float | None = None
    #: Fields this version does not know, kept so that saving writes them back.
    extra: dict[str, Any] = field(default_factory=dict)

    def clone(self) -> Node:
        return copy.deepcopy(self)

    @property
    def sources(self) -> list[NodeId]:
        """The ids of the nodes this one reads, in input order (an input's output index dropped; repeats kept)."""
        return [s if PORT_SEP not in s else split_ref(s)[0] for s in self.inputs]  # inline: the validator's hot loop


def renamed_ref(ref: NodeId, old: str, new: str) -> NodeId:
    """``ref`` after node ``old`` became ``new`` (the output index kept)."""
    if ref == old:
        return NodeId(new)
    if PORT_SEP in ref:
        node_id, port = split_ref(ref)
        if node_id == old:
            return port_ref(new, port)
    return ref


class GraphEvents:
    """What a graph emits, each mutator its own event and then ``changed``; the arguments name what changed."""

    def __init__(self) -> None:
        #: (node, index in file order)
        self.node_added: Signal[[Node, int]] = Signal("node_added")
        #: (node, index it had)
        self.node_removed: Signal[[Node, int]] = Signal("node_removed")
        #: (old id, new id)
        self.node_renamed: Signal[[str, str]] = Signal("node_renamed")
        #: (source id, destination id, input index)
        self.edge_added: Signal[[str, str, int]] = Signal("edge_added")
        self.edge_removed: Signal[[str, str, int]] = Signal("edge_removed")
        #: (node id, parameter, old value, new value); a value of None means "not given"
        self.param_changed: Signal[[str, str, Any, Any]] = Signal("param_changed")
        #: (node id, field of NODE_FIELDS or key of the node's ``extra``, old value, new value)
        self.field_changed: Signal[[str, str, Any, Any]] = Signal("field_changed")
        #: (old outputs, new outputs)
        self.outputs_changed: Signal[[list[NodeId] | None, list[NodeId] | None]] = Signal("outputs_changed")
        #: (old name, new name)
        self.name_changed: Signal[[str, str]] = Signal("name_changed")
        #: (key, old value, new value)
        self.extra_changed: Signal[[str, Any, Any]] = Signal("extra_changed")
        #: after every change, with no arguments
        self.changed: Signal[[]] = Signal("changed")

    def signals(self) -> list[Signal[...]]:
        """Every signal of the group, ``changed`` last."""
        return [value for value in vars(self).values() if isinstance(value, Signal)]


class Graph:
    """A design: nodes in file order, the declared outputs, and whatever else the file carried.

    Every change goes through a mutator (``add_node``, ``connect``, ``set_param``, ...) that emits the matching event
    on ``self.events`` and then ``changed``. Each mutator has an exact inverse, which is what undo is built on.
    """

    def __init__(self, name: str = "Untitled", nodes: list[Node] | None = None, outputs: Sequence[str] | None = None):
        self.name = name
        self._nodes: dict[NodeId, Node] = {}
        self.outputs: list[NodeId] | None = [NodeId(o) for o in outputs] if outputs is not None else None
        self.extra: dict[str, Any] = {}
        self.events = GraphEvents()
        for node in nodes or ():
            self._nodes[node.id] = node

    # -- queries --------------------------------------------------------------------------------------------------

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def __len__(self) -> int:
        return len(self._nodes)

    def __getitem__(self, node_id: str) -> Node:
        return self._nodes[NodeId(node_id)]

    @property
    def nodes(self) -> list[Node]:
        return list(self._nodes.values())

    def ids(self) -> list[NodeId]:
        return list(self._nodes)

    def index_of(self, node_id: str) -> int:
        return list(self._nodes).index(NodeId(node_id))

    def consumers(self) -> dict[NodeId, list[NodeId]]:
        """Map each node id to the ids of the nodes that read it, in file order."""
        users: dict[NodeId, list[NodeId]] = {nid: [] for nid in self._nodes}
        for node in self._nodes.values():
            for src in node.sources:
                # a node reading one source twice is listed once; checking only the last entry keeps this linear
                # (a scan of the list was quadratic for an Input that feeds 20k branches)
                if src in users and (not users[src] or users[src][-1] != node.id):
                    users[src].append(node.id)
        return users

    def output_ids(self) -> list[NodeId]:
        """The declared outputs, or by default every node that nobody consumes (Input nodes excluded)."""
        return list(self.outputs) if self.outputs is not None else self.unconsumed_ids()

    def unconsumed_ids(self) -> list[NodeId]:
        """The outputs a design declares none of: every node that nobody consumes (Input nodes excluded)."""
        read: set[str] = set()
        for node in self._nodes.values():
            read.update(node.inputs)  # references; a part's "id:k" adds its node below (twice as fast as sources)
        read.update([ref_node(r) for r in read if PORT_SEP in r])
        return [n.id for n in self._nodes.values() if n.id not in read and n.type != "Input"]

    def input_ids(self) -> list[NodeId]:
        return [n.id for n in self._nodes.values() if n.type == "Input"]

    def unique_id(self, base: str) -> NodeId:
        """``base`` if it is free, else ``base_2``, ``base_3``, ..."""
        if base not in self._nodes:
            return NodeId(base)
        k = 2
        while f"{base}_{k}" in self._nodes:
            k += 1
        return NodeId(f"{base}_{k}")

    # -- mutators -------------------------------------------------------------------------------------------------

    def add_node(self, node: Node, index: int | None = None) -> None:
        if node.id in self._nodes:
            raise KeyError(f"node id {node.id!r} already exists")
        items = list(self._nodes.items())
        index = len(items) if index is None else index
        items.insert(index, (node.id, node))
        self._nodes = dict(items)
        self.events.node_added.emit(node, index)
        self.events.changed.emit()

    def remove_node(self, node_id: str) -> tuple[Node, int]:
        """Remove a node (edges that point at it stay, as dangling references); return it and its index."""
        index = self.index_of(node_id)
        node = self._nodes.pop(NodeId(node_id))
        self.events.node_removed.emit(node, index)
        self.events.changed.emit()
        return node, index

    def rename_node(self, old: str, new: str) -> None:
        """Give a node a new id and update every reference to it (inputs and outputs, each output index kept)."""
        if new in self._nodes:
            raise KeyError(f"node id {new!r} already exists")
        new_id = NodeId(new)
        self._nodes = {(new_id if k == old else k): v for k, v in self._nodes.items()}
        self._nodes[new_id].id = new_id
        for node in self._nodes.values():
            node.inputs = [renamed_ref(src, old, new) for src in node.inputs]
        if self.outputs is not None:
            self.outputs = [renamed_ref(o, old, new) for o in self.outputs]
        self.events.node_renamed.emit(old, new)
        self.events.changed.emit()

    def connect(self, src: str, dst: str, index: int | None = None) -> int:
        """Feed ``src`` (a node id, or ``"id:k"`` for its output ``k``) into ``dst`` at input position ``index``
        (default: last); return the position."""
        inputs = self._nodes[NodeId(dst)].inputs
        index = len(inputs) if index is None else index
        src = canonical_ref(src)
        inputs.insert(index, src)
        self.events.edge_added.emit(src, dst, index)
        self.events.changed.emit()
        return index

    def disconnect(self, dst: str, index: int) -> NodeId:
        """Remove input ``index`` of ``dst``; return the source it had."""
        src = self._nodes[NodeId(dst)].inputs.pop(index)
        self.events.edge_removed.emit(src, dst, index)
        self.events.changed.emit()
        return src

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        """Set a parameter (``None`` removes it, so the default applies); return the previous value or None."""
        params = self._nodes[NodeId(node_id)].params
        old = params.get(name)
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
        self.events.param_changed.emit(node_id, name, old, value)
        self.events.changed.emit()
        return old

    def set_params(self, node_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """Replace a node's whole params dict (order and explicit nulls kept); return the old one.

        This is the exact inverse of any sequence of ``set_param`` calls, which is what undo needs.
        """
        node = self._nodes[NodeId(node_id)]
        old, node.params = node.params, dict(params)
        for name in dict.fromkeys([*old, *params]):
            if name not in old or name not in params or old[name] != params[name]:
                self.events.param_changed.emit(node_id, name, old.get(name), params.get(name))
        self.events.changed.emit()
        return old

    def set_field(self, node_id: str, name: str, value: Any) -> Any:
        """Set one of the optional node fields (``label``, ``pos``, ``frozen``, ``lr_mult``); return the old value."""
        if name not in NODE_FIELDS:
            raise KeyError(f"unknown node field {name!r}")
        node = self._nodes[NodeId(node_id)]
        old = getattr(node, name)
        setattr(node, name, value)
        self.events.field_changed.emit(node_id, name, old, value)
        self.events.changed.emit()
        return old

    def set_node_extra(self, node_id: str, key: str, value: Any) -> Any:
        """Set a node field other tools own (advice's ``silence``); None removes it. Returns the old value."""
        if key in NODE_FIELDS or key in ("id", "type", "params", "inputs"):
            raise KeyError(f"{key!r} is not an extra node field")
        node = self._nodes[NodeId(node_id)]
        old = node.extra.get(key)
        if value is None:
            node.extra.pop(key, None)
        else:
            node.extra[key] = value
        self.events.field_changed.emit(node_id, key, old, value)
        self.events.changed.emit()
        return old

    def set_outputs(self, outputs: Sequence[str] | None) -> list[NodeId] | None:
        old = self.outputs
        self.outputs = [canonical_ref(o) for o in outputs] if outputs is not None else None
        self.events.outputs_changed.emit(old, self.outputs)
        self.events.changed.emit()
        return old

    def set_extra(self, key: str, value: Any) -> Any:
        """Set a top-level section other tools own (``description``, ``training``); None removes it.

        Returns the previous value (None if there was none).
        """
        old = self.extra.get(key)
        if value is None:
            self.extra.pop(key, None)
        else:
            self.extra[key] = value
        self.events.extra_changed.emit(key, old, value)
        self.events.changed.emit()
        return old

    def set_name(self, name: str) -> str:
        old, self.name = self.name, name
        self.events.name_changed.emit(old, name)
        self.events.changed.emit()
        return old
