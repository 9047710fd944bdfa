"""What the design-advice rules read (``Design``: the graph, the per-node analysis, who reads each node), the layer
families they talk about, and ``per_node``, which keeps a one-node rule's advice while the node's results stand."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..model.diagnostics import Diagnostic
from ..model.graph import Graph, NodeId

if TYPE_CHECKING:
    from .validate import NodeInfo


WEIGHTED = frozenset({"Conv2d", "ConvTranspose2d", "Linear"})
#: Layers that are linear maps themselves (BatchNorm at inference, pooling by averaging, resampling, reshaping):
#: a weighted layer seen through them is still one linear map away.
LINEAR_PASS = frozenset(
    {
        "Identity",
        "Dropout",
        "Dropout2d",
        "Flatten",
        "Reshape",
        "BatchNorm1d",
        "BatchNorm2d",
        "ZeroPad2d",
        "AvgPool2d",
        "AdaptiveAvgPool2d",
        "Upsample",
    }
)
BATCH_NORMS = frozenset({"BatchNorm1d", "BatchNorm2d"})
WINDOWED = frozenset({"Conv2d", "MaxPool2d", "AvgPool2d"})
POOLS = frozenset({"MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d"})


#: Per-node advice kept between analyses: (rule, node id) -> (the NodeInfo it was found on, the advice or None).
AdviceMemo = dict[tuple[str, NodeId], tuple["NodeInfo", Diagnostic | None]]


@dataclass
class Design:
    """What the rules read: the graph, the per-node analysis and who reads each node."""

    graph: Graph
    info: Mapping[NodeId, NodeInfo]
    users: dict[NodeId, list[NodeId]]
    #: Per-node advice by (rule, node id), with the ``NodeInfo`` it was found on (see ``per_node``).
    memo: AdviceMemo = field(default_factory=dict)
    _ready: list[NodeInfo] = field(init=False)
    _outputs: set[NodeId] | None = field(init=False, default=None)
    _by_type: dict[str, list[NodeInfo]] = field(init=False)

    def __post_init__(self) -> None:
        # listed once for all the rules, and by type: most rules look at a few layer types of a large design
        get = self.info.get
        self._ready = [
            ni
            for node in self.graph
            if (ni := get(node.id)) is not None and ni.ctx is not None and ni.shape is not None
        ]
        self._by_type = {}
        for ni in self._ready:
            self._by_type.setdefault(ni.node.type, []).append(ni)

    def ready(self) -> list[NodeInfo]:
        """The nodes whose shape and parameters were inferred, in file order."""
        return self._ready

    def of_type(self, types: Collection[str]) -> list[NodeInfo]:
        """The ready nodes of the given layer types, in file order."""
        lists = [self._by_type[t] for t in types if t in self._by_type]
        if len(lists) <= 1:
            return lists[0] if lists else []
        rank = {id(ni): i for i, ni in enumerate(self._ready)}
        return sorted((ni for part in lists for ni in part), key=lambda ni: rank[id(ni)])

    def outputs(self) -> set[NodeId]:
        """The design's outputs (computed once)."""
        if self._outputs is None:
            self._outputs = set(self.graph.output_ids())
        return self._outputs

    def source(self, ni: NodeInfo) -> NodeInfo | None:
        """What ``ni`` reads first. None for a later part of a Split (``"s:1"``): the Split's info describes part 0."""
        src = ni.node.inputs[0] if ni.node.inputs else None
        return self.info.get(src) if src is not None else None

    def readers(self, ni: NodeInfo) -> list[NodeInfo]:
        return [self.info[u] for u in self.users.get(ni.node.id, []) if u in self.info]


def downstream(design: Design, start: NodeInfo, through: Callable[[NodeInfo], bool] = bool) -> Iterator[NodeInfo]:
    """The nodes that read ``start``, directly or not, following only those ``through`` accepts."""
    seen: set[NodeId] = set()
    todo = list(design.users.get(start.node.id, []))
    while todo:
        nid = todo.pop(0)
        ni = design.info.get(nid)
        if nid in seen or ni is None or not through(ni):
            continue
        seen.add(nid)
        yield ni
        todo.extend(design.users.get(nid, []))


def map_in(ni: NodeInfo) -> tuple[int, ...] | None:
    """The [C, H, W] map a node reads first, if it reads one."""
    x = ni.ctx.x[0] if ni.ctx is not None and ni.ctx.x else None
    return x if x is not None and len(x) == 3 else None


def num(value: Any) -> str:
    return f"{value:g}"


def per_node(
    types: Collection[str], at: Callable[[Design, NodeInfo], Diagnostic | None]
) -> Callable[[Design], Iterator[Diagnostic]]:
    """A rule whose advice on a node reads only that node's results and the wiring around it, so a node whose
    results were not redone since the last analysis (the same ``NodeInfo``) gets the advice it got then."""

    def rule(design: Design) -> Iterator[Diagnostic]:
        memo = design.memo
        for ni in design.of_type(types):
            key = (at.__name__, ni.node.id)
            kept = memo.get(key)
            if kept is not None and kept[0] is ni:
                found = kept[1]
            else:
                found = at(design, ni)
                memo[key] = (ni, found)
            if found is not None:
                yield found

    rule.__name__ = at.__name__
    return rule
