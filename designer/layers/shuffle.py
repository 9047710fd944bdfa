"""Channel rearrangements: ChannelShuffle (ShuffleNet) and PixelShuffle (sub-pixel upsampling)."""

from __future__ import annotations

from ..model.params import Kind, Param, required
from ._spatial import spatial
from .registry import Ctx, LayerSpec, Shape, fmt_shape, register


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@register
class ChannelShuffle(LayerSpec):
    name = "ChannelShuffle"
    category = "Reshape"
    doc = "Interleaves the channels of its groups, so the next grouped convolution mixes them (ShuffleNet)"
    ranks = (2, 3, 4)
    params = (Param("groups", Kind.INT, required(), doc="number of channel groups to interleave"),)

    def shape(self, ctx: Ctx) -> Shape:
        c, g = ctx.x0[0], ctx.p["groups"]
        if c % g:
            near = min(_divisors(c), key=lambda d: abs(d - g))
            raise ctx.fail(
                "shape.groups",
                f"{ctx.who}: groups={g} does not divide its {c} channels",
                f"set groups to a divisor of {c}, e.g. {near}",
            )
        return ctx.x0

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        c, g = ctx.x0[0], ctx.p["groups"]
        return [f"output = input = {fmt_shape(out)}, channels reordered as {g} groups of {c // g}; params = 0"]


@register
class PixelShuffle(LayerSpec):
    name = "PixelShuffle"
    category = "Upsampling"
    doc = "Rearranges [C*r*r, H, W] into [C, H*r, W*r]: sub-pixel upsampling (ESPCN)"
    ranks = (3,)
    params = (Param("upscale_factor", Kind.INT, required(), doc="r: how many times larger height and width get"),)

    def shape(self, ctx: Ctx) -> Shape:
        c, h, w = spatial(ctx)
        r = ctx.p["upscale_factor"]
        if c % (r * r):
            fits = [d for d in range(1, r + 1) if c % (d * d) == 0]
            raise ctx.fail(
                "shape.pixel_shuffle",
                f"{ctx.who}: upscale_factor={r} needs channels divisible by {r}*{r} = {r * r}, "
                f"but '{ctx.src[0]}' gives {c}",
                f"give it {c + (-c) % (r * r)} channels, or set upscale_factor={fits[-1]}",
            )
        return (c // (r * r), h * r, w * r)

    def window(self, ctx: Ctx) -> tuple[tuple[int, int], tuple[float, float]]:
        r = ctx.p["upscale_factor"]
        return (1, 1), (1 / r, 1 / r)

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        c, h, w = ctx.x0
        r = ctx.p["upscale_factor"]
        return [
            f"C_out = {c} / ({r}*{r}) = {out[0]}",
            f"H_out = {h} * {r} = {out[1]}",
            f"W_out = {w} * {r} = {out[2]}",
            "params = 0",
        ]
