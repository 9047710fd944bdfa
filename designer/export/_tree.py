"""The module tree of a design as the Python export writes it.

Dotted ids nest as in the compiled module. Each group becomes a class (a name group: ``stem.conv``), a Sequential
(children ``0..n-1`` that run one after the other), a ModuleList or a ModuleDict. A group is *callable* when its
forward can be one call: the values it takes come from outside only before it runs (no path leaves it and comes back).
Calls of the other groups' members, and the graph operations of a scope (``add``, ``cat``), are the steps of the
forward of the nearest callable group above them.

A parameterless layer ``<name>_<k>`` beside an identical ``<name>`` is that layer called again, as torch.fx names a
module's second call: torchvision's BasicBlock calls one ``self.relu`` twice, and the export does the same.

Values are references (``model.graph.port_ref``): a node with several outputs (a Split) is one step whose outputs
are its parts, ``split, split_1 = x.chunk(2, 1)``, and a group may take or give one part of it.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from torch import nn

from ..analysis.validate import Analysis
from ..compiler import DICT, LIST, module_layout
from ..model.graph import NodeId, port_ref, ref_node
from ._calls import layer_settings

LAYER, CLASS, SEQ, MLIST, MDICT = "layer", "class", "seq", "list", "dict"

_AGAIN = re.compile(r"^(.*)_(\d+)$")


@dataclass(eq=False)
class Step:
    """One line of a forward: a call of a module (``via`` is its path below the scope) or a graph operation."""

    via: str
    unit: Unit | None
    node_id: NodeId | None
    inputs: list[NodeId]
    outputs: list[NodeId]

    @property
    def members(self) -> set[NodeId]:
        """The design nodes this step computes."""
        if self.node_id is not None:
            return {self.node_id}
        return self.unit.members if self.unit else set()


@dataclass(eq=False)
class Unit:
    """A module of the exported tree: a layer node or a group of them."""

    path: str
    kind: str
    parent: Unit | None = None
    node_id: NodeId | None = None
    layer_type: str = ""
    children: list[Unit] = field(default_factory=list)
    extras: list[NodeId] = field(default_factory=list)
    members: set[NodeId] = field(default_factory=set)
    inputs: list[NodeId] = field(default_factory=list)
    outputs: list[NodeId] = field(default_factory=list)
    callable: bool = False
    chain: bool = False
    steps: list[Step] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The last part of the path: the child's name in its parent."""
        return self.path.rpartition(".")[2]

    def child(self, name: str) -> Unit:
        """The child called ``name``; indexed, since a flat design has one unit per layer under the root."""
        index: dict[str, Unit] | None = self.__dict__.get("_index")
        if index is None or len(index) != len(self.children):
            index = self.__dict__["_index"] = {c.name: c for c in self.children}
        return index[name]

    def relative(self, path: str) -> str:
        """``path`` below this unit (``layer1.0.conv1`` below ``layer1.0`` is ``conv1``)."""
        return path[len(self.path) + 1 :] if self.path else path

    def walk(self) -> Iterator[Unit]:
        """This unit and every unit below it, parents before children."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Tree:
    """The exported module tree with what its forwards need."""

    root: Unit
    aliases: dict[NodeId, NodeId]
    pos: dict[NodeId, int]
    inputs: dict[NodeId, list[NodeId]]
    #: The references to each part of a node with several outputs.
    parts: dict[NodeId, list[NodeId]] = field(default_factory=dict)

    def values(self, node_id: NodeId) -> list[NodeId]:
        """The values a node gives: its id, or a reference per part."""
        return self.parts.get(node_id, [node_id])


def build_tree(analysis: Analysis, modules: Mapping[str, nn.Module]) -> Tree:
    """The module tree of the design: kinds, members, inputs and outputs, and each callable scope's steps."""
    aliases = repeated_calls(modules)
    own = [m for m in modules if m not in aliases]
    layout = module_layout(own)
    kinds = {path: group.kind for path, group in layout.items()}

    def make(path: str, parent: Unit | None) -> Unit:
        if path in modules:
            return Unit(path, LAYER, parent, NodeId(path), type(modules[path]).__name__)
        unit = Unit(path, {LIST: MLIST, DICT: MDICT}.get(kinds[path], CLASS), parent)
        unit.children = [make(layout[path].child_path(c), unit) for c in layout[path].children]
        return unit

    root = make("", None)
    order = analysis.order
    tree = Tree(root, aliases, {n: i for i, n in enumerate(order)}, {n: list(analysis.graph[n].inputs) for n in order})
    tree.parts = {
        n: [port_ref(n, k) for k in range(len(info.ports))] for n, info in analysis.info.items() if info.ports
    }
    _place_extras(tree, analysis, set(layout) - set(modules))
    _connect(tree, analysis)
    return tree


def repeated_calls(modules: Mapping[str, nn.Module]) -> dict[NodeId, NodeId]:
    """Parameterless layers that are a sibling layer called again: ``relu_1`` -> ``relu`` when both are the same
    ``nn.ReLU()``."""
    out: dict[NodeId, NodeId] = {}
    for node_id, module in modules.items():
        parent, _, name = node_id.rpartition(".")
        match = _AGAIN.match(name)
        if match is None or not match[1]:
            continue
        base = f"{parent}.{match[1]}" if parent else match[1]
        other = modules.get(base)
        if other is None or base in out or type(other) is not type(module):
            continue
        if not _stateless(module) or (module is not other and layer_settings(module) != layer_settings(other)):
            continue
        out[NodeId(node_id)] = NodeId(base)
    for node_id, base in out.items():  # relu_1_1 -> relu_1 -> relu: call the module that is built
        while base in out:
            base = out[base]
        out[node_id] = base
    return out


