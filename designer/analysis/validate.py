"""Shape inference and validation: walk the graph in order, apply each layer's rule, collect diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..layers.registry import Ctx, LayerSpec, Shape, fmt_shape, get_spec, prod
from ..model import diagnostics as dg
from ..model.diagnostics import DesignError, Diagnostic
from ..model.graph import Graph, Node, NodeId
from .advice import advise
from .budgets import budget_warnings
from .collector import collector_paused
from .heads import check_head
from .ids import MODULE_ATTRS, RESERVED_NAMES, check_ids, valid_segment
from .structure import check_graph, check_structure, topological_order

__all__ = ["MODULE_ATTRS", "RESERVED_NAMES", "Analysis", "NodeInfo", "analyze", "valid_segment", "validate"]


@dataclass
class NodeInfo:
    """What analysis learned about one node. ``shape`` is None when it could not be inferred."""

    node: Node
    spec: LayerSpec | None
    ctx: Ctx | None = None
    shape: Shape | None = None
    weights: dict[str, Shape] = field(default_factory=dict)
    #: Learnable parameter count: the sum of the weights' sizes, counted once when the weights are inferred.
    params: int = 0
    #: Receptive field size and stride (jump) per spatial axis, for nodes with a spatial output.
    receptive_field: tuple[int, int] | None = None
    rf_stride: tuple[float, float] | None = None

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

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def shape(self, node_id: str) -> Shape | None:
        info = self.info.get(NodeId(node_id))
        return info.shape if info else None

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


def _analyze(graph: Graph) -> Analysis:
    out: list[Diagnostic] = []
    info = {node.id: NodeInfo(node, get_spec(node.type)) for node in graph}
    users = graph.consumers()
    check_ids(graph, out)
    check_structure(graph, info, out)
    order = topological_order(graph, out)
    for node_id in order:
        _infer_node(info[node_id], info, out)
    check_graph(graph, info, out, users)
    out.extend(budget_warnings(info.values()))
    out.extend(advise(graph, info, out, users))
    out.extend(check_head(graph, info))
    if not out:
        return Analysis(graph, order, info, out)
    rank = {nid: i for i, nid in enumerate(graph.ids())}
    out.sort(key=lambda d: (not d.is_error, rank.get(NodeId(d.node_id), -1) if d.node_id else -1))
    return Analysis(graph, order, info, out)


# -- per node -------------------------------------------------------------------------------------------------------


def _infer_node(ni: NodeInfo, info: dict[NodeId, NodeInfo], out: list[Diagnostic]) -> None:
    node, spec = ni.node, ni.spec
    if spec is None:
        return
    values, problems = spec.resolve(node.params)
    for exc in problems:
        out.append(_diag(node, exc))
    low, high = spec.arity
    if problems or len(node.inputs) < low or (high is not None and len(node.inputs) > high):
        return
    srcs = [info[s] for s in node.inputs if s in info]
    shapes = tuple(s.shape for s in srcs if s.shape is not None)
    if len(shapes) != len(node.inputs):
        return  # the upstream problem is reported where it is
    ctx = Ctx(node.id, node.type, values, shapes, tuple(node.inputs))
    try:
        _check_rank(spec, ctx)
        ctx = _fill_inferred(spec, ctx)
        shape = spec.shape(ctx)
        ni.weights = spec.weights(ctx)
        ni.params = sum(prod(s) for s in ni.weights.values())
    except DesignError as exc:
        out.append(_diag(node, exc))
        return
    ni.ctx, ni.shape = ctx, shape
    _receptive_field(ni, srcs)


def _diag(node: Node, exc: DesignError) -> Diagnostic:
    message = exc.message if "'" + node.id + "'" in exc.message else f"{node.type} '{node.id}': {exc.message}"
    return dg.error(exc.code, message, node.id, exc.hint, exc.port)


def _check_rank(spec: LayerSpec, ctx: Ctx) -> None:
    if spec.ranks is None or len(ctx.x0) in spec.ranks:
        return
    got = fmt_shape(ctx.x0)
    if len(ctx.x0) < 3 and 3 in spec.ranks:
        raise ctx.fail(
            "shape.needs_map",
            f"{ctx.who} needs a [C, H, W] feature map, but '{ctx.src[0]}' gives {got}",
            f"move '{ctx.node_id}' before the Flatten, or Reshape to [C, H, W] first",
        )
    want = " or ".join({1: "[F]", 2: "[C, L]", 3: "[C, H, W]"}.get(r, f"{r}-D") for r in spec.ranks)
    raise ctx.fail(
        "shape.rank",
        f"{ctx.who} needs a {want} input, but '{ctx.src[0]}' gives {got}",
        f"use a layer made for {got} inputs, or reshape first",
    )


def _fill_inferred(spec: LayerSpec, ctx: Ctx) -> Ctx:
    inferred = spec.inferred(ctx)
    if not inferred:
        return ctx
    for name, value in inferred.items():
        given = ctx.p.get(name)
        if given is not None and given != value:
            shown = list(given) if isinstance(given, tuple) else given
            want = list(value) if isinstance(value, tuple) else value
            raise DesignError(
                "param.inferred_mismatch",
                f"{ctx.who} expects {name}={shown}; '{ctx.src[0]}' gives {want} (input shape {fmt_shape(ctx.x0)})",
                f"remove {name} (it is inferred) or set it to {want}",
            )
    ctx.p.update(inferred)  # the node's own resolved values, made for this context alone
    return ctx


def _receptive_field(ni: NodeInfo, srcs: list[NodeInfo]) -> None:
    """Propagate receptive-field size and jump: rf_out = rf_in + (k_eff - 1) * jump_in, jump_out = jump_in * s."""
    assert ni.spec is not None and ni.ctx is not None and ni.shape is not None
    if len(ni.shape) != 3:
        return
    fields = [(s.receptive_field, s.rf_stride) for s in srcs if s.receptive_field is not None and s.rf_stride]
    if ni.node.type == "Input" or not fields:
        ni.receptive_field, ni.rf_stride = (1, 1), (1.0, 1.0)
        return
    # a merge sees as far as its widest input
    rh, rw = max(f[0] for f, _ in fields), max(f[1] for f, _ in fields)
    jh, jw = max(j[0] for _, j in fields), max(j[1] for _, j in fields)
    window = ni.spec.window(ni.ctx)
    if window is not None:
        (kh, kw), (sh, sw) = window
        rh, rw = round(rh + (kh - 1) * jh), round(rw + (kw - 1) * jw)
        jh, jw = jh * sh, jw * sw
    ni.receptive_field, ni.rf_stride = (rh, rw), (jh, jw)
