"""ONNX translations of the torchvision operators the designer's layers call (RoIAlign, RoIPool).

torch's dynamo exporter finds no translation for ``torchvision::roi_align`` and ``torchvision::roi_pool`` (onnxscript
ships one for each, but its ``roi_pool`` takes another signature than the operator's schema and neither is in the
exporter's registry), so ``onnx_model`` hands these to ``torch.onnx.export`` as its ``custom_translation_table``.
ONNX ``RoiAlign`` (opset 16: ``coordinate_transformation_mode``) and ``MaxRoiPool`` compute the same as torchvision.
"""

from __future__ import annotations

from typing import Any


def translations() -> dict[Any, Any]:
    """The custom translation table: torchvision operator overloads to onnxscript functions."""
    import torch
    import torchvision  # noqa: F401  (registers the torchvision:: operators)
    from onnxscript import INT64, opset18

    op: Any = opset18  # onnxscript's operator stubs do not type-check traced (trace_only) calls

    def roi_align(
        x: Any,
        rois: Any,
        spatial_scale: float,
        pooled_height: int,
        pooled_width: int,
        sampling_ratio: int = -1,
        aligned: bool = False,
    ) -> Any:
        index = op.Cast(op.Squeeze(op.Slice(rois, [0], [1], [1]), [1]), to=INT64.dtype)
        return op.RoiAlign(
            x,
            op.Slice(rois, [1], [5], [1]),
            index,
            # torchvision's -1 and 0 both mean "adaptive", which ONNX writes as 0
            sampling_ratio=max(sampling_ratio, 0),
            coordinate_transformation_mode="half_pixel" if aligned else "output_half_pixel",
            spatial_scale=spatial_scale,
            output_height=pooled_height,
            output_width=pooled_width,
            mode="avg",
        )

    def roi_pool(x: Any, rois: Any, spatial_scale: float, pooled_height: int, pooled_width: int) -> Any:
        # torchvision also returns the argmax of each bin, which nothing reads: a placeholder of its type stands in
        # for it, and the export's dead-node pass removes it
        out = op.MaxRoiPool(x, rois, pooled_shape=[pooled_height, pooled_width], spatial_scale=spatial_scale)
        return out, op.Cast(out, to=INT64.dtype)

    return {torch.ops.torchvision.roi_align.default: roi_align, torch.ops.torchvision.roi_pool.default: roi_pool}
