"""Helpers shared by the spatial layer rules: sizes per axis, collapse errors, formula text."""

from __future__ import annotations

from ..registry import Ctx, fmt_shape

AXES = ("H", "W")


def spatial(ctx: Ctx) -> tuple[int, int, int]:
    c, h, w = ctx.x0
    return c, h, w


def collapse(ctx: Ctx, axis: int, size_in: int, raw_out: int, needed_padding: int | None, what: str) -> Exception:
    """A 'spatial size collapses' error naming the layer, the axis, and by how much it falls short."""
    name = ("height", "width")[axis]
    short = 1 - raw_out
    hint = (f"add padding={needed_padding} to {ctx.node_id}" if needed_padding is not None else
            f"use a smaller {what} in {ctx.node_id}")
    hint += f", or remove a downsampling layer before it (its input is only {size_in} pixels {name})"
    return ctx.fail(
        "shape.collapse",
        f"{ctx.who}: {what} does not fit the {size_in}-pixel {name} of its input from '{ctx.src[0]}': "
        f"output {name} would be {raw_out}, {short} short of the minimum 1",
        hint,
    )


def same_channels_text(ctx: Ctx, out: tuple[int, ...]) -> str:
    return f"output = {fmt_shape(out)}"


def div_floor(a: int, b: int) -> int:
    """Integer division rounding toward negative infinity (torch's ``div_rtn``)."""
    return a // b
