"""A node's outputs, and declaring a design's outputs one at a time, as the window's Design Output entry does.
Pure Python (no Qt)."""

from __future__ import annotations

from designer.layers.registry import get_spec
from designer.model.graph import Graph, NodeId, canonical_ref


def toggled_outputs(graph: Graph, ref: str) -> list[NodeId] | None:
    """The outputs declaration after ``ref`` (a node, or ``"id:k"`` for its output ``k``) is made one of the design's
    outputs, or no longer one.

    The outputs are declared from then on, in order, the new one last; when what is left is what the design outputs
    by default (the nodes nobody consumes), or nothing, there is no declaration (None).
    """
    ref = canonical_ref(ref)
    current = graph.output_ids()
    new = [*current, ref] if ref not in current else [o for o in current if o != ref]
    return None if not new or new == graph.unconsumed_ids() else new


def output_count(graph: Graph, node_id: str) -> int:
    """How many outputs the node has: a Split's parts as its parameters say (checked or not), else 1."""
    node = graph[node_id]
    spec = get_spec(node.type)
    return spec.output_count(node.params) if spec is not None else 1
