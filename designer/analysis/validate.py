"""Shape inference and validation: walk the graph in order, apply each layer's rule, collect diagnostics."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..layers.registry import Ctx, LayerSpec, Shape, get_spec, prod
from ..model.diagnostics import Diagnostic
from ..model.graph import Graph, Node, NodeId, split_ref
from .advice import advise
from .advice_design import AdviceMemo
from .budgets import budget_warnings
from .collector import collector_paused
from .heads import check_head
from .ids import MODULE_ATTRS, RESERVED_NAMES, check_ids, valid_segment
from .infer import NO_WEIGHTS, infer_node
from .structure import check_ports, check_structure, check_wiring, lint_node, topological_order

__all__ = [
    "MODULE_ATTRS",
    "RESERVED_NAMES",
    "Analysis",
    "NodeInfo",
    "Passes",
    "analyze",
    "finish",
    "valid_segment",
    "validate",
]


@dataclass(slots=True)
class NodeInfo:
    """What analysis learned about one node. ``shape`` is None when it could not be inferred."""

    node: Node
    spec: LayerSpec | None
    ctx: Ctx | None = None
    shape: Shape | None = None
    weights: Mapping[str, Shape] = NO_WEIGHTS
    #: Learnable parameter count: the sum of the weights' sizes, counted once when the weights are inferred.
    params: int = 0
    #: Receptive field size and stride (jump) per spatial axis, for nodes with a spatial output.
    receptive_field: tuple[int, int] | None = None
    rf_stride: tuple[float, float] | None = None
    #: The shape of each output of a node with several (a Split), ``shape`` being the first; empty otherwise.
    ports: tuple[Shape, ...] = ()

    def output_shape(self, port: int) -> Shape | None:
        """The shape of output ``port`` (0: ``shape``); None when not inferred or the node has no such output."""
        if port == 0:
            return self.shape
        return self.ports[port] if port < len(self.ports) else None

    @property
    def trainable_params(self) -> int:
        return 0 if self.node.frozen else self.params

    @property
    def mult_adds(self) -> int:
        """Mult-adds for batch 1, counted as torchinfo counts them (convolutions: params times output positions)."""
        if self.shape is None or self.spec is None:
            return 0
        if "Conv" in self.spec.name:
            return self.params * prod(self.shape[1:])
        return self.params

    def explain(self) -> list[str]:
        if self.spec is None or self.ctx is None or self.shape is None:
            return []
        return self.spec.explain(self.ctx, self.shape)


@dataclass
class Analysis:
    """The result of analysing a graph: per-node information in evaluation order, and every diagnostic."""

    graph: Graph
    order: list[NodeId]
    info: dict[NodeId, NodeInfo]
    diagnostics: list[Diagnostic]
    #: The diagnostics by the pass that found them, for ``incremental.reanalyze``; None: not kept.
    passes: Passes | None = field(default=None, repr=False, compare=False)
    #: The analysis this one was derived from (held weakly) and the nodes whose info or diagnostics may differ.
    delta: tuple[weakref.ref[Analysis], frozenset[NodeId]] | None = field(default=None, repr=False, compare=False)

    def changed_since(self, other: Analysis | None) -> frozenset[NodeId] | None:
        """The nodes whose info or diagnostics may differ from ``other``'s; None: any of them may."""
        if other is self:
            return frozenset()
        if other is None or self.delta is None or self.delta[0]() is not other:
            return None
        return self.delta[1]

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def shape(self, ref: str) -> Shape | None:
        """The shape of a node's output, by its id or by a reference ``"id:k"`` to one of several outputs."""
        node_id, port = split_ref(ref)
        info = self.info.get(node_id)
        return info.output_shape(port) if info else None

    def for_node(self, node_id: str) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.node_id == node_id]

    @property
    def total_params(self) -> int:
        return sum(i.params for i in self.info.values())

    @property
    def trainable_params(self) -> int:
        return sum(i.trainable_params for i in self.info.values())

    @property
    def total_mult_adds(self) -> int:
        return sum(i.mult_adds for i in self.info.values())


def validate(graph: Graph) -> list[Diagnostic]:
    """Every problem in the design, errors first, in node order."""
    return analyze(graph).diagnostics


def analyze(graph: Graph) -> Analysis:
    """Infer every shape and count, and collect the diagnostics of the whole design."""
    with collector_paused():
        return _analyze(graph)


@dataclass
class Passes:
    """An analysis's diagnostics by the pass that found them, and what those passes read of the wiring.

    ``early`` (ids, types, arity, cycles) and ``wiring`` depend on the wiring alone; ``inferred`` and ``lint`` hold
    each node's own diagnostics, which depend on the node and its inputs' results. A parameter edit keeps the first
    two and redoes the others for the nodes it reaches (``incremental.reanalyze``).
    """

    users: dict[NodeId, list[NodeId]]
    early: list[Diagnostic]
    inferred: dict[NodeId, list[Diagnostic]]
    wiring: list[Diagnostic]
    lint: dict[NodeId, list[Diagnostic]]
    #: Each id's place in the evaluation order, made when first needed.
    position: dict[NodeId, int] | None = None
    #: The advice that reads one node, kept by node while its results are (``advice_design.per_node``).
    advice: AdviceMemo = field(default_factory=dict)


def _analyze(graph: Graph) -> Analysis:
    specs = {t: get_spec(t) for t in {node.type for node in graph}}
    info = {node.id: NodeInfo(node, specs[node.type]) for node in graph}
    users = graph.consumers()
    early: list[Diagnostic] = []
    check_ids(graph, early)
    check_structure(graph, info, early)
    order = topological_order(graph, early)
    inferred: dict[NodeId, list[Diagnostic]] = {}
    for node_id in order:
        found = infer_node(info[node_id], info)
        if found:
            inferred[node_id] = found
    lint: dict[NodeId, list[Diagnostic]] = {}
    for node_id, ni in info.items():
        if ni.ctx is not None and (linted := lint_node(ni, info, users)):
            lint[node_id] = list(linted)
    return finish(graph, order, info, Passes(users, early, inferred, check_wiring(graph, users), lint))


def finish(graph: Graph, order: list[NodeId], info: dict[NodeId, NodeInfo], passes: Passes) -> Analysis:
    """The analysis from its per-node passes: the whole-design passes (memory, advice, the head) run on the
    results, and every diagnostic is sorted, errors first, in file order (a stable sort: within one node and
    severity, in the order of the passes)."""
    out = list(passes.early)
    for found in passes.inferred.values():
        out += found
    out += passes.wiring
    for found in passes.lint.values():
        out += found
    out.extend(budget_warnings(info.values()))
    out.extend(check_ports(graph, info, passes.users))
    out.extend(advise(graph, info, out, passes.users, passes.advice))
    out.extend(check_head(graph, info))
    if out:
        rank = {nid: i for i, nid in enumerate(graph.ids())}
        out.sort(key=lambda d: (not d.is_error, rank.get(NodeId(d.node_id), -1) if d.node_id else -1))
    return Analysis(graph, order, info, out, passes)
