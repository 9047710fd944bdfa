"""The ONNX operators the importer maps, each to the handler of its family (``onnx_ops_*``)."""

from __future__ import annotations

from collections.abc import Callable

from . import onnx_ops_merge as merge
from . import onnx_ops_norm as norm
from . import onnx_ops_pointwise as pointwise
from . import onnx_ops_roi as roi
from . import onnx_ops_scalar as scalar
from . import onnx_ops_shape as shape
from . import onnx_ops_slice as slicing
from . import onnx_ops_spatial as spatial
from .onnx_context import OpContext

OPS: dict[str, Callable[[OpContext], None]] = {
    "Conv": spatial.conv,
    "ConvTranspose": spatial.conv_transpose,
    "BatchNormalization": spatial.batch_norm,
    "LRN": spatial.lrn,
    "LayerNormalization": norm.layer_norm,
    "MaxPool": spatial.pool("MaxPool2d"),
    "AveragePool": spatial.pool("AvgPool2d"),
    "GlobalAveragePool": spatial.global_pool("AdaptiveAvgPool2d"),
    "GlobalMaxPool": spatial.global_pool("AdaptiveMaxPool2d"),
    "MaxRoiPool": roi.max_roi_pool,
    "RoiAlign": roi.roi_align,
    "Resize": spatial.resize,
    "Upsample": spatial.resize,
    "Pad": spatial.pad,
    "Relu": pointwise.simple("ReLU"),
    "Sigmoid": pointwise.sigmoid,
    "Tanh": pointwise.simple("Tanh"),
    "LeakyRelu": pointwise.simple("LeakyReLU", alpha=("negative_slope", 0.01)),
    "Elu": pointwise.simple("ELU", alpha=("alpha", 1.0)),
    "HardSwish": pointwise.simple("Hardswish"),
    "HardSigmoid": pointwise.hard_sigmoid,
    "Clip": pointwise.clip,
    "Gelu": pointwise.simple("GELU", approximate=("approximate", "none")),
    "Div": scalar.arithmetic(pointwise.div),
    "Mish": pointwise.simple("Mish"),
    "Softplus": pointwise.simple("Softplus"),
    "Softmax": pointwise.softmax("Softmax"),
    "LogSoftmax": pointwise.softmax("LogSoftmax"),
    "Dropout": pointwise.dropout,
    "Identity": pointwise.identity,
    "Add": scalar.arithmetic(merge.binary("Add")),
    "Mul": scalar.arithmetic(merge.binary("Mul")),
    "Sub": scalar.arithmetic(),
    "Pow": scalar.arithmetic(),
    "Reciprocal": scalar.reciprocal,
    "Sum": merge.variadic("Add"),
    "Max": merge.variadic("Maximum"),
    "Min": merge.variadic("Minimum"),
    "Mean": merge.variadic("Average"),
    "Concat": merge.concat,
    "Gemm": merge.gemm,
    "MatMul": merge.matmul,
    "Flatten": shape.flatten,
    "Reshape": shape.reshape,
    "Squeeze": shape.squeeze,
    "Unsqueeze": shape.squeeze,
    "Transpose": shape.transpose,
    "ReduceMean": shape.reduce_mean,
    "Slice": slicing.slice_,
    "Split": slicing.split,
}
