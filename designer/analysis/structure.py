"""The design's wiring: unknown types and inputs, arity, cycles and evaluation order, and whole-graph lints."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..layers.registry import fmt_int
from ..model import diagnostics as dg
from ..model.diagnostics import Diagnostic
from ..model.graph import PORT_SEP, Graph, NodeId, port_ref, ref_node, split_ref

if TYPE_CHECKING:
    from .validate import NodeInfo

#: Layers whose backward reads their own output: an in-place layer right after one breaks training (found by the
#: contract fuzz of issue 13; torch raises "modified by an inplace operation" at the first backward).
SAVES_OUTPUT = frozenset({"ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax"})

#: A Linear fed by Flatten with more input features than this is worth a warning: the map was not reduced.
FLATTEN_WARN_FEATURES = 32_768


def check_structure(graph: Graph, info: dict[NodeId, NodeInfo], out: list[Diagnostic]) -> None:
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
        for port, ref in enumerate(node.inputs):
            src = ref_node(ref)
            if src not in info:
                out.append(
                    dg.error(
                        "graph.unknown_input",
                        f"{node.type} '{node.id}' reads from '{ref}', which does not exist",
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
            if ref_node(oid) not in graph:
                out.append(
                    dg.error(
                        "graph.unknown_output",
                        f"output '{oid}' is not a node of the design",
                        None,
                        "remove it from outputs or add the node",
                    )
                )


def topological_order(graph: Graph, out: list[Diagnostic]) -> list[NodeId]:
    """Kahn's algorithm, always taking the ready node that comes first in the file; cycles are reported."""
    ids = graph.ids()
    index = {nid: i for i, nid in enumerate(ids)}
    get = index.get
    if all(get(s if PORT_SEP not in s else ref_node(s), -1) <= i for i, node in enumerate(graph) for s in node.inputs):
        return ids  # every input comes earlier in the file (or is reported elsewhere): Kahn's order is file order
    deps = {n.id: {s for s in n.sources if s in index and s != n.id} for n in graph}
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


# -- whole graph ----------------------------------------------------------------------------------------------------


def check_wiring(graph: Graph, users: dict[NodeId, list[NodeId]]) -> list[Diagnostic]:
    """Whole-graph wiring: no node, no input or output, unconnected nodes and unused outputs (``users`` is
    ``graph.consumers()``). They depend on the ids, types and inputs alone, not on any parameter."""
    if len(graph) == 0:
        return [dg.warning("graph.empty", "the design has no nodes", None, "add an Input from the palette")]
    out: list[Diagnostic] = []
    if not graph.input_ids():
        out.append(
            dg.error(
                "graph.no_input",
                "the design has no Input node",
                None,
                "add an Input with the sample shape, e.g. [3, 224, 224]",
            )
        )
    outputs = {ref_node(o) for o in graph.output_ids()}
    if not outputs:
        out.append(_no_output(graph))
    for node in graph:
        if users[node.id]:
            continue
        if node.type == "Input" and node.id not in outputs or node.type != "Input" and not node.inputs:
            out.append(
                dg.warning(
                    "graph.dangling",
                    f"{node.type} '{node.id}' is not connected to anything",
                    node.id,
                    "connect it or delete it",
                )
            )
        elif node.type != "Input" and node.id not in outputs:
            out.append(
                dg.warning(
                    "graph.unused_output",
                    f"{node.type} '{node.id}' is computed but nothing uses it and it is not an output",
                    node.id,
                    "connect it, add it to outputs, or delete it",
                )
            )
    return out


def _no_output(graph: Graph) -> Diagnostic:
    """A model must return something: an empty ``outputs`` list, or a design of Inputs alone, would export and train a
    model whose forward returns an empty tuple."""
    if graph.outputs is not None:
        return dg.error(
            "graph.no_output",
            "'outputs' is an empty list: the model would return nothing",
            None,
            "list the node(s) the model returns, or remove 'outputs' to return every node nothing reads",
        )
    return dg.error(
        "graph.no_output",
        "the design computes nothing: it has only Input nodes",
        None,
        "add a layer after the Input",
    )


