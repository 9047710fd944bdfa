"""Local response normalisation written as arithmetic, as torch's exporters (TorchScript and dynamo) write
``F.local_response_norm``: ``x / (k + alpha * avg_pool3d(x*x over size channels)) ** beta``, with reshapes, a pad
and (TorchScript) an ``If`` on the rank in between. The whole region from ``x * x`` to the division is one
LocalResponseNorm."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .onnx_context import OpContext, nonzero, short_float

if TYPE_CHECKING:
    import onnx

#: Operators the region may hold: the arithmetic, the reshapes around the pooling, and the shape computations.
_REGION_OPS = frozenset(
    {"Reshape", "Pad", "AveragePool", "Squeeze", "Unsqueeze", "If", "Mul", "Add", "Pow", "Shape", "Gather", "Equal"}
    | {"Concat", "Cast", "Slice", "Identity", "ConstantOfShape", "Constant", "Expand"}
)
_SHAPE_OPS = frozenset(
    {"Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Slice", "Equal", "Constant", "Reshape"}
)
#: More nodes than torch ever writes for one LRN: not this pattern.
_MAX_NODES = 80


def lrn_arithmetic(ctx: OpContext) -> bool:
    """Emit one LocalResponseNorm when this ``Mul(x, x)`` starts the pattern ending in ``Div(x, ...)``."""
    x = ctx.node.input[0]
    if list(ctx.node.input) != [x, x] or not ctx.has_type("LocalResponseNorm"):
        return False
    div = next((u for u in ctx.builder.consumers.get(x, []) if u.op_type == "Div" and u.input[0] == x), None)
    region = _region(ctx, div) if div is not None else None
    params = _params(ctx, region) if region is not None else None
    if div is None or region is None or params is None:
        return False
    ctx.emit("LocalResponseNorm", params, inputs=ctx.data()[:1], output=div.output[0])
    ctx.builder.absorbed.update(id(n) for n in [*region, div])
    return True


def _region(ctx: OpContext, div: onnx.NodeProto) -> list[onnx.NodeProto] | None:
    """The nodes from the square to the division's divisor, with the shape computations only they read; None when
    a node of another kind is on the way or a value leaves the region."""
    consumers = ctx.builder.consumers
    region: dict[int, onnx.NodeProto] = {id(ctx.node): ctx.node}
    todo = list(ctx.node.output)
    while todo:
        for user in consumers.get(todo.pop(), []):
            if user is div or id(user) in region:
                continue
            if user.op_type not in _REGION_OPS or len(region) > _MAX_NODES:
                return None
            region[id(user)] = user
            todo += list(user.output)
    producers = {out: n for n in ctx.builder.graph.node for out in n.output}
    # the dynamo exporter computes the batch size once for the whole graph: a shape value known already stays out
    known = ctx.builder.shape_values
    side = [i for n in region.values() for i in n.input if i in producers and i != ctx.node.input[0] and i not in known]
    while side:
        node = producers[side.pop()]
        if id(node) not in region:
            if node.op_type not in _SHAPE_OPS or len(region) > _MAX_NODES:
                return None
            region[id(node)] = node
            side += [i for i in node.input if i in producers and i != ctx.node.input[0] and i not in known]
    inside = {out for n in region.values() for out in n.output}
    graph_outputs = {o.name for o in ctx.builder.graph.output}
    for out in inside:
        if out in graph_outputs or any(id(u) not in region and u is not div for u in consumers.get(out, [])):
            return None
    return list(region.values()) if div.input[1] in inside else None


def _params(ctx: OpContext, region: list[onnx.NodeProto]) -> dict[str, float | int] | None:
    """size from the pooling's window over channels, alpha, k and beta from the scalar constants."""
    pools = [n for n in region if n.op_type == "AveragePool"]
    kernel = [a.ints for a in pools[0].attribute if a.name == "kernel_shape"] if len(pools) == 1 else []
    if not kernel or len(kernel[0]) != 3 or list(kernel[0][1:]) != [1, 1]:
        return None
    scalars = {}
    for op in ("Mul", "Add", "Pow"):
        values = [_scalar(ctx, n) for n in region if n.op_type == op and n is not ctx.node]
        found = [v for v in values if v is not None]
        if len(found) != 1:
            return None
        scalars[op] = found[0]
    params = {"size": int(kernel[0][0]), "alpha": scalars["Mul"], "beta": scalars["Pow"], "k": scalars["Add"]}
    return nonzero(params, alpha=1e-4, beta=0.75, k=1.0)


def _scalar(ctx: OpContext, node: onnx.NodeProto) -> float | None:
    value = ctx.const_of(node, 1)
    return short_float(float(value)) if value is not None and np.size(value) == 1 else None
