"""Fully connected layers and flattening."""

from __future__ import annotations

from typing import Any

from ..model.params import Kind, Param, required
from .registry import Ctx, LayerSpec, Shape, fmt_int, fmt_shape, prod, register


@register
class Linear(LayerSpec):
    name = "Linear"
    category = "Linear"
    doc = (
        "Fully connected layer: every output is a weighted sum of every input feature; on a larger sample it acts "
        "on the last dimension at each position, as torch does (a channels-last map in ConvNeXt)"
    )
    min_rank = 1
    params = (
        Param("in_features", Kind.INT, inferred=True, doc="input features (taken from the incoming shape)"),
        Param("out_features", Kind.INT, required(), doc="output features (classes for the last layer)"),
        Param("bias", Kind.BOOL, True, doc="learn an additive bias per output"),
    )

    def inferred(self, ctx: Ctx) -> dict[str, Any]:
        # torch's nn.Linear acts on the last dimension of any input. A [C, H, W] map is taken that way only when
        # in_features says so: a Linear placed right after a convolution almost always lacks a Flatten instead.
        last = ctx.x0[-1]
        if len(ctx.x0) >= 3 and ctx.p["in_features"] != last:
            raise ctx.fail(
                "shape.needs_flatten",
                f"{ctx.who} gets a {'x'.join(map(str, ctx.x0))} feature map from '{ctx.src[0]}', but Linear needs "
                "a flat vector",
                f"insert Flatten (or AdaptiveAvgPool2d(1) then Flatten) before '{ctx.node_id}'; or, to apply it to "
                f"the last dimension at each position (a channels-last map), set in_features={last}",
            )
        return {"in_features": last}

    def shape(self, ctx: Ctx) -> Shape:
        return (*ctx.x0[:-1], ctx.p["out_features"])

    def weights(self, ctx: Ctx) -> dict[str, Shape]:
        w = (ctx.p["out_features"], ctx.p["in_features"])
        return {"weight": w, "bias": (ctx.p["out_features"],)} if ctx.p["bias"] else {"weight": w}

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        f_in, f_out = ctx.p["in_features"], ctx.p["out_features"]
        if ctx.p["bias"]:
            count = f"params = in*out + out = {f_in}*{f_out} + {f_out} = {fmt_int(f_in * f_out + f_out)}"
        else:
            count = f"params = in*out = {f_in}*{f_out} = {fmt_int(f_in * f_out)}"
        lines = [f"output = [..., out_features] = {fmt_shape(out)}", count]
        if len(ctx.x0) > 1:
            positions = prod(ctx.x0[:-1])
            lines.append(
                f"the same weights act on the last dimension at each of {'*'.join(map(str, ctx.x0[:-1]))} = "
                f"{fmt_int(positions)} positions (mult-adds counted once per sample, as torchinfo counts them)"
            )
        return lines


@register
class Flatten(LayerSpec):
    name = "Flatten"
    category = "Reshape"
    doc = "Flattens dimensions start_dim..end_dim into one (by default everything but the batch)"
    params = (
        Param("start_dim", Kind.INT, 1, low=-8, high=8, doc="first dimension to flatten (0 is the batch)"),
        Param("end_dim", Kind.INT, -1, low=-8, high=8, doc="last dimension to flatten"),
    )

    def dims(self, ctx: Ctx) -> tuple[int, int]:
        rank = len(ctx.x0) + 1
        start, end = ctx.p["start_dim"], ctx.p["end_dim"]
        for name, d in (("start_dim", start), ("end_dim", end)):
            if not -rank <= d < rank:
                raise ctx.fail(
                    "param.dim",
                    f"{ctx.who}: {name}={d} is out of range for a {rank}-D tensor (batch included)",
                    f"set {name} to a value in [1, {rank - 1}] or -1",
                )
        start, end = start % rank, end % rank
        if start > end:
            raise ctx.fail(
                "param.dim",
                f"{ctx.who}: start_dim ({start}) comes after end_dim ({end})",
                "set start_dim=1, end_dim=-1 to flatten everything but the batch",
            )
        if start == 0:
            raise ctx.fail(
                "shape.flatten_batch",
                f"{ctx.who}: start_dim=0 would merge the batch into the features",
                "set start_dim=1",
            )
        return start, end

    def shape(self, ctx: Ctx) -> Shape:
        start, end = self.dims(ctx)
        full = (0, *ctx.x0)
        return (*full[1:start], prod(full[start : end + 1]), *full[end + 1 :])

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        start, end = self.dims(ctx)
        dims = ctx.x0[start - 1 : end]
        return [f"features = {'*'.join(map(str, dims))} = {fmt_int(prod(dims))}; output = {fmt_shape(out)}; params = 0"]
