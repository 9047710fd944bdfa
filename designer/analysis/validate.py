"""Shape inference and validation: walk the graph in order, apply each layer's rule, collect diagnostics."""

from __future__ import annotations

import heapq
import keyword
import re
from dataclasses import dataclass, field

from ..layers.registry import Ctx, LayerSpec, Shape, fmt_int, fmt_shape, get_spec, prod
from ..model import diagnostics as dg
from ..model.diagnostics import DesignError, Diagnostic
from ..model.graph import Graph, Node, NodeId

#: Attribute names of ``nn.Module`` and ``fx.GraphModule``: a node id segment with one of these names would shadow
#: the method when the id becomes a submodule name. A test checks this list against torch.
MODULE_ATTRS = frozenset(
    """
T_destination add_module add_submodule apply bfloat16 buffers call_super_init children code compile cpu cuda
delete_all_unused_submodules delete_submodule double dump_patches eval extra_repr float forward get_buffer
get_extra_state get_parameter get_submodule graph half ipu load_state_dict modules mtia named_buffers named_children
meta named_modules named_parameters parameters print_readable recompile register_backward_hook register_buffer
register_forward_hook register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module register_parameter
register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory
shape_env state_dict to to_empty to_folder train training type xpu zero_grad
""".split()
)

#: Names the generated code needs for itself: a node called ``self`` shadows the module in the compiled forward
#: ("'Tensor' object has no attribute ..."); the validator accepted it and compiling failed.
RESERVED_NAMES = frozenset({"self"})

_SEGMENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*|[0-9]+")

#: A Linear fed by Flatten with more input features than this is worth a warning: the map was not reduced.
FLATTEN_WARN_FEATURES = 32_768


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
    out: list[Diagnostic] = []
    info = {node.id: NodeInfo(node, get_spec(node.type)) for node in graph}
    _check_ids(graph, out)
    _check_structure(graph, info, out)
    order = _topological_order(graph, out)
    for node_id in order:
        _infer_node(info[node_id], info, out)
    _check_graph(graph, info, out)
    rank = {nid: i for i, nid in enumerate(graph.ids())}
    out.sort(key=lambda d: (not d.is_error, rank.get(NodeId(d.node_id), -1) if d.node_id else -1))
    return Analysis(graph, order, info, out)


# -- structure ------------------------------------------------------------------------------------------------------


def _check_ids(graph: Graph, out: list[Diagnostic]) -> None:
    ids = set(graph.ids())
    for node_id in graph.ids():
        bad = [s for s in node_id.split(".") if not valid_segment(s)]
        if bad:
            seg = bad[0]
            why = (
                "is a reserved name"
                if seg in MODULE_ATTRS or seg in RESERVED_NAMES or keyword.iskeyword(seg)
                else "must be a name (letters, digits, _) or a number"
            )
            fixed = ".".join(re.sub(r"\W", "_", s).lstrip("_") or "n" for s in node_id.split("."))
            out.append(
                dg.error(
                    "graph.bad_id",
                    f"node id '{node_id}': part '{seg}' {why}",
                    node_id,
                    f"rename it, e.g. to '{fixed}_'"
                    if fixed in ids or seg in MODULE_ATTRS or seg in RESERVED_NAMES
                    else f"rename it, e.g. to '{fixed}'",
                )
            )
        parent = node_id.rsplit(".", 1)[0] if "." in node_id else None
        while parent:
            if parent in ids:
                out.append(
                    dg.error(
                        "graph.id_conflict",
                        f"node id '{parent}' is also the group of '{node_id}'",
                        parent,
                        f"rename '{parent}' (e.g. '{parent}_out') so a group and a node do not share a name",
                    )
                )
            parent = parent.rsplit(".", 1)[0] if "." in parent else None


