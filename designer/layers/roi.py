"""Region-of-interest pooling (Fast R-CNN's RoIPool, Mask R-CNN's RoIAlign) on ``torchvision.ops``.

Two inputs: a feature map ``[N, C, H, W]`` and boxes ``[R, 5]`` rows (batch index, x1, y1, x2, y2) in input-image
pixels, fed by an Input of shape ``[5]`` (its leading dimension is the number of boxes R, not the batch). The output
is ``[R, C, h, w]``: one pooled map per box, so downstream layers see R as their batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model.params import Kind, Param, required
from .registry import Ctx, LayerSpec, Shape, fmt_shape, register

if TYPE_CHECKING:
    from torch import nn

BOX_FIELDS = 5


class _RoI(LayerSpec):
    category = "Pooling"
    arity = (2, 2)
    ranks = (3,)
    how = ""

    def shape(self, ctx: Ctx) -> Shape:
        if ctx.x[1] != (BOX_FIELDS,):
            raise ctx.fail(
                "shape.roi_boxes",
                f"{ctx.who}: the boxes from '{ctx.src[1]}' are {fmt_shape(ctx.x[1])} per row; "
                f"{self.name} needs rows of 5 (batch index, x1, y1, x2, y2)",
                f"feed the second input from an Input of shape [5]; the feature map goes first ('{ctx.src[0]}')",
                port=1,
            )
        h, w = ctx.p["output_size"]
        return (ctx.x0[0], h, w)

    def module_class(self) -> type[nn.Module]:
        from .. import modules

        cls: type[nn.Module] = getattr(modules, self.name)
        return cls

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        h, w = ctx.p["output_size"]
        scale = ctx.p["spatial_scale"]
        return [
            f"output = [C, output_size] = {fmt_shape(out)} per box (R boxes make the batch R)",
            f"a box is scaled by spatial_scale = {scale:g} onto the {ctx.x0[1]}x{ctx.x0[2]} map, then split into "
            f"{h}x{w} bins, {self.how}",
            "params = 0",
        ]


_OUTPUT = Param("output_size", Kind.PAIR, required(), doc="height and width of each pooled region")
_SCALE = Param(
    "spatial_scale", Kind.FLOAT, 1.0, low=1e-6, doc="feature-map pixels per input pixel (1/16 after four halvings)"
)


@register
class RoIPool(_RoI):
    name = "RoIPool"
    doc = "Max-pools each box of a feature map to a fixed size (Fast R-CNN); second input: boxes [R, 5]"
    params = (_OUTPUT, _SCALE)
    how = "each the maximum of its cells (box corners rounded to whole map pixels)"


@register
class RoIAlign(_RoI):
    name = "RoIAlign"
    doc = "Bilinearly samples each box of a feature map to a fixed size (Mask R-CNN); second input: boxes [R, 5]"
    params = (
        _OUTPUT,
        _SCALE,
        Param("sampling_ratio", Kind.INT, -1, low=-1, doc="samples per bin side; -1 or 0: ceil(box size / bins)"),
        Param("aligned", Kind.BOOL, False, doc="shift boxes by half a pixel so corners fall on pixel centres"),
    )
    how = "each the mean of bilinear samples (no rounding)"
