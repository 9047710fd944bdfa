"""What each canvas item shows, computed from the graph and its analysis (no Qt items here, only data)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet

from designer.analysis.validate import Analysis
from designer.editing.node_text import fmt_count, fmt_outputs, fmt_shape, key_params
from designer.model.diagnostics import Diagnostic
from designer.model.graph import Graph, Node, NodeId, ref_node

from .. import theme
from .node_item import ERROR, OK, WARNING, NodeContent

#: Node diagnostics that are about what flows in, so the incoming edge is drawn red too.
_INPUT_CODES = ("shape.", "param.inferred_mismatch", "graph.cycle")


def diagnostics_by_node(analysis: Analysis) -> dict[str, list[Diagnostic]]:
    """The diagnostics of each node id."""
    out: dict[str, list[Diagnostic]] = {}
    for d in analysis.diagnostics:
        if d.node_id is not None:
            out.setdefault(d.node_id, []).append(d)
    return out


def node_content(
    node: Node, analysis: Analysis | None, diags: list[Diagnostic], outputs: AbstractSet[str]
) -> NodeContent:
    """What the box of ``node`` shows (``outputs``: the ids of the nodes the design outputs, or a part of)."""
    info = analysis.info.get(node.id) if analysis is not None else None
    state = ERROR if any(d.is_error for d in diags) else WARNING if diags else OK
    shape = (
        "→ " + fmt_outputs(info.ports or (info.shape,))
        if info is not None and info.shape is not None
        else ("✗ " + _first_line(diags) if state == ERROR else "→ ?")
    )
    return NodeContent(
        title=node.label or node.id,
        type_name=node.type,
        params=key_params(node, info),
        shape=shape,
        state=state,
        tooltip=_node_tooltip(node, info.spec.doc if info and info.spec else "", shape, diags),
        frozen=node.frozen,
        is_output=node.id in outputs,
    )


def _first_line(diags: list[Diagnostic]) -> str:
    first = next(d for d in diags if d.is_error)
    return first.code.split(".")[-1].replace("_", " ")


def _node_tooltip(node: Node, doc: str, shape: str, diags: list[Diagnostic]) -> str:
    lines = [f"<b>{html.escape(node.id)}</b> &nbsp;<i>{html.escape(node.type)}</i>"]
    if doc:
        lines.append(html.escape(doc))
    lines.append(f"output {html.escape(shape.lstrip('→ '))}")
    lines += [_diag_html(d) for d in diags]
    return "<br>".join(lines)


def _diag_html(d: Diagnostic) -> str:
    color = theme.ERROR_HEX if d.is_error else theme.WARNING_TEXT_HEX
    hint = f"<br><i>hint: {html.escape(d.hint)}</i>" if d.hint else ""
    return f"<span style='color:{color}'><b>{d.severity.value}:</b> {html.escape(d.message)}</span>{hint}"


def edge_state(
    graph: Graph, analysis: Analysis | None, src: str, dst: str, index: int, diags: list[Diagnostic]
) -> tuple[str, bool, str]:
    """(label, is_error, tooltip) of input ``index`` of ``dst``, fed by ``src``."""
    shape = analysis.shape(src) if analysis is not None and ref_node(src) in graph else None
    label = fmt_shape(shape) if shape is not None else ""
    n_inputs = len(graph[dst].inputs) if dst in graph else 1
    bad = [
        d
        for d in diags
        if d.is_error and (d.port == index or (d.port is None and n_inputs >= 1 and d.code.startswith(_INPUT_CODES)))
    ]
    if ref_node(src) not in graph:
        tip = f"'{html.escape(src)}' does not exist"
        return "", True, tip
    tip = f"{html.escape(src)} → {html.escape(dst)}" + (f": {label}" if label else "")
    tip = "<br>".join([tip] + [_diag_html(d) for d in bad])
    return label, bool(bad), tip


def group_members(graph: Graph, prefix: str) -> list[str]:
    """The ids inside the dotted group ``prefix``."""
    return members_by_group(graph, [prefix])[prefix]


def members_by_group(graph: Graph, prefixes: Iterable[str]) -> dict[str, list[str]]:
    """The ids inside each dotted group of ``prefixes``, in file order: one walk over the graph for all of them."""
    out: dict[str, list[str]] = {p: [] for p in prefixes}
    for nid in graph.ids():
        for prefix in ancestors(nid):
            members = out.get(prefix)
            if members is not None:
                members.append(nid)
    return out


def group_contents(
    graph: Graph,
    groups: Mapping[str, Sequence[str]],
    analysis: Analysis | None,
    by_node: dict[str, list[Diagnostic]],
) -> dict[str, NodeContent]:
    """What the box of each group (prefix: member ids) shows; the graph is walked once for all of them (a walk per
    group made each edit of a big design pay groups x nodes)."""
    boundaries = _boundaries(graph, groups)
    shape_of = (lambda n: fmt_shape(analysis.shape(n))) if analysis is not None else (lambda n: "?")
    out = {}
    for prefix, members in groups.items():
        ins, outs = boundaries[prefix]
        in_text = " + ".join(dict.fromkeys(shape_of(s) for s in ins)) or "–"
        out_text = " + ".join(dict.fromkeys(shape_of(s) for s in outs)) or "–"
        params = (
            sum(analysis.info[NodeId(n)].params for n in members if n in analysis.info) if analysis is not None else 0
        )
        diags = [d for n in members for d in by_node.get(n, [])]
        state = ERROR if any(d.is_error for d in diags) else WARNING if diags else OK
        tooltip = "<br>".join(
            [
                f"<b>group {html.escape(prefix)}</b> ({len(members)} nodes), double-click to expand",
                f"in {in_text}, out {out_text}, {params:,} parameters",
            ]
            + [_diag_html(d) for d in diags]
        )
        out[prefix] = NodeContent(
            title=prefix,
            type_name=f"{len(members)} layers",
            params=f"{fmt_count(params)} params",
            shape=f"{in_text} → {out_text}",
            state=state,
            tooltip=tooltip,
        )
    return out


def groups_touched(changed: Iterable[str], users: Mapping[NodeId, Sequence[str]]) -> set[str]:
    """The groups whose box may show something of the ``changed`` nodes: those holding one, or one of its readers
    (a group's box shows the shapes that flow into it)."""
    out: set[str] = set()

    def add(node_id: str) -> None:
        end = node_id.rfind(".")
        while end != -1 and node_id[:end] not in out:  # a group already in has its own groups in too
            out.add(node_id[:end])
            end = node_id.rfind(".", 0, end)

    for nid in changed:
        add(nid)
        for user in users.get(NodeId(nid), ()):
            add(user)
    return out


def ancestors(node_id: str) -> Iterator[str]:
    """The dotted groups ``node_id`` is in, outermost first (``a.b.c``: ``a``, ``a.b``)."""
    end = node_id.find(".")
    while end != -1:
        yield node_id[:end]
        end = node_id.find(".", end + 1)


def _boundaries(graph: Graph, groups: Mapping[str, Sequence[str]]) -> dict[str, tuple[list[str], list[str]]]:
    """For each group: the sources outside feeding it, and its members read from outside (or declared outputs)."""
    owners: dict[str, list[str]] = {}
    for prefix, members in groups.items():
        for m in members:
            owners.setdefault(m, []).append(prefix)
    ins: dict[str, list[str]] = {p: [] for p in groups}
    outs: dict[str, list[str]] = {p: [] for p in groups}
    none: list[str] = []
    for node in graph:
        mine = owners.get(node.id, none)
        for src in node.inputs:
            theirs = owners.get(ref_node(src), none)
            if mine == theirs:
                continue  # the same groups (or none), so not a boundary
            for prefix in mine:
                if prefix not in theirs:
                    ins[prefix].append(src)
            for prefix in theirs:
                if prefix not in mine:
                    outs[prefix].append(src)
    for ref in graph.output_ids():
        for prefix in owners.get(ref_node(ref), none):
            outs[prefix].append(ref)
    return {p: (list(dict.fromkeys(ins[p])), list(dict.fromkeys(outs[p]))) for p in groups}