def valid_segment(seg: str) -> bool:
    """Whether ``seg`` can be one dotted part of a node id: an identifier that no ``nn.Module`` attribute shadows."""
    return (
        bool(_SEGMENT.fullmatch(seg))
        and seg not in MODULE_ATTRS
        and seg not in RESERVED_NAMES
        and not keyword.iskeyword(seg)
    )


def _check_structure(graph: Graph, info: dict[NodeId, NodeInfo], out: list[Diagnostic]) -> None:
    from ..layers.registry import list_types

    for node in graph:
        spec = info[node.id].spec
        if spec is None:
            import difflib

            close = difflib.get_close_matches(node.type, list_types(), n=1)
            out.append(
                dg.error(
                    "node.unknown_type",
                    f"node '{node.id}' has unknown type '{node.type}'",
                    node.id,
                    f"did you mean '{close[0]}'?" if close else "use one of the palette's layer types",
                )
            )
            continue
        for port, src in enumerate(node.inputs):
            if src not in graph:
                out.append(
                    dg.error(
                        "graph.unknown_input",
                        f"{node.type} '{node.id}' reads from '{src}', which does not exist",
                        node.id,
                        "connect an existing node or remove this input",
                        port,
                    )
                )
            elif src == node.id:
                out.append(
                    dg.error(
                        "graph.cycle",
                        f"{node.type} '{node.id}' reads its own output",
                        node.id,
                        "remove the self-connection",
                        port,
                    )
                )
        low, high = spec.arity
        n = len(node.inputs)
        if n < low:
            want = f"{low} or more" if high is None else str(low)
            out.append(
                dg.error(
                    "graph.missing_input",
                    f"{node.type} '{node.id}' needs {want} input(s), has {n}",
                    node.id,
                    "connect the output of the previous layer to it",
                )
            )
        elif high is not None and n > high:
            what = "no inputs" if high == 0 else f"{high} input" + ("s" if high > 1 else "")
            hint = (
                "remove the extra connections; to merge branches use Add or Concat"
                if high
                else "an Input takes no connections; remove them"
            )
            out.append(dg.error("graph.extra_input", f"{node.type} '{node.id}' takes {what}, has {n}", node.id, hint))
    if graph.outputs is not None:
        for oid in graph.outputs:
            if oid not in graph:
                out.append(
                    dg.error(
                        "graph.unknown_output",
                        f"output '{oid}' is not a node of the design",
                        None,
                        "remove it from outputs or add the node",
                    )
                )


def _topological_order(graph: Graph, out: list[Diagnostic]) -> list[NodeId]:
    """Kahn's algorithm, always taking the ready node that comes first in the file; cycles are reported."""
    ids = graph.ids()
    index = {nid: i for i, nid in enumerate(ids)}
    deps = {n.id: {s for s in n.inputs if s in index and s != n.id} for n in graph}
    users: dict[NodeId, list[NodeId]] = {nid: [] for nid in ids}
    for nid, srcs in deps.items():
        for s in srcs:
            users[s].append(nid)
    waiting = {nid: len(srcs) for nid, srcs in deps.items()}
    ready = [index[nid] for nid in ids if waiting[nid] == 0]
    heapq.heapify(ready)
    order: list[NodeId] = []
    while ready:
        nid = ids[heapq.heappop(ready)]
        order.append(nid)
        for user in users[nid]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, index[user])
    if len(order) < len(ids):
        stuck = [nid for nid in ids if waiting[nid] > 0]
        cycle = _find_cycle(stuck, deps)[::-1]  # found by following inputs; show it in dataflow direction
        path = " -> ".join(cycle + cycle[:1])
        for nid in stuck:
            on = nid in cycle
            out.append(
                dg.error(
                    "graph.cycle",
                    f"'{nid}' is on a cycle: {path}" if on else f"'{nid}' depends on a cycle ({path})",
                    nid,
                    "remove one connection of the cycle; feedback loops cannot be built"
                    if on
                    else "break the cycle upstream",
                )
            )
    return order


