"""ONNX's region-of-interest operators: ``MaxRoiPool`` is RoIPool, ``RoiAlign`` (average mode) is RoIAlign.

Both design nodes read rows of five, (batch index, x1, y1, x2, y2); ``onnx_roi`` has already folded the rows'
preparation (the index clamp, RoiAlign's split of index and boxes) into the node when it is only that.
"""

from __future__ import annotations

from typing import Any

from .onnx_context import OpContext, Unsupported, nonzero, pair, short_float


def _scale(ctx: OpContext) -> dict[str, Any]:
    return nonzero({"spatial_scale": short_float(float(ctx.attrs.get("spatial_scale", 1.0)))}, spatial_scale=1.0)


def max_roi_pool(ctx: OpContext) -> None:
    """MaxRoiPool(X, rois [R, 5]) is RoIPool; both inputs must be computed (the rois an Input of shape [5])."""
    if len(ctx.data()) != 2:
        raise Unsupported("needs the feature map and the rois as inputs")
    shape = ctx.attrs.get("pooled_shape")
    if not shape or len(shape) != 2:
        raise Unsupported("needs a pooled_shape of two sizes")
    ctx.emit("RoIPool", {"output_size": pair(list(shape), 1)} | _scale(ctx))


def roi_align(ctx: OpContext) -> None:
    """RoiAlign(X, rows [R, 5]) as ``onnx_roi`` leaves it is RoIAlign: ``half_pixel`` is torchvision's
    ``aligned=True``, and ONNX's adaptive ``sampling_ratio`` 0 is torchvision's -1."""
    if len(ctx.node.input) != 2 or len(ctx.data()) != 2:
        raise Unsupported(
            "its boxes and batch indices are not one computed [R, 5] value with the index first, which is what "
            "RoIAlign reads"
        )
    if ctx.attrs.get("mode", "avg") != "avg":
        raise Unsupported(f"mode={ctx.attrs['mode']}: only average sampling (torchvision's roi_align) maps")
    size = [int(ctx.attrs.get("output_height", 1)), int(ctx.attrs.get("output_width", 1))]
    params: dict[str, Any] = {"output_size": pair(size, 1)} | _scale(ctx)
    ratio = int(ctx.attrs.get("sampling_ratio", 0))
    params |= {"sampling_ratio": ratio} if ratio > 0 else {}
    params |= {"aligned": True} if ctx.attrs.get("coordinate_transformation_mode") == "half_pixel" else {}
    ctx.emit("RoIAlign", params)
