"""Helpers shared by the spatial layer rules: sizes per axis, collapse errors, formula text."""

from __future__ import annotations

from .registry import Ctx

AXES = ("H", "W")


def spatial(ctx: Ctx) -> tuple[int, int, int]:
    c, h, w = ctx.x0
    return c, h, w


def collapse(ctx: Ctx, axis: int, size_in: int, raw_out: int, what: str, fix: str) -> Exception:
    """A 'spatial size collapses' error naming the layer, the axis, and by how much it falls short.

    Args:
        what: the part of the layer that does not fit ("the 3-tap kernel (dilation 1)").
        fix: the change to this layer that would fit it ("add padding=1", "use a smaller kernel_size or stride").
    """
    name = ("height", "width")[axis]
    extent = "high" if axis == 0 else "wide"
    unit = "pixel" if size_in == 1 else "pixels"
    return ctx.fail(
        "shape.collapse",
        f"{ctx.who}: {what} does not fit the {size_in}-pixel {name} of its input from '{ctx.src[0]}': "
        f"output {name} would be {raw_out}, {1 - raw_out} short of the minimum 1",
        f"{fix} in {ctx.node_id}, or remove a downsampling layer before it (its input is only {size_in} {unit} "
        f"{extent})",
    )
