"""Re-analysing after parameter edits: only the nodes an edit reaches are inferred again (issue 15, point 8).

A node's result depends on the node and its inputs' shapes and receptive fields (``infer.infer_node``), so an edit
redoes the edited nodes, then each reader of a node whose result changed, in evaluation order, and stops where
results stop changing: nothing upstream of an edit can change. What depends on the wiring alone (ids, arity, cycles,
dangling nodes) is kept; the whole-design passes (memory, advice, the head) run again on the results, which costs a
small part of inferring every node, and the advice that reads one node is kept for the nodes not redone. The result
equals ``analyze`` of the graph, diagnostics and their order included (a property test holds it to that).
"""

from __future__ import annotations

import heapq
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from ..model.diagnostics import Diagnostic
from ..model.graph import NODE_FIELDS, Graph, NodeId
from .collector import collector_paused
from .infer import infer_node, same_result
from .structure import lint_node
from .validate import Analysis, NodeInfo, Passes, analyze, finish


def reanalyze(previous: Analysis, edited: Iterable[str]) -> Analysis:
    """The analysis of ``previous.graph`` after edits of the parameters or node fields of ``edited`` alone.

    No node may have been added, removed, renamed or rewired since ``previous``, and neither the outputs nor any
    ``extra`` field may have changed: the caller (the document, which hears every graph event) makes sure of it,
    and analyses afresh otherwise.
    """
    passes = previous.passes
    if passes is None:
        return analyze(previous.graph)
    with collector_paused():
        return _reanalyze(previous, passes, {NodeId(n) for n in edited})


def _reanalyze(previous: Analysis, passes: Passes, edited: set[NodeId]) -> Analysis:
    info = dict(previous.info)
    position = passes.position
    if position is None:
        position = passes.position = {nid: i for i, nid in enumerate(previous.order)}
    inferred, lint = dict(passes.inferred), dict(passes.lint)
    todo = [(position[n], n) for n in edited if n in position]  # a node on a cycle is never inferred
    heapq.heapify(todo)
    redone: list[NodeId] = []
    while todo:
        _, nid = heapq.heappop(todo)
        if redone and redone[-1] == nid:
            continue  # queued by two of its inputs
        old = info[nid]
        ni = info[nid] = NodeInfo(old.node, old.spec)
        found = infer_node(ni, info)
        if found:
            inferred[nid] = found
        else:
            inferred.pop(nid, None)
        redone.append(nid)
        if not same_result(ni, old):
            # readers read its shape and receptive field, and their lints its context: they are redone
            for user in passes.users.get(nid, ()):
                if user in position:
                    heapq.heappush(todo, (position[user], user))
    for nid in redone:
        linted = lint_node(info[nid], info, passes.users)
        if linted:
            lint[nid] = list(linted)
        else:
            lint.pop(nid, None)
    passes = Passes(passes.users, passes.early, inferred, passes.wiring, lint, position, passes.advice)
    result = finish(previous.graph, previous.order, info, passes)
    changed = edited.union(redone, _moved(previous.diagnostics, result.diagnostics))
    result.delta = (weakref.ref(previous), frozenset(changed))
    return result


def _moved(before: list[Diagnostic], after: list[Diagnostic]) -> set[NodeId]:
    """The nodes whose diagnostics differ between two sorted lists (those of no node are the problems list's)."""
    if before == after:
        return set()
    old: dict[str | None, list[Diagnostic]] = {}
    new: dict[str | None, list[Diagnostic]] = {}
    for d in before:
        old.setdefault(d.node_id, []).append(d)
    for d in after:
        new.setdefault(d.node_id, []).append(d)
    return {NodeId(n) for n in old.keys() | new.keys() if n is not None and old.get(n) != new.get(n)}


class AnalysisFollower:
    """The analysis of a graph that changes: it hears every graph event, and after edits of parameters or node
    fields alone re-analyses from its last analysis; after any other (wiring, outputs, an extra field such as
    advice's silence or an object scale, which whole-graph passes read) it analyses afresh."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self._current: Analysis | None = None
        self._last: Analysis | None = None
        #: The nodes edited since ``_last``; None: an edit since then needs a fresh analysis.
        self._edited: set[str] | None = set()
        events = graph.events
        self._handlers: list[tuple[Any, Callable[..., None]]] = [
            (events.param_changed, self._on_param_changed),
            (events.field_changed, self._on_field_changed),
            (events.changed, self._on_changed),
        ]
        quiet = (events.param_changed, events.field_changed, events.changed, events.name_changed)
        self._handlers += [(signal, self._on_rewired) for signal in events.signals() if signal not in quiet]
        for signal, handler in self._handlers:
            signal.connect(handler)

    @property
    def analysis(self) -> Analysis:
        """The analysis of the graph now (computed if an edit made the last one stale)."""
        if self._current is None:
            last, edited = self._last, self._edited
            self._current = reanalyze(last, edited) if last is not None and edited is not None else analyze(self.graph)
            self._last, self._edited = self._current, set()
        return self._current

    def close(self) -> None:
        """Stop hearing the graph."""
        for signal, handler in self._handlers:
            signal.disconnect(handler)

    def _on_param_changed(self, node_id: str, name: str, old: Any, new: Any) -> None:
        if self._edited is not None:
            self._edited.add(node_id)

    def _on_field_changed(self, node_id: str, name: str, old: Any, new: Any) -> None:
        if name not in NODE_FIELDS:
            self._edited = None
        elif self._edited is not None:
            self._edited.add(node_id)

    def _on_rewired(self, *args: Any) -> None:
        self._edited = None

    def _on_changed(self) -> None:
        self._current = None
