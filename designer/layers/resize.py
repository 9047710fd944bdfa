"""Resizing: upsampling by interpolation and zero padding."""

from __future__ import annotations

import math
from typing import Any

from ..model.params import MAX_SIZE, Kind, Param, required
from ._spatial import AXES, collapse
from .registry import Ctx, LayerSpec, Shape, fmt_shape, register

_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
#: Modes that need a rank other than a 2-D map ([C, H, W]): torch refuses them there.
_WRONG_RANK = {"linear": "[C, L]", "trilinear": "[C, D, H, W]"}


@register
class Upsample(LayerSpec):
    name = "Upsample"
    category = "Upsampling"
    doc = "Resizes a feature map by interpolation, to a size or by a scale factor"
    ranks = (3,)
    params = (
        Param("size", Kind.OPT_PAIR, None, doc="output height and width (give this or scale_factor)"),
        Param("scale_factor", Kind.OPT_FLOAT_PAIR, None, low=1e-3, high=1e4, doc="multiplier for height and width"),
        Param(
            "mode",
            Kind.CHOICE,
            "nearest",
            choices=("nearest", "nearest-exact", "bilinear", "bicubic", "area", "linear", "trilinear"),
            doc="interpolation ('area' averages each output's share of the input)",
        ),
        Param("align_corners", Kind.OPT_BOOL, None, doc="align corner pixels (interpolating modes only)"),
        Param(
            "recompute_scale_factor",
            Kind.OPT_BOOL,
            None,
            doc="interpolate with the factor the rounded output size implies, not the one given (scale_factor only)",
        ),
    )

    def shape(self, ctx: Ctx) -> Shape:
        p = ctx.p
        if (p["size"] is None) == (p["scale_factor"] is None):
            raise ctx.fail(
                "param.upsample_size",
                f"{ctx.who}: give exactly one of size and scale_factor",
                "set scale_factor=2 (or size=[H, W]) and remove the other",
            )
        if p["mode"] in _WRONG_RANK:
            raise ctx.fail(
                "param.mode",
                f"{ctx.who}: mode='{p['mode']}' needs a {_WRONG_RANK[p['mode']]} input, not a [C, H, W] map",
                "use mode='bilinear' or 'nearest'",
            )
        if p["align_corners"] is not None and p["mode"] not in _INTERPOLATING:
            raise ctx.fail(
                "param.align_corners",
                f"{ctx.who}: align_corners applies only to interpolating modes, not '{p['mode']}'",
                "remove align_corners or use mode='bilinear'",
            )
        if p["recompute_scale_factor"] and p["size"] is not None:
            raise ctx.fail(
                "param.recompute_scale_factor",
                f"{ctx.who}: recompute_scale_factor applies only to scale_factor, not to an explicit size",
                "remove recompute_scale_factor, or give scale_factor instead of size",
            )
        c, h, w = ctx.x0
        if p["size"] is not None:
            return (c, *p["size"])
        out = [int(n * f) for n, f in zip((h, w), p["scale_factor"])]
        for axis, size in enumerate(out):
            if size < 1:
                raise collapse(
                    ctx,
                    axis,
                    (h, w)[axis],
                    size,
                    f"scale_factor={p['scale_factor'][axis]}",
                    "use a larger scale_factor",
                )
            if size > MAX_SIZE:
                raise ctx.fail(
                    "shape.too_large",
                    f"{ctx.who}: output {('height', 'width')[axis]} {size} is larger than {MAX_SIZE}",
                    "use a smaller scale_factor",
                )
        return (c, *out)

    def window(self, ctx: Ctx) -> tuple[tuple[int, int], tuple[float, float]]:
        out = self.shape(ctx)
        jump = (ctx.x0[1] / out[1], ctx.x0[2] / out[2])
        if ctx.p["mode"] == "area":  # each output averages its share of the input, as adaptive average pooling
            return (math.ceil(jump[0]), math.ceil(jump[1])), jump
        return (1, 1), jump

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        p = ctx.p
        if p["size"] is not None:
            return [f"output = [C, size] = {fmt_shape(out)}; params = 0"]
        # repr, not a rounded format, so that the formula gives the size: floor(3 * 2.9999999) is 8, not 9
        return [f"{AXES[a]}_out = floor({ctx.x0[a + 1]} * {p['scale_factor'][a]!r}) = {out[a + 1]}" for a in range(2)]


@register
class ZeroPad2d(LayerSpec):
    name = "ZeroPad2d"
    category = "Reshape"
    doc = "Pads the border with zeros (negative values crop)"
    ranks = (2, 3)
    params = (Param("padding", Kind.PAD4, required(), low=-MAX_SIZE, doc="[left, right, top, bottom] or one value"),)

    def shape(self, ctx: Ctx) -> Shape:
        left, right, top, bottom = ctx.p["padding"]
        *lead, h, w = ctx.x0
        out = (h + top + bottom, w + left + right)
        for axis, (n, pads) in enumerate(((h, (top, bottom)), (w, (left, right)))):
            # torch crops (negative sides) before it pads, so the crop alone must fit: [-3, 4] fails on 2 pixels
            crop = -sum(min(q, 0) for q in pads)
            if crop > n:
                name = ("height", "width")[axis]
                raise ctx.fail(
                    "shape.collapse",
                    f"{ctx.who}: negative padding crops {crop} pixels of the {n}-pixel "
                    f"{name} of its input from '{ctx.src[0]}'",
                    f"crop at most {n} pixels there",
                )
        for axis, size in enumerate(out):
            if size < 1:
                raise collapse(ctx, axis, (h, w)[axis], size, "negative padding", "crop less")
            if size > MAX_SIZE:
                raise ctx.fail(
                    "shape.too_large", f"{ctx.who}: output size {size} is larger than {MAX_SIZE}", "use less padding"
                )
        return (*lead, *out)

    def window(self, ctx: Ctx) -> tuple[tuple[int, int], tuple[float, float]]:
        return (1, 1), (1, 1)

    def torch_kwargs(self, ctx: Ctx) -> dict[str, Any]:
        return {"padding": ctx.p["padding"]}

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        left, right, top, bottom = ctx.p["padding"]
        return [
            f"H_out = {ctx.x0[-2]} + {top} + {bottom} = {out[-2]}",
            f"W_out = {ctx.x0[-1]} + {left} + {right} = {out[-1]}",
            "params = 0",
        ]