def lint_node(ni: NodeInfo, info: Mapping[NodeId, NodeInfo], users: dict[NodeId, list[NodeId]]) -> Sequence[Diagnostic]:
    """A Linear on a huge flattened map, and in-place hazards: what depends on the node's and its first input's
    analysis (an in-place layer whose input another node reads is built out of place: its context says so)."""
    node = ni.node
    if ni.ctx is None or node.type != "Linear" and not ni.ctx.p.get("inplace"):
        return ()
    out: list[Diagnostic] = []
    if node.type == "Linear" and node.inputs and info[ref_node(node.inputs[0])].node.type == "Flatten":
        features = ni.ctx.p["in_features"]
        if features > FLATTEN_WARN_FEATURES:
            flat = info[ref_node(node.inputs[0])]
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
        src = ref_node(node.inputs[0])
        others = [u for u in users.get(src, []) if u != node.id]
        if info[src].ports:
            # torch.split and chunk return views that autograd forbids changing in place ("a view ... of a
            # function that returns multiple views"): built out of place, the model trains
            ni.ctx.p["inplace"] = False
            out.append(
                dg.warning(
                    "graph.inplace_view",
                    f"{node.type} '{node.id}' is set to work in place on a part of {info[src].node.type} '{src}', a "
                    "view of its input that torch does not let change in place: it is built with inplace=false",
                    node.id,
                    "set inplace=false",
                )
            )
        elif info[src].node.type in SAVES_OUTPUT:
            out.append(
                dg.error(
                    "graph.inplace_saved",
                    f"{node.type} '{node.id}' works in place on the output of {info[src].node.type} '{src}', which "
                    "training needs unchanged to compute gradients (autograd would stop the first step)",
                    node.id,
                    "set inplace=false",
                )
            )
        elif others:
            # In place, the layer would change what the other reader sees (the design says it reads the value
            # before this layer) and could overwrite a value that reader's backward needs, so training failed
            # (issue 13). Built out of place, the model computes what the design says and trains; the copy costs
            # what the flag was meant to save, which the warning says.
            ni.ctx.p["inplace"] = False
            out.append(
                dg.warning(
                    "graph.inplace_shared",
                    f"{node.type} '{node.id}' is set to work in place on '{src}', which '{others[0]}' also reads: "
                    f"it is built with inplace=false, so that '{others[0]}' sees the values the design gives it",
                    node.id,
                    "set inplace=false (in place saves nothing here)",
                )
            )
    return out


def check_ports(graph: Graph, info: Mapping[NodeId, NodeInfo], users: dict[NodeId, list[NodeId]]) -> list[Diagnostic]:
    """The outputs of multi-output nodes (a Split): a declared output that names a part its node does not have, and
    parts that nothing reads. They depend on the wiring and on the parts each node has, so they run on the results
    of every analysis."""
    out: list[Diagnostic] = []
    declared: dict[NodeId, set[int]] = {}
    for ref in graph.output_ids():
        node_id, port = split_ref(ref)
        declared.setdefault(node_id, set()).add(port)
        ni = info.get(node_id)
        if port and ni is not None and ni.shape is not None and port >= len(ni.ports):
            count = max(1, len(ni.ports))
            out.append(
                dg.error(
                    "graph.unknown_output",
                    f"output '{ref}' names output {port} of {ni.node.type} '{node_id}', which has "
                    + (f"{count} outputs" if count > 1 else "one"),
                    node_id,
                    f"declare one of {', '.join(port_ref(node_id, k) for k in range(count))}",
                )
            )
    for ni in info.values():
        if not ni.ports:
            continue
        node_id = ni.node.id
        read = set(declared.get(node_id, ()))
        for user in users.get(node_id, ()):
            read.update(split_ref(r)[1] for r in info[user].node.inputs if ref_node(r) == node_id)
        unused = [port_ref(node_id, k) for k in range(len(ni.ports)) if k not in read]
        if read and unused:
            out.append(
                dg.warning(
                    "graph.unused_part",
                    f"{ni.node.type} '{node_id}' makes {len(ni.ports)} parts, but nothing reads "
                    + ", ".join(f"'{r}'" for r in unused),
                    node_id,
                    "connect each part, declare it an output, or cut fewer parts (a Slice keeps one part)",
                )
            )
    return out
