"""Comparing two designs: nodes added, removed and changed, parameter by parameter, with the parameter and mult-add
deltas per node and in total. Nodes are matched by id. A node whose own entry did not change but whose counts or
output shape did (a wider layer upstream) is listed as ``affected``. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..analysis.validate import Analysis, analyze
from ..layers.registry import get_spec
from ..model.graph import Graph, Node, NodeId

#: Node fields besides ``params`` compared one by one; a difference is listed like a parameter's.
FIELDS = ("type", "inputs", "frozen", "lr_mult")


@dataclass(frozen=True)
class Change:
    """One value that differs: a parameter, a node field or a training setting (None: absent on that side)."""

    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class NodeDiff:
    """One node that differs: ``kind`` is ``added``, ``removed``, ``changed`` or ``affected``."""

    node_id: str
    kind: str
    type: str
    changes: tuple[Change, ...]
    params: tuple[int, int]
    mult_adds: tuple[int, int]
    shape: tuple[tuple[int, ...] | None, tuple[int, ...] | None]

    @property
    def params_delta(self) -> int:
        return self.params[1] - self.params[0]

    @property
    def mult_adds_delta(self) -> int:
        return self.mult_adds[1] - self.mult_adds[0]


@dataclass(frozen=True)
class DesignDiff:
    """Everything that differs between design ``a`` and design ``b``."""

    nodes: tuple[NodeDiff, ...]
    training: tuple[Change, ...]
    params: tuple[int, int]
    mult_adds: tuple[int, int]

    @property
    def same(self) -> bool:
        """True when the designs define the same network with the same settings."""
        return not self.nodes and not self.training

    def ids(self, side: str) -> set[str]:
        """The ids of the nodes to highlight on side ``a`` or ``b`` (what exists there and differs)."""
        absent = "added" if side == "a" else "removed"
        return {n.node_id for n in self.nodes if n.kind != absent}


def diff(a: Graph, b: Graph) -> DesignDiff:
    """What changed from ``a`` to ``b``."""
    an_a, an_b = analyze(a), analyze(b)
    out: list[NodeDiff] = []
    for node in b:
        if node.id not in a:
            out.append(_node_diff(node.id, "added", node.type, (), an_a, an_b))
    for node in a:
        if node.id not in b:
            out.append(_node_diff(node.id, "removed", node.type, (), an_a, an_b))
            continue
        changes = _node_changes(node, b[node.id])
        nd = _node_diff(node.id, "changed" if changes else "affected", b[node.id].type, changes, an_a, an_b)
        if changes or nd.params[0] != nd.params[1] or nd.mult_adds[0] != nd.mult_adds[1] or nd.shape[0] != nd.shape[1]:
            out.append(nd)
    # b's order, with the removed nodes where a had them among the rest
    order: dict[str, int] = {str(nid): k for k, nid in enumerate(dict.fromkeys([*b.ids(), *a.ids()]))}
    out.sort(key=lambda d: order.get(d.node_id, 0))
    training = _dict_changes(a.extra.get("training") or {}, b.extra.get("training") or {})
    totals = (an_a.total_params, an_b.total_params), (an_a.total_mult_adds, an_b.total_mult_adds)
    return DesignDiff(tuple(out), training, *totals)


def _node_diff(
    node_id: str, kind: str, type_: str, changes: tuple[Change, ...], an_a: Analysis, an_b: Analysis
) -> NodeDiff:
    ia, ib = an_a.info.get(NodeId(node_id)), an_b.info.get(NodeId(node_id))
    return NodeDiff(
        node_id,
        kind,
        type_,
        changes,
        (ia.params if ia else 0, ib.params if ib else 0),
        (ia.mult_adds if ia else 0, ib.mult_adds if ib else 0),
        (ia.shape if ia else None, ib.shape if ib else None),
    )


def _node_changes(a: Node, b: Node) -> tuple[Change, ...]:
    changes = [Change(f, getattr(a, f), getattr(b, f)) for f in FIELDS if getattr(a, f) != getattr(b, f)]
    return tuple(changes) + _dict_changes(_resolved(a), _resolved(b))


def _resolved(node: Node) -> dict[str, Any]:
    """The node's parameters with the defaults filled in: ``stride: 1`` written out equals ``stride`` left out."""
    spec = get_spec(node.type)
    values = {}
    if spec is not None:
        values = {p.name: p.default for p in spec.params if not p.required and not p.inferred}
    values.update(node.params)
    return values


def _dict_changes(a: dict[str, Any], b: dict[str, Any]) -> tuple[Change, ...]:
    keys = list(dict.fromkeys([*a, *b]))
    return tuple(Change(k, a.get(k), b.get(k)) for k in keys if _plain(a.get(k)) != _plain(b.get(k)))


def _plain(value: Any) -> Any:
    """Tuples as lists and ``[3, 3]`` as ``3``, so that equal values written two ways compare equal."""
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return items[0] if len(items) == 2 and items[0] == items[1] and isinstance(items[0], int) else items
    return value


def format_diff(d: DesignDiff, name_a: str = "a", name_b: str = "b") -> str:
    """The diff as text: one line per node (``+`` added, ``-`` removed, ``~`` changed, ``=`` affected), then totals."""
    marks = {"added": "+", "removed": "-", "changed": "~", "affected": "="}
    lines = [f"--- {name_a}", f"+++ {name_b}"]
    for n in d.nodes:
        what = "; ".join(_change_text(c) for c in n.changes)
        if n.kind == "affected":
            what = "unchanged, but its input is" + (
                f": shape {_shape(n.shape[0])} -> {_shape(n.shape[1])}" if n.shape[0] != n.shape[1] else ""
            )
        cost = f"params {_delta(n.params)}, mult-adds {_delta(n.mult_adds)}"
        lines.append(f"{marks[n.kind]} {n.node_id} ({n.type}){': ' + what if what else ''}; {cost}")
    for c in d.training:
        lines.append(f"~ training {_change_text(c)}")
    if d.same:
        lines.append("the designs are the same")
    lines.append(f"total: params {_delta(d.params)}, mult-adds {_delta(d.mult_adds)}")
    return "\n".join(lines)


def _change_text(c: Change) -> str:
    return f"{c.name} {_value(c.old)} -> {_value(c.new)}"


def _value(v: Any) -> str:
    return "(none)" if v is None else str(v)


def _shape(shape: tuple[int, ...] | None) -> str:
    return "?" if shape is None else "[" + ", ".join(map(str, shape)) + "]"


def _delta(pair: tuple[int, int]) -> str:
    old, new = pair
    return f"{old:,} -> {new:,} ({new - old:+,})" if old != new else f"{new:,} (=)"


def to_json(d: DesignDiff) -> dict[str, Any]:
    """The diff as JSON-ready data."""
    return {
        "nodes": [
            {
                "id": n.node_id,
                "kind": n.kind,
                "type": n.type,
                "changes": [{"name": c.name, "old": c.old, "new": c.new} for c in n.changes],
                "params": list(n.params),
                "params_delta": n.params_delta,
                "mult_adds": list(n.mult_adds),
                "mult_adds_delta": n.mult_adds_delta,
            }
            for n in d.nodes
        ],
        "training": [{"name": c.name, "old": c.old, "new": c.new} for c in d.training],
        "params": list(d.params),
        "mult_adds": list(d.mult_adds),
    }