def _find_cycle(stuck: list[NodeId], deps: dict[NodeId, set[NodeId]]) -> list[NodeId]:
    stuck_set = set(stuck)
    path: list[NodeId] = []
    seen: dict[NodeId, int] = {}
    nid = stuck[0]
    while nid not in seen:
        seen[nid] = len(path)
        path.append(nid)
        nid = next(s for s in sorted(deps[nid]) if s in stuck_set)
    return path[seen[nid] :]


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
    if spec.name == "Linear" and len(ctx.x0) == 3:
        raise ctx.fail(
            "shape.needs_flatten",
            f"{ctx.who} gets a {'x'.join(map(str, ctx.x0))} feature map from "
            f"'{ctx.src[0]}', but Linear needs a flat vector",
            f"insert Flatten (or AdaptiveAvgPool2d(1) then Flatten) before '{ctx.node_id}'",
        )
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
    return Ctx(ctx.node_id, ctx.type, {**ctx.p, **inferred}, ctx.x, ctx.src)


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


# -- whole graph ----------------------------------------------------------------------------------------------------


def _check_graph(graph: Graph, info: dict[NodeId, NodeInfo], out: list[Diagnostic]) -> None:
    if len(graph) == 0:
        out.append(dg.warning("graph.empty", "the design has no nodes", None, "add an Input from the palette"))
        return
    if not graph.input_ids():
        out.append(
            dg.error(
                "graph.no_input",
                "the design has no Input node",
                None,
                "add an Input with the sample shape, e.g. [3, 224, 224]",
            )
        )
    users = graph.consumers()
    outputs = set(graph.output_ids())
    for node in graph:
        used = bool(users[node.id])
        if (
            not used
            and not node.inputs
            and node.type != "Input"
            or (node.type == "Input" and not used and node.id not in outputs)
        ):
            out.append(
                dg.warning(
                    "graph.dangling",
                    f"{node.type} '{node.id}' is not connected to anything",
                    node.id,
                    "connect it or delete it",
                )
            )
        elif not used and node.id not in outputs:
            out.append(
                dg.warning(
                    "graph.unused_output",
                    f"{node.type} '{node.id}' is computed but nothing uses it and it is not an output",
                    node.id,
                    "connect it, add it to outputs, or delete it",
                )
            )
        _lint_node(node, info, users, out)


def _lint_node(
    node: Node, info: dict[NodeId, NodeInfo], users: dict[NodeId, list[NodeId]], out: list[Diagnostic]
) -> None:
    ni = info[node.id]
    if ni.ctx is None:
        return
    if node.type == "Linear" and node.inputs and info[node.inputs[0]].node.type == "Flatten":
        features = ni.ctx.p["in_features"]
        if features > FLATTEN_WARN_FEATURES:
            flat = info[node.inputs[0]]
            src_shape = flat.ctx.x0 if flat.ctx else ()
            cheaper = src_shape[0] * ni.ctx.p["out_features"] + ni.ctx.p["out_features"] if src_shape else 0
            out.append(
                dg.warning(
                    "cost.large_linear",
                    f"Linear '{node.id}' takes {fmt_int(features)} flattened features from "
                    f"'{flat.node.id}' and costs {fmt_int(ni.params)} parameters",
                    node.id,
                    f"reduce the map first: AdaptiveAvgPool2d(1) before the Flatten would make it "
                    f"{fmt_int(cheaper)} parameters"
                    if cheaper
                    else "reduce the map before the Flatten",
                )
            )
    if ni.ctx.p.get("inplace") and node.inputs:
        src = node.inputs[0]
        others = [u for u in users.get(src, []) if u != node.id]
        if others:
            out.append(
                dg.warning(
                    "graph.inplace_shared",
                    f"{node.type} '{node.id}' works in place on '{src}', which "
                    f"'{others[0]}' also reads: it would see the modified values",
                    node.id,
                    "set inplace=false",
                )
            )
