"""The scene's edge items by node. An edge inside a collapsed group is drawn by no one, so its item is made only
when the group opens (or someone asks for it): a big design opens on a few group boxes without hundreds of hidden
edges and labels to make, style, route and index."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from designer.model.graph import NodeId, renamed_ref

from .edge_item import EdgeItem


class EdgeTable:
    """``inputs[dst]`` has one slot per input of ``dst``, in input order (None: no item made for it);
    ``outputs[node]`` holds the items made for the edges ``node`` feeds, from any of its outputs (an edge's ``src`` is
    a reference such as ``"s:1"``: two edges from parts of one Split into one node are two slots, two items)."""

    def __init__(self) -> None:
        self.inputs: dict[str, list[EdgeItem | None]] = {}
        self.outputs: dict[str, list[EdgeItem]] = {}

    def made(self) -> Iterator[tuple[int, EdgeItem]]:
        """Every item made, with its input index."""
        for slots in self.inputs.values():
            for index, edge in enumerate(slots):
                if edge is not None:
                    yield index, edge

    def slots(self) -> Iterator[tuple[str, int, EdgeItem | None]]:
        """Every input slot: (dst, input index, item or None)."""
        for dst, slots in self.inputs.items():
            for index, edge in enumerate(slots):
                yield dst, index, edge

    def into(self, dst: str) -> list[EdgeItem]:
        """The items made for the inputs of ``dst``."""
        return [e for e in self.inputs.get(dst, []) if e is not None]

    def touching(self, node_id: str) -> list[EdgeItem]:
        """The items made for edges into and out of ``node_id``."""
        return self.into(node_id) + self.outputs.get(node_id, [])

    def made_touching(self, node_ids: Iterable[str]) -> list[tuple[int, EdgeItem]]:
        """The items made for edges into and out of any of ``node_ids``, each once, with their input index."""
        found: dict[int, tuple[int, EdgeItem]] = {}
        for nid in node_ids:
            for index, edge in enumerate(self.inputs.get(nid, [])):
                if edge is not None:
                    found[id(edge)] = (index, edge)
            for edge in self.outputs.get(nid, []):
                if id(edge) not in found:
                    found[id(edge)] = (self.index_of(edge), edge)
        return list(found.values())

    def index_of(self, edge: EdgeItem) -> int:
        """The input index of ``edge`` at its target."""
        return self.inputs[edge.dst].index(edge)

    def count(self, dst: str) -> int:
        """How many inputs ``dst`` has."""
        return len(self.inputs.get(dst, []))

    def insert(self, dst: str, index: int, edge: EdgeItem | None) -> None:
        """A new input slot of ``dst`` at ``index``, with its item or None."""
        self.inputs.setdefault(dst, []).insert(index, edge)
        if edge is not None:
            self.outputs.setdefault(edge.src_node, []).append(edge)

    def put(self, dst: str, index: int, edge: EdgeItem) -> None:
        """Fill an empty slot with a made item."""
        self.inputs[dst][index] = edge
        self.outputs.setdefault(edge.src_node, []).append(edge)

    def take(self, dst: str, index: int, keep_slot: bool) -> EdgeItem | None:
        """Take the item out of a slot (emptying it, or removing the slot); the caller removes it from the scene."""
        slots = self.inputs[dst]
        edge = slots[index] if keep_slot else slots.pop(index)
        if keep_slot:
            slots[index] = None
        if edge is not None:
            self.outputs[edge.src_node].remove(edge)
        return edge

    def take_node(self, node_id: str) -> list[EdgeItem]:
        """Remove every input slot of ``node_id``; the items made for them."""
        edges = [e for e in self.inputs.pop(node_id, []) if e is not None]
        for edge in edges:
            self.outputs[edge.src_node].remove(edge)
        return edges

    def rename(self, old: str, new: str) -> None:
        """``old`` is now called ``new``."""
        if old in self.inputs:
            self.inputs[new] = self.inputs.pop(old)
            for edge in self.into(new):
                edge.dst = new
        if old in self.outputs:
            self.outputs[new] = self.outputs.pop(old)
            for edge in self.outputs[new]:
                edge.src = renamed_ref(NodeId(edge.src), old, new)
