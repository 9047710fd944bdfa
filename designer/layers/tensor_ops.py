"""Tensor operations without weights: permuting dimensions, slicing and averaging over dimensions. They compile to
tensor methods (``x.permute``, ``x[:, a:b]``, ``x.mean``), as torchvision's ConvNeXt, ShuffleNet and Inception
write them, not to submodules."""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING

from ..model.params import MAX_SIZE, Kind, Param, required
from .graph_ops import GraphOp
from .registry import Ctx, Shape, feature_dim, fmt_shape, register

if TYPE_CHECKING:
    from torch import fx


def _dims(ctx: Ctx, name: str) -> tuple[int, ...]:
    """``ctx.p[name]`` as indices into the full shape (batch = 0); refuse one out of range."""
    rank = len(ctx.x0) + 1
    out = []
    for d in ctx.p[name]:
        if not -rank <= d < rank:
            raise ctx.fail(
                "param.dim",
                f"{ctx.who}: dim {d} is out of range for a {rank}-D tensor (batch included, "
                f"shape [N, {', '.join(map(str, ctx.x0))}])",
                f"use dimensions in [1, {rank - 1}] (1 is channels), or negative ones from the end",
            )
        out.append(d % rank)
    return tuple(out)


@register
class Permute(GraphOp):
    name = "Permute"
    category = "Reshape"
    doc = "Reorders the dimensions, batch first: [0, 2, 3, 1] makes a map channels-last (ConvNeXt)"
    params = (Param("dims", Kind.DIMS, required(), low=-8, high=8, doc="new order of all dimensions, batch (0) first"),)

    def order(self, ctx: Ctx) -> tuple[int, ...]:
        dims, rank = _dims(ctx, "dims"), len(ctx.x0) + 1
        if sorted(dims) != list(range(rank)):
            raise ctx.fail(
                "param.dims",
                f"{ctx.who}: dims {list(ctx.p['dims'])} is not an order of the {rank} dimensions of its "
                f"input [N, {', '.join(map(str, ctx.x0))}]",
                f"list each of 0..{rank - 1} once, e.g. {[0, *range(2, rank), 1]}",
            )
        if dims[0] != 0:
            raise ctx.fail(
                "param.dim_batch",
                f"{ctx.who}: dims {list(ctx.p['dims'])} moves the batch dimension away from the front",
                "keep 0 first and reorder the others",
            )
        return dims

    def shape(self, ctx: Ctx) -> Shape:
        full = (0, *ctx.x0)
        return tuple(full[d] for d in self.order(ctx)[1:])

    def emit(self, ctx: Ctx, graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        return graph.call_method("permute", (args[0], *ctx.p["dims"]))

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        order = ", ".join(map(str, self.order(ctx)))
        return [
            f"output = {fmt_shape(out)} (the input {fmt_shape(ctx.x0)}, dimensions in the order {order}); params = 0"
        ]


@register
class Slice(GraphOp):
    name = "Slice"
    category = "Reshape"
    doc = "Keeps the part start:end:step of one dimension (default channels), as x[:, start:end]"
    params = (
        Param("dim", Kind.INT, 1, low=-8, high=8, doc="dimension to slice (1 is channels)"),
        Param("start", Kind.INT, 0, low=-MAX_SIZE, doc="first index kept (negative: from the end)"),
        Param("end", Kind.OPT_INT, None, low=-MAX_SIZE, doc="index to stop before (null: to the end)"),
        Param("step", Kind.INT, 1, doc="keep every step-th index"),
    )

    def bounds(self, ctx: Ctx) -> tuple[int, range]:
        """The sliced axis (batch excluded) and the indices kept."""
        axis = feature_dim(ctx, "slice")
        p = ctx.p
        kept = range(ctx.x0[axis])[p["start"] : p["end"] : p["step"]]
        if not kept:
            raise ctx.fail(
                "shape.empty_slice",
                f"{ctx.who}: [{p['start']}:{'' if p['end'] is None else p['end']}:{p['step']}] keeps nothing "
                f"of the {ctx.x0[axis]} indices of dimension {p['dim']} of its input from '{ctx.src[0]}'",
                f"choose start and end within 0..{ctx.x0[axis]}, start before end",
            )
        return axis, kept

    def shape(self, ctx: Ctx) -> Shape:
        axis, kept = self.bounds(ctx)
        return (*ctx.x0[:axis], len(kept), *ctx.x0[axis + 1 :])

    def emit(self, ctx: Ctx, graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        axis, _ = self.bounds(ctx)
        p = ctx.p
        index = (
            *[slice(None)] * (axis + 1),
            slice(p["start"] or None, p["end"], None if p["step"] == 1 else p["step"]),
        )
        return graph.call_function(operator.getitem, (args[0], index))

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        axis, kept = self.bounds(ctx)
        start, stop, step = kept.start, kept.stop, kept.step
        size = f"ceil(({stop} - {start}) / {step})" if step != 1 else f"{stop} - {start}"
        return [f"size along dim {ctx.p['dim']} = {size} = {len(kept)}; output = {fmt_shape(out)}; params = 0"]


@register
class Mean(GraphOp):
    name = "Mean"
    category = "Pooling"
    doc = "Averages over the given dimensions: dim=[2, 3] is global average pooling"
    params = (
        Param("dim", Kind.DIMS, required(), low=-8, high=8, doc="dimensions to average over (2, 3: height, width)"),
        Param("keepdim", Kind.BOOL, False, doc="keep each averaged dimension with size 1"),
    )

    def reduced(self, ctx: Ctx) -> tuple[int, ...]:
        """The averaged dimensions as indices into the batchless shape."""
        dims = _dims(ctx, "dim")
        if len(set(dims)) < len(dims):
            raise ctx.fail(
                "param.dims",
                f"{ctx.who}: dim {list(ctx.p['dim'])} names a dimension twice",
                "list each dimension once",
            )
        if 0 in dims:
            raise ctx.fail(
                "param.dim_batch", f"{ctx.who}: dim 0 would average across the batch, mixing samples", "remove 0"
            )
        return tuple(d - 1 for d in dims)

    def shape(self, ctx: Ctx) -> Shape:
        dims = self.reduced(ctx)
        if ctx.p["keepdim"]:
            return tuple(1 if i in dims else n for i, n in enumerate(ctx.x0))
        return tuple(n for i, n in enumerate(ctx.x0) if i not in dims)

    def emit(self, ctx: Ctx, graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        return graph.call_method("mean", (args[0], tuple(ctx.p["dim"])), {"keepdim": ctx.p["keepdim"]})

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        dims = self.reduced(ctx)
        count = "*".join(str(ctx.x0[d]) for d in dims)
        return [
            f"values averaged per output = {count} = {math.prod(ctx.x0[d] for d in dims)}",
            f"output = {fmt_shape(out)}; params = 0",
        ]
