"""Convolutions: Conv2d and ConvTranspose2d."""

from __future__ import annotations

from typing import Any

from ..model.params import Kind, Param, required
from ._spatial import AXES, collapse, spatial
from .registry import Ctx, LayerSpec, Shape, fmt_int, register

_GROUPS = Param("groups", Kind.INT, 1, doc="split channels into this many independent groups")
_BIAS = Param("bias", Kind.BOOL, True, doc="learn an additive bias per output channel")


def _check_groups(ctx: Ctx) -> None:
    c_in, c_out, g = ctx.p["in_channels"], ctx.p["out_channels"], ctx.p["groups"]
    for what, n in (("input", c_in), ("output", c_out)):
        if n % g:
            ok = [d for d in range(1, n + 1) if n % d == 0 and c_in % d == 0 and c_out % d == 0]
            raise ctx.fail(
                "shape.groups",
                f"{ctx.who}: groups={g} does not divide its {n} {what} channels",
                f"set groups to a divisor of both {c_in} and {c_out}, e.g. {ok[-1]}",
            )


class _Conv(LayerSpec):
    category = "Convolution"
    ranks = (3,)

    def inferred(self, ctx: Ctx) -> dict[str, Any]:
        return {"in_channels": ctx.x0[0]}

    def weights(self, ctx: Ctx) -> dict[str, Shape]:
        p = ctx.p
        kh, kw = p["kernel_size"]
        w = self.weight_shape(p["in_channels"], p["out_channels"], p["groups"], kh, kw)
        return {"weight": w, "bias": (p["out_channels"],)} if p["bias"] else {"weight": w}

    def weight_shape(self, c_in: int, c_out: int, g: int, kh: int, kw: int) -> Shape:
        return (c_out, c_in // g, kh, kw)

    #: How the weight count reads, as (symbols, values) over p: torch stores C_in/groups or C_out/groups per filter.
    weight_terms = ("k_h*k_w*C_in/groups*C_out", "{kh}*{kw}*{in_channels}/{groups}*{out_channels}")

    def params_text(self, ctx: Ctx) -> str:
        p = ctx.p
        kh, kw = p["kernel_size"]
        n_w = kh * kw * p["in_channels"] * p["out_channels"] // p["groups"]
        head, nums = self.weight_terms[0], self.weight_terms[1].format(kh=kh, kw=kw, **p)
        if p["bias"]:
            return f"params = {head} + C_out = {nums} + {p['out_channels']} = {fmt_int(n_w + p['out_channels'])}"
        return f"params = {head} = {nums} = {fmt_int(n_w)}"


@register
class Conv2d(_Conv):
    name = "Conv2d"
    doc = "2-D convolution: slides learned k x k filters over the input feature map"
    params = (
        Param("in_channels", Kind.INT, inferred=True, doc="channels of the input (taken from the incoming shape)"),
        Param("out_channels", Kind.INT, required(), doc="number of filters, i.e. output channels"),
        Param("kernel_size", Kind.PAIR, required(), doc="filter height and width"),
        Param("stride", Kind.PAIR, 1, doc="step between filter positions"),
        Param("padding", Kind.PADDING, 0, low=0, doc="zeros added on each side, or 'same' / 'valid'"),
        Param("dilation", Kind.PAIR, 1, doc="spacing between filter taps"),
        _GROUPS,
        _BIAS,
        Param(
            "padding_mode",
            Kind.CHOICE,
            "zeros",
            choices=("zeros", "reflect", "replicate", "circular"),
            doc="how the border is padded",
        ),
    )

    def pads(self, ctx: Ctx) -> tuple[tuple[int, int], ...]:
        """(before, after) padding per spatial axis, as torch applies it."""
        p = ctx.p
        if p["padding"] == "valid":
            return ((0, 0), (0, 0))
        if p["padding"] == "same":
            totals = [d * (k - 1) for d, k in zip(p["dilation"], p["kernel_size"])]
            return tuple((t // 2, t - t // 2) for t in totals)
        return tuple((q, q) for q in p["padding"])

    def shape(self, ctx: Ctx) -> Shape:
        p = ctx.p
        _check_groups(ctx)
        if p["padding"] == "same" and p["stride"] != (1, 1):
            raise ctx.fail(
                "param.same_stride",
                f"{ctx.who}: padding='same' works only with stride 1, got stride={list(p['stride'])}",
                "set stride=1, or give padding as numbers",
            )
        c, *sizes = spatial(ctx)
        out = []
        for axis, (n, (lo, hi)) in enumerate(zip(sizes, self.pads(ctx))):
            k, s, d = p["kernel_size"][axis], p["stride"][axis], p["dilation"][axis]
            self._check_padding_mode(ctx, axis, n, max(lo, hi))
            eff = d * (k - 1) + 1
            if n + lo + hi < eff:
                raw = (n + lo + hi - eff) // s + 1
                raise collapse(
                    ctx, axis, n, min(raw, 0), f"the {k}-tap kernel (dilation {d})", f"add padding={-(-(eff - n) // 2)}"
                )
            out.append((n + lo + hi - eff) // s + 1)
        return (p["out_channels"], *out)

    def _check_padding_mode(self, ctx: Ctx, axis: int, n: int, pad: int) -> None:
        mode = ctx.p["padding_mode"]
        too_big = (mode == "reflect" and pad >= n) or (mode == "circular" and pad > n)
        if too_big:
            raise ctx.fail(
                "param.padding_mode",
                f"{ctx.who}: {mode} padding of {pad} needs an input larger than "
                f"{pad} pixels, but its {('height', 'width')[axis]} is {n}",
                "use padding_mode='zeros' or 'replicate', or less padding",
            )

    def window(self, ctx: Ctx) -> tuple[tuple[int, int], tuple[float, float]]:
        p = ctx.p
        eff = tuple(d * (k - 1) + 1 for d, k in zip(p["dilation"], p["kernel_size"]))
        return eff, p["stride"]

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        p = ctx.p
        lines = []
        for axis, (lo, hi) in enumerate(self.pads(ctx)):
            n, k = ctx.x0[axis + 1], p["kernel_size"][axis]
            s, d, a = p["stride"][axis], p["dilation"][axis], AXES[axis]
            pad = f"2*{lo}" if lo == hi else f"{lo}+{hi}"
            lines.append(f"{a}_out = floor(({n} + {pad} - {d}*({k}-1) - 1) / {s}) + 1 = {out[axis + 1]}")
        lines.append(f"C_out = out_channels = {out[0]}")
        lines.append(self.params_text(ctx))
        return lines


@register
class ConvTranspose2d(_Conv):
    name = "ConvTranspose2d"
    doc = "Transposed (fractionally strided) convolution: learned upsampling, e.g. in segmentation decoders"
    params = (
        Param("in_channels", Kind.INT, inferred=True, doc="channels of the input (taken from the incoming shape)"),
        Param("out_channels", Kind.INT, required(), doc="output channels"),
        Param("kernel_size", Kind.PAIR, required(), doc="filter height and width"),
        Param("stride", Kind.PAIR, 1, doc="upsampling factor"),
        Param("padding", Kind.PAIR, 0, low=0, doc="implicit padding removed from each side of the output"),
        Param("output_padding", Kind.PAIR, 0, low=0, doc="extra rows/columns added on one side of the output"),
        _GROUPS,
        _BIAS,
        Param("dilation", Kind.PAIR, 1, doc="spacing between filter taps"),
    )

    weight_terms = ("k_h*k_w*C_in*C_out/groups", "{kh}*{kw}*{in_channels}*{out_channels}/{groups}")

    def weight_shape(self, c_in: int, c_out: int, g: int, kh: int, kw: int) -> Shape:
        return (c_in, c_out // g, kh, kw)

    def shape(self, ctx: Ctx) -> Shape:
        p = ctx.p
        _check_groups(ctx)
        c, *sizes = spatial(ctx)
        out = []
        for axis, n in enumerate(sizes):
            k, s, d = p["kernel_size"][axis], p["stride"][axis], p["dilation"][axis]
            q, op = p["padding"][axis], p["output_padding"][axis]
            if op >= s and op >= d:
                raise ctx.fail(
                    "param.output_padding",
                    f"{ctx.who}: output_padding={op} must be smaller than stride ({s}) or dilation ({d})",
                    f"set output_padding to at most {max(s, d) - 1}",
                )
            size = (n - 1) * s - 2 * q + d * (k - 1) + op + 1
            if size < 1:
                raise collapse(ctx, axis, n, size, f"padding={q}", "use less padding")
            out.append(size)
        return (p["out_channels"], *out)

    def window(self, ctx: Ctx) -> tuple[tuple[int, int], tuple[float, float]]:
        p = ctx.p
        eff = tuple(d * (k - 1) + 1 for d, k in zip(p["dilation"], p["kernel_size"]))
        return eff, tuple(1 / s for s in p["stride"])

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        p = ctx.p
        lines = []
        for axis in range(2):
            n, k, s = ctx.x0[axis + 1], p["kernel_size"][axis], p["stride"][axis]
            q, op, d = p["padding"][axis], p["output_padding"][axis], p["dilation"][axis]
            lines.append(f"{AXES[axis]}_out = ({n}-1)*{s} - 2*{q} + {d}*({k}-1) + {op} + 1 = {out[axis + 1]}")
        lines.append(f"C_out = out_channels = {out[0]}")
        lines.append(self.params_text(ctx))
        return lines
