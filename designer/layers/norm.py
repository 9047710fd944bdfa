"""Normalisation layers: batch, layer (also over channels), group and local response normalisation; layer scale."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..model.params import Kind, Param, required
from .registry import Ctx, LayerSpec, Shape, fmt_int, fmt_shape, prod, register

if TYPE_CHECKING:
    from torch import nn

_EPS = Param(
    "eps", Kind.FLOAT, 1e-5, low=1e-12, doc="added to the variance for numerical stability (torch needs it above 0)"
)
_AFFINE = Param("affine", Kind.BOOL, True, doc="learn a scale and a shift per channel")


class _PerChannel(LayerSpec):
    """Normalisation with one learned scale and shift per channel (``weight`` and ``bias`` of size C)."""

    category = "Normalization"
    channel_param = "num_features"
    affine_param = "affine"
    min_rank = 1

    def inferred(self, ctx: Ctx) -> dict[str, Any]:
        return {self.channel_param: ctx.x0[0]}

    def weights(self, ctx: Ctx) -> dict[str, Shape]:
        c = ctx.p[self.channel_param]
        return {"weight": (c,), "bias": (c,)} if ctx.p[self.affine_param] else {}

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        c = ctx.p[self.channel_param]
        n = 2 * c if ctx.p[self.affine_param] else 0
        return [
            f"output = input = {fmt_shape(out)}",
            f"params = 2*C (scale and shift per channel) = 2*{c} = {fmt_int(n)}" if n else "params = 0",
        ]


class _BatchNorm(_PerChannel):
    params = (
        Param("num_features", Kind.INT, inferred=True, doc="channels (taken from the incoming shape)"),
        _EPS,
        Param("momentum", Kind.FLOAT, 0.1, low=0, high=1, doc="weight of the newest batch in the running stats"),
        _AFFINE,
        Param("track_running_stats", Kind.BOOL, True, doc="keep running mean and variance for evaluation"),
    )


@register
class BatchNorm2d(_BatchNorm):
    name = "BatchNorm2d"
    doc = "Batch normalisation over each channel of a feature map"
    ranks = (3,)


@register
class BatchNorm1d(_BatchNorm):
    name = "BatchNorm1d"
    doc = "Batch normalisation of a feature vector ([F]) or a sequence ([C, L])"
    ranks = (1, 2)


@register
class GroupNorm(_PerChannel):
    name = "GroupNorm"
    doc = "Group normalisation: statistics over groups of channels, independent of the batch size"
    channel_param = "num_channels"
    params = (
        Param("num_groups", Kind.INT, required(), doc="number of channel groups"),
        Param("num_channels", Kind.INT, inferred=True, doc="channels (taken from the incoming shape)"),
        _EPS,
        _AFFINE,
    )

    def shape(self, ctx: Ctx) -> Shape:
        c, g = ctx.x0[0], ctx.p["num_groups"]
        if c % g:
            divisors = [d for d in range(1, c + 1) if c % d == 0]
            near = min(divisors, key=lambda d: abs(d - g))
            raise ctx.fail(
                "shape.groups",
                f"{ctx.who}: num_groups={g} does not divide its {c} channels",
                f"set num_groups to a divisor of {c}, e.g. {near}",
            )
        return ctx.x0


@register
class LayerNorm(LayerSpec):
    name = "LayerNorm"
    category = "Normalization"
    doc = "Layer normalisation over the trailing dimensions of each sample"
    params = (
        Param(
            "normalized_shape",
            Kind.INTS,
            inferred=True,
            doc="trailing dimensions to normalise (default: the whole sample shape)",
        ),
        _EPS,
        Param("elementwise_affine", Kind.BOOL, True, doc="learn a scale (and shift) per element"),
        Param("bias", Kind.BOOL, True, doc="learn the shift too"),
    )

    def inferred(self, ctx: Ctx) -> dict[str, Any]:
        given = ctx.p["normalized_shape"]
        if given is not None and 0 < len(given) <= len(ctx.x0) and tuple(ctx.x0[-len(given) :]) == tuple(given):
            return {"normalized_shape": tuple(given)}
        return {"normalized_shape": tuple(ctx.x0)}

    def weights(self, ctx: Ctx) -> dict[str, Shape]:
        if not ctx.p["elementwise_affine"]:
            return {}
        ns = tuple(ctx.p["normalized_shape"])
        return {"weight": ns, "bias": ns} if ctx.p["bias"] else {"weight": ns}

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        ns = ctx.p["normalized_shape"]
        k = len(self.weights(ctx))
        return [
            f"output = input = {fmt_shape(out)}",
            f"params = {k}*prod(normalized_shape) = {k}*{'*'.join(map(str, ns))} = {fmt_int(k * prod(ns))}",
        ]


@register
class LocalResponseNorm(LayerSpec):
    name = "LocalResponseNorm"
    category = "Normalization"
    doc = "Local response normalisation across neighbouring channels (AlexNet)"
    ranks = (2, 3)
    params = (
        Param("size", Kind.INT, required(), doc="number of neighbouring channels"),
        Param("alpha", Kind.FLOAT, 1e-4, doc="scale"),
        Param("beta", Kind.FLOAT, 0.75, doc="exponent"),
        Param("k", Kind.FLOAT, 1.0, doc="additive constant"),
    )


@register
class LayerNorm2d(LayerNorm):
    name = "LayerNorm2d"
    doc = "Layer normalisation over the channels at each position of a feature map (ConvNeXt)"
    ranks = (3,)
    params = (
        Param("normalized_shape", Kind.INTS, inferred=True, doc="[channels] (taken from the incoming shape)"),
        _EPS,
        Param("elementwise_affine", Kind.BOOL, True, doc="learn a scale (and shift) per channel"),
        Param("bias", Kind.BOOL, True, doc="learn the shift too"),
    )

    def inferred(self, ctx: Ctx) -> dict[str, Any]:
        return {"normalized_shape": (ctx.x0[0],)}

    def module_class(self) -> type[nn.Module]:
        from ..modules import LayerNorm2d as cls

        return cls


@register
class LayerScale(LayerSpec):
    name = "LayerScale"
    category = "Normalization"
    doc = "Multiplies each channel by a learned factor, started small (ConvNeXt's layer_scale)"
    ranks = (3,)
    params = (
        Param("dim", Kind.INT, inferred=True, doc="channels (taken from the incoming shape)"),
        Param("init_values", Kind.FLOAT, 1e-5, doc="initial factor of every channel"),
    )

    def inferred(self, ctx: Ctx) -> dict[str, Any]:
        return {"dim": ctx.x0[0]}

    def weights(self, ctx: Ctx) -> dict[str, Shape]:
        return {"weight": (ctx.p["dim"], 1, 1)}

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        return [f"output = input = {fmt_shape(out)}", f"params = C = {fmt_int(ctx.p['dim'])}"]

    def module_class(self) -> type[nn.Module]:
        from ..modules import LayerScale as cls

        return cls