def _stateless(module: nn.Module) -> bool:
    return not any(True for _ in module.parameters()) and not any(True for _ in module.buffers())


def _place_extras(tree: Tree, analysis: Analysis, groups: set[str]) -> None:
    """Give each graph operation and repeated call to the deepest group whose path prefixes its id."""
    by_path = {u.path: u for u in tree.root.walk()}
    for node_id in analysis.order:
        node = analysis.info[node_id].node
        if node.type == "Input" or node_id in by_path:
            continue
        parts = node_id.split(".")
        owner = next((p for p in (".".join(parts[:d]) for d in range(len(parts) - 1, 0, -1)) if p in groups), "")
        by_path[owner].extras.append(node_id)


def _connect(tree: Tree, analysis: Analysis) -> None:
    graph = analysis.graph
    consumers: dict[NodeId, list[NodeId]] = {n: [] for n in analysis.order}  # by node
    readers: dict[NodeId, list[NodeId]] = {}  # by value
    for node_id in analysis.order:
        for src in graph[node_id].inputs:
            consumers[ref_node(src)].append(node_id)
            readers.setdefault(src, []).append(node_id)
    outputs = set(graph.output_ids())
    for unit in reversed(list(tree.root.walk())):
        unit.members = {unit.node_id} if unit.node_id else set(unit.extras)
        for child in unit.children:
            unit.members |= child.members
        ordered = sorted(unit.members, key=tree.pos.__getitem__)
        inputs = (s for n in ordered for s in graph[n].inputs if ref_node(s) not in unit.members)
        unit.inputs = list(dict.fromkeys(inputs))
        values = (v for n in ordered for v in tree.values(n))
        unit.outputs = [v for v in values if v in outputs or any(c not in unit.members for c in readers.get(v, ()))]
        unit.outputs = [unit.node_id] if unit.node_id else unit.outputs  # a layer gives its value, used or not
        _classify(unit, consumers, readers)
    for unit in tree.root.walk():
        if unit is tree.root or (unit.kind == CLASS and unit.callable):
            unit.steps = scope_steps(tree, unit)


def _classify(unit: Unit, consumers: dict[NodeId, list[NodeId]], readers: dict[NodeId, list[NodeId]]) -> None:
    if unit.kind == LAYER:
        unit.callable = True
        return
    unit.chain = _is_chain(unit, readers)
    if unit.kind == CLASS:
        unit.callable = bool(unit.inputs and unit.outputs) and _convex(unit.members, consumers)
    elif unit.kind == MLIST and unit.chain:
        unit.kind, unit.callable = SEQ, True


def _is_chain(unit: Unit, readers: dict[NodeId, list[NodeId]]) -> bool:
    """The children run one after the other, each on the previous one's only output, and nothing else happens."""
    if unit.extras or not unit.children or len(unit.inputs) != 1 or len(unit.outputs) != 1:
        return False
    value = unit.inputs[0]
    for child in unit.children:
        if not child.callable or child.inputs != [value] or len(child.outputs) != 1:
            return False
        if value not in unit.inputs and any(c not in child.members for c in readers.get(value, ())):
            return False
        value = child.outputs[0]
    return unit.outputs == [value]


def _convex(members: set[NodeId], consumers: dict[NodeId, list[NodeId]]) -> bool:
    """No path leaves the group and comes back into it."""
    stack = [c for m in members for c in consumers[m] if c not in members]
    seen: set[NodeId] = set()
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        for c in consumers[node_id]:
            if c in members:
                return False
            stack.append(c)
    return True


def scope_steps(tree: Tree, scope: Unit) -> list[Step]:
    """The steps of a scope's forward, in an order that computes each value before its use (the design's order
    where it can)."""
    units: dict[str, Unit] = {}  # by path, filled on the first repeated call: a scan per call was quadratic
    steps = [_step(tree, scope, item, units) for item in _items(scope)]
    made = {n: i for i, s in enumerate(steps) for n in s.members}
    needs = [{made[ref_node(n)] for n in s.inputs if ref_node(n) in made} for s in steps]
    first = [min(tree.pos[n] for n in s.members) for s in steps]
    users: list[list[int]] = [[] for _ in steps]
    for i, deps in enumerate(needs):
        for d in deps:
            users[d].append(i)
    waiting = [len(deps) for deps in needs]
    ready = [(first[i], i) for i, n in enumerate(waiting) if n == 0]
    heapq.heapify(ready)
    order: list[Step] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(steps[i])
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, (first[u], u))
    return order


def _items(unit: Unit) -> Iterator[Unit | NodeId]:
    for child in unit.children:
        if child.callable:
            yield child
        else:
            yield from _items(child)
    yield from unit.extras


def _step(tree: Tree, scope: Unit, item: Unit | NodeId, units: dict[str, Unit]) -> Step:
    if isinstance(item, Unit):
        return Step(scope.relative(item.path), item, None, list(item.inputs), list(item.outputs))
    inputs = tree.inputs[item]
    target = tree.aliases.get(item)
    if target is None:
        return Step("", None, item, inputs, tree.values(item))
    if not units:
        units.update((u.path, u) for u in scope.walk())
    return Step(scope.relative(target), units[target], item, inputs, [item])
