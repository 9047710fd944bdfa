"""Pooling: max and average pooling with fixed windows, and adaptive pooling to a fixed output size."""

from __future__ import annotations

import math
from typing import Any

from ..model.params import Kind, Param, required
from ._spatial import AXES, collapse, spatial
from .registry import Ctx, LayerSpec, Shape, fmt_shape, register


def pool_size(n: int, k: int, pad: int, s: int, d: int, ceil_mode: bool) -> int:
    """torch's ``pooling_output_shape``: may return less than 1, which the caller reports."""
    out = (n + 2 * pad - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + pad:
        out -= 1  # the last window must start inside the input or the left padding
    return out


class _Pool(LayerSpec):
    category = "Pooling"
    ranks = (3,)
    has_dilation = False

    def stride(self, ctx: Ctx) -> tuple[int, int]:
        stride: tuple[int, int] = ctx.p["stride"] if ctx.p["stride"] is not None else ctx.p["kernel_size"]
        return stride

    def dilation(self, ctx: Ctx) -> tuple[int, int]:
        return ctx.p["dilation"] if self.has_dilation else (1, 1)

    def shape(self, ctx: Ctx) -> Shape:
        p = ctx.p
        c, *sizes = spatial(ctx)
        stride, dil = self.stride(ctx), self.dilation(ctx)
        out = []
        for axis, n in enumerate(sizes):
            k, pad = p["kernel_size"][axis], p["padding"][axis]
            if pad > k // 2:
                raise ctx.fail(
                    "param.pool_padding",
                    f"{ctx.who}: padding={pad} is more than half the kernel size {k}",
                    f"set padding to at most {k // 2}",
                )
            size = pool_size(n, k, pad, stride[axis], dil[axis], p["ceil_mode"])
            if size < 1:
                raise collapse(
                    ctx,
                    axis,
                    n,
                    size,
                    f"the {k}-pixel window (stride {stride[axis]})",
                    "use a smaller kernel_size or stride",
                )
            out.append(size)
        return (c, *out)

    def window(self, ctx: Ctx) -> tuple[tuple[int, int], tuple[float, float]]:
        d = self.dilation(ctx)
        eff = tuple(dd * (k - 1) + 1 for dd, k in zip(d, ctx.p["kernel_size"]))
        return eff, self.stride(ctx)

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        p = ctx.p
        stride, dil = self.stride(ctx), self.dilation(ctx)
        rnd = "ceil" if p["ceil_mode"] else "floor"
        lines = []
        for axis in range(2):
            n, k, pad = ctx.x0[axis + 1], p["kernel_size"][axis], p["padding"][axis]
            s, d = stride[axis], dil[axis]
            # torch drops a ceil-mode window that would start past the input; say so, or the formula does not add up
            full = (n + 2 * pad - d * (k - 1) - 1 + (s - 1 if p["ceil_mode"] else 0)) // s + 1
            cut = " - 1" if full != out[axis + 1] else ""
            note = " (the last window would start past the input)" if cut else ""
            lines.append(
                f"{AXES[axis]}_out = {rnd}(({n} + 2*{pad} - {d}*({k}-1) - 1) / {s}) + 1{cut} = {out[axis + 1]}{note}"
            )
        lines.append(f"C_out = C_in = {out[0]} (pooling acts per channel); params = 0")
        return lines


_KERNEL = Param("kernel_size", Kind.PAIR, required(), doc="window height and width")
_STRIDE = Param("stride", Kind.OPT_PAIR, None, doc="step between windows (default: the kernel size)")
_PADDING = Param("padding", Kind.PAIR, 0, low=0, doc="implicit padding on each side (at most half the kernel)")
_CEIL = Param("ceil_mode", Kind.BOOL, False, doc="round the output size up instead of down")


@register
class MaxPool2d(_Pool):
    name = "MaxPool2d"
    doc = "Max pooling: keeps the strongest response in each window, halving the map with 2x2 / stride 2"
    has_dilation = True
    params = (_KERNEL, _STRIDE, _PADDING, Param("dilation", Kind.PAIR, 1, doc="spacing between window taps"), _CEIL)


@register
class AvgPool2d(_Pool):
    name = "AvgPool2d"
    doc = "Average pooling: the mean of each window"
    params = (
        _KERNEL,
        _STRIDE,
        _PADDING,
        _CEIL,
        Param("count_include_pad", Kind.BOOL, True, doc="count padded zeros in the average"),
        Param("divisor_override", Kind.OPT_INT, None, doc="divide by this instead of the window size"),
    )


class _Adaptive(LayerSpec):
    category = "Pooling"
    ranks = (3,)
    params = (Param("output_size", Kind.ADAPTIVE, required(), doc="target height and width (null keeps that size)"),)

    def out_hw(self, ctx: Ctx) -> tuple[int, int]:
        _, h, w = spatial(ctx)
        oh, ow = ctx.p["output_size"]
        return (h if oh is None else oh, w if ow is None else ow)

    def shape(self, ctx: Ctx) -> Shape:
        return (ctx.x0[0], *self.out_hw(ctx))

    def window(self, ctx: Ctx) -> tuple[tuple[int, int], tuple[float, float]]:
        (h, w), (oh, ow) = ctx.x0[1:], self.out_hw(ctx)
        return (math.ceil(h / oh), math.ceil(w / ow)), (h / oh, w / ow)

    def torch_kwargs(self, ctx: Ctx) -> dict[str, Any]:
        return {"output_size": ctx.p["output_size"]}

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        return [
            f"output = [C, output_size] = {fmt_shape(out)}, whatever the input size {ctx.x0[1]}x{ctx.x0[2]}; params = 0"
        ]


@register
class AdaptiveAvgPool2d(_Adaptive):
    name = "AdaptiveAvgPool2d"
    doc = "Adaptive average pooling to a fixed size; output_size=1 is global average pooling"


@register
class AdaptiveMaxPool2d(_Adaptive):
    name = "AdaptiveMaxPool2d"
    doc = "Adaptive max pooling to a fixed output size"
