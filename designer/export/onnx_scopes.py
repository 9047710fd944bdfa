"""Give each graph operation of a design (Add, Concat, Permute, ...) a module scope for the ONNX exporter.

The dynamo exporter records the module path of each operator it writes (``pkg.torch.onnx.name_scopes``), which is how
an import names layers by their ids. A graph operation compiles to a bare ``call_function``, which has no module: the
file then names a residual ``add_15`` at the top level, and an import called it ``add``, ``add_1``, ... Exporting a
copy of the module in which each operation is called through a small module at its node's id records the id.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from torch import fx, nn

from ..analysis.validate import Analysis
from ..compiler import trace_nodes
from ..model.graph import port_ref

if TYPE_CHECKING:
    import onnx_ir


class ScopedOperation(nn.Module):
    """One graph operation of the design as a module: a function or a tensor method, called as the fx node did."""

    def __init__(self, op: str, target: Any) -> None:
        super().__init__()
        self.op, self.target = op, target

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.op == "call_method":
            return getattr(args[0], self.target)(*args[1:], **kwargs)
        return self.target(*args, **kwargs)


def scoped_module(module: nn.Module, analysis: Analysis) -> nn.Module:
    """``module``'s layers (shared, not copied) and dataflow, with each graph operation a ``ScopedOperation``
    submodule at its node's id. An operation whose id starts with an attribute of every GraphModule stays a bare
    call, named by the exporter (the id rules forbid all of today's; a later torch may add one)."""
    graph, env = trace_nodes(analysis)
    modules: dict[str, nn.Module] = {}
    done: set[fx.Node] = set()
    for node_id in analysis.order:
        info = analysis.info[node_id]
        if info.spec is None or info.node.type == "Input":
            continue
        if info.spec.is_module:
            modules[node_id] = module.get_submodule(node_id)
            continue
        op = env[node_id] if not info.ports else env[port_ref(node_id, 0)].args[0]  # a Split: the call, not a part
        if (
            not isinstance(op, fx.Node)
            or op.op not in ("call_function", "call_method")
            or op in done
            or _attribute_of_root(node_id)
        ):
            continue  # emits no call of its own (returns its input), or its call is scoped already
        done.add(op)
        modules[node_id] = ScopedOperation(op.op, op.target)
        with graph.inserting_after(op):
            scoped = graph.call_module(node_id, op.args, op.kwargs)
        op.replace_all_uses_with(scoped)
        graph.erase_node(op)
    graph.lint()
    return fx.GraphModule(modules, graph)


def _attribute_of_root(node_id: str) -> bool:
    """Whether the first part of ``node_id`` names an attribute every GraphModule has (``meta``, ``training``)."""
    return hasattr(_empty_graph_module(), node_id.split(".")[0])


@functools.cache
def _empty_graph_module() -> fx.GraphModule:
    return fx.GraphModule(nn.Module(), fx.Graph())


@contextmanager
def split_scopes_kept(model: onnx_ir.Model) -> Iterator[None]:
    """Keep a Split's scope through constant folding, which rewrites the exporter's ``SplitToSequence`` and its
    ``SequenceAt`` reads into one ``Split`` without the metadata that names the node's id.

    A folded Split is known by where its parts are read: by the same nodes, or as the same graph outputs, as the
    ``SequenceAt`` values were (its input may be another folded Split's part, a new value). Matching from the last
    node back lets a Split read only by Splits be known by the ``SplitToSequence`` nodes they replaced.
    """
    graph = model.graph
    found: list[tuple[int, set[tuple[int, int]], dict[str, str]]] = []
    for node in graph.all_nodes():
        if node.op_type == "SplitToSequence":
            parts = [user.outputs[0] for user, _ in node.outputs[0].uses() if user.op_type == "SequenceAt"]
            found.append((id(node), _reads(graph, parts), dict(node.metadata_props)))
    yield
    was: dict[int, int] = {}  # a folded Split -> the SplitToSequence it replaced
    for node in reversed(list(graph.all_nodes())):
        if node.op_type != "Split" or node.metadata_props:
            continue
        reads = {(was.get(user, user), index) for user, index in _reads(graph, list(node.outputs))}
        matches = [(old, props) for old, r, props in found if r & reads]
        if len(matches) == 1:
            was[id(node)] = matches[0][0]
            node.metadata_props.update(matches[0][1])


def _reads(graph: onnx_ir.Graph, values: list[onnx_ir.Value]) -> set[tuple[int, int]]:
    """Where ``values`` are read: (id of the reading node, input index), and (-1, position) for a graph output."""
    outputs = list(graph.outputs)
    found = {(id(user), index) for value in values for user, index in value.uses()}
    return found | {(-1, k) for k, out in enumerate(outputs) if any(out is v for v in values)}
