"""One handler per ONNX operator: read attributes and constant inputs, emit the matching design node and weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..model.graph import Node, NodeId
from .onnx_builder import Dim, OnnxGraphBuilder, static_sample_shape

if TYPE_CHECKING:
    import onnx


class Unsupported(Exception):
    """This use of the operator has no design equivalent; the message says what."""


class OpContext:
    """One ONNX node being mapped: its attributes, constant inputs and a way to emit the design node."""

    def __init__(self, builder: OnnxGraphBuilder, node: onnx.NodeProto) -> None:
        from onnx import helper

        self.builder = builder
        self.node = node
        self.attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        for key, value in list(self.attrs.items()):
            if isinstance(value, bytes):
                self.attrs[key] = value.decode()

    def const(self, index: int) -> np.ndarray | None:
        """The constant value of input ``index``, or None when it is absent or computed by the network."""
        inputs = self.node.input
        return self.builder.consts.get(inputs[index]) if index < len(inputs) and inputs[index] else None

    def data(self) -> list[str]:
        """Design ids of the non-constant inputs, in order."""
        return [self.builder.producer[n] for n in self.builder.data_inputs(self.node)]

    def rank(self, index: int = 0) -> int | None:
        """The number of dimensions of input ``index``, when shape inference knows it."""
        shape = self.builder.shapes.get(self.node.input[index])
        return len(shape) if shape is not None else None

    def out_shape(self) -> list[Dim] | None:
        """The inferred shape of the first output, when shape inference knows it."""
        return self.builder.shapes.get(self.node.output[0])

    def emit(
        self,
        type_name: str,
        params: dict[str, Any],
        weights: dict[str, np.ndarray] | None = None,
        inputs: list[str] | None = None,
        output: str | None = None,
    ) -> str:
        """Add a ``type_name`` node and its weights for this ONNX node; return the design id it was given.

        Args:
            type_name: the design node type.
            params: its params, as the file writes them.
            weights: state_dict entries of the node, by suffix (``weight``, ``bias``, ...).
            inputs: design ids it reads (default: those computing the ONNX node's data inputs).
            output: the ONNX value it computes (default: the ONNX node's first output).
        """
        weight_name = (
            self.node.input[1] if len(self.node.input) > 1 and self.node.input[1] in self.builder.consts else None
        )
        node_id = self.builder.node_id_for(self.node, weight_name)
        for suffix, array in (weights or {}).items():
            import torch

            self.builder.state[f"{node_id}.{suffix}"] = torch.from_numpy(np.array(array, copy=True))
        node = Node(NodeId(node_id), type_name, params, [NodeId(i) for i in (inputs or self.data())])
        self.builder.add(node, output or self.node.output[0])
        return node_id


def fold(node: onnx.NodeProto, consts: dict[str, np.ndarray]) -> bool:
    """Evaluate ``node`` with numpy when it is shape arithmetic over constants; return whether it was."""
    value = _folded_value(node, consts)
    if value is None:
        return False
    consts[node.output[0]] = np.asarray(value)
    return True


def _folded_value(node: onnx.NodeProto, consts: dict[str, np.ndarray]) -> np.ndarray | None:
    from onnx import helper

    op, ins = node.op_type, [consts.get(n) for n in node.input if n]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if op == "Constant":
        return _constant_value(attrs)
    if op == "Shape" and node.input[0] in consts:
        return np.array(consts[node.input[0]].shape, dtype=np.int64)
    if op == "CastLike" and ins and ins[0] is not None:
        return ins[0].astype(ins[1].dtype if ins[1] is not None else np.float32)  # data tensors are float32
    known = [v for v in ins if v is not None]
    if len(known) != len(ins) or op not in _FOLDERS:
        return None
    return _FOLDERS[op](known, attrs)


def _constant_value(attrs: dict[str, Any]) -> np.ndarray | None:
    from onnx import numpy_helper

    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    for key, dtype in (
        ("value_ints", np.int64),
        ("value_int", np.int64),
        ("value_floats", np.float32),
        ("value_float", np.float32),
    ):
        if key in attrs:
            return np.array(attrs[key], dtype=dtype)
    return None


#: numpy evaluation of the operators that shape arithmetic uses: (constant inputs, attributes) -> output.
_FOLDERS: dict[str, Callable[[list[np.ndarray], dict[str, Any]], np.ndarray]] = {
    "Identity": lambda v, a: v[0],
    "Cast": lambda v, a: v[0].astype(_onnx_dtype(a["to"])),
    "Expand": lambda v, a: np.broadcast_to(v[0], np.broadcast_shapes(v[0].shape, tuple(v[1]))).copy(),
    "Concat": lambda v, a: np.concatenate([np.atleast_1d(x) for x in v], axis=a.get("axis", 0)),
    "Unsqueeze": lambda v, a: np.expand_dims(v[0], tuple(int(i) for i in (v[1] if len(v) > 1 else a["axes"]))),
    "Squeeze": lambda v, a: np.squeeze(v[0], tuple(int(i) for i in v[1]) if len(v) > 1 else None),
    "Reshape": lambda v, a: v[0].reshape([int(d) for d in v[1]]),
    "Gather": lambda v, a: np.take(v[0], v[1], axis=a.get("axis", 0)),
}


def _onnx_dtype(code: int) -> np.dtype[Any]:
    from onnx import helper

    return helper.tensor_dtype_to_np_dtype(code)


def _pair(values: list[int] | None, default: int) -> int | list[int]:
    values = list(values) if values is not None else [default, default]
    if len(values) != 2:
        raise Unsupported(f"expects 2 spatial dimensions, has {len(values)}")
    return values[0] if values[0] == values[1] else values


def _symmetric_pads(ctx: OpContext) -> int | list[int]:
    if ctx.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise Unsupported(f"auto_pad={ctx.attrs['auto_pad']} is not supported; export with explicit pads")
    pads = list(ctx.attrs.get("pads", [0, 0, 0, 0]))
    if pads[:2] != pads[2:]:
        raise Unsupported(f"asymmetric pads {pads}; add a ZeroPad2d before it")
    return _pair(pads[:2], 0)


def _nonzero(params: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v != defaults.get(k)}


def _computed_zero_bias(ctx: OpContext, b: np.ndarray | None) -> np.ndarray | None:
    """torch's exporter writes ``bias=False`` as a computed zero vector (folded into an anonymous constant); that is
    no bias at all. A bias that is a named parameter (``conv1.bias``) stays, even when it is all zeros."""
    named = len(ctx.node.input) > 2 and ctx.node.input[2].endswith("bias")
    return None if b is not None and not named and not np.any(b) else b


def _conv(ctx: OpContext) -> None:
    w, b = ctx.const(1), _computed_zero_bias(ctx, ctx.const(2))
    if w is None or w.ndim != 4:
        raise Unsupported("needs a constant 4-D weight")
    group = ctx.attrs.get("group", 1)
    params = {"out_channels": int(w.shape[0]), "kernel_size": _pair(list(w.shape[2:]), 1)}
    params.update(
        _nonzero(
            {
                "stride": _pair(ctx.attrs.get("strides"), 1),
                "padding": _symmetric_pads(ctx),
                "dilation": _pair(ctx.attrs.get("dilations"), 1),
                "groups": group,
                "bias": b is not None,
            },
            stride=1,
            padding=0,
            dilation=1,
            groups=1,
            bias=True,
        )
    )
    weights = {"weight": w} | ({"bias": b} if b is not None else {})
    ctx.emit("Conv2d", params, weights)


def _conv_transpose(ctx: OpContext) -> None:
    w, b = ctx.const(1), _computed_zero_bias(ctx, ctx.const(2))
    if w is None or w.ndim != 4 or "output_shape" in ctx.attrs:
        raise Unsupported("needs a constant 4-D weight and no output_shape attribute")
    group = ctx.attrs.get("group", 1)
    params = {"out_channels": int(w.shape[1]) * group, "kernel_size": _pair(list(w.shape[2:]), 1)}
    params.update(
        _nonzero(
            {
                "stride": _pair(ctx.attrs.get("strides"), 1),
                "padding": _symmetric_pads(ctx),
                "output_padding": _pair(ctx.attrs.get("output_padding"), 0),
                "groups": group,
                "dilation": _pair(ctx.attrs.get("dilations"), 1),
                "bias": b is not None,
            },
            stride=1,
            padding=0,
            output_padding=0,
            groups=1,
            dilation=1,
            bias=True,
        )
    )
    ctx.emit("ConvTranspose2d", params, {"weight": w} | ({"bias": b} if b is not None else {}))


def _batch_norm(ctx: OpContext) -> None:
    scale, bias, mean, var = (ctx.const(i) for i in range(1, 5))
    if scale is None or bias is None or mean is None or var is None:
        raise Unsupported("needs constant scale, bias, mean and variance")
    rank = ctx.rank()
    type_name = "BatchNorm2d" if rank == 4 else "BatchNorm1d"
    momentum = round(1.0 - float(ctx.attrs.get("momentum", 0.9)), 6)  # ONNX keeps the old stats' weight
    params = _nonzero(
        {"eps": round(float(ctx.attrs.get("epsilon", 1e-5)), 12), "momentum": momentum}, eps=1e-5, momentum=0.1
    )
    ctx.emit(
        type_name,
        params,
        {
            "weight": scale,
            "bias": bias,
            "running_mean": mean,
            "running_var": var,
            "num_batches_tracked": np.array(0, dtype=np.int64),
        },
    )


def _pool(type_name: str) -> Callable[[OpContext], None]:
    def handle(ctx: OpContext) -> None:
        kernel = _pair(ctx.attrs.get("kernel_shape"), 1)
        params: dict[str, Any] = {"kernel_size": kernel}
        extra = {
            "stride": _pair(ctx.attrs.get("strides"), 1),
            "padding": _symmetric_pads(ctx),
            "ceil_mode": bool(ctx.attrs.get("ceil_mode", 0)),
        }
        if type_name == "MaxPool2d":
            extra["dilation"] = _pair(ctx.attrs.get("dilations"), 1)
        else:
            extra["count_include_pad"] = bool(ctx.attrs.get("count_include_pad", 0))
        params.update(_nonzero(extra, padding=0, ceil_mode=False, dilation=1, count_include_pad=True))
        if params.get("stride") == kernel:
            params.pop("stride")
        else:
            params.setdefault("stride", 1)
        ctx.emit(type_name, params)

    return handle


def _simple(type_name: str, **attr_map: tuple[str, Any]) -> Callable[[OpContext], None]:
    """An operator that maps one-to-one, renaming attributes (ONNX name -> (param, default))."""

    def handle(ctx: OpContext) -> None:
        params = {}
        for onnx_name, (param, default) in attr_map.items():
            value = ctx.attrs.get(onnx_name, default)
            if isinstance(value, float):
                value = round(value, 7)
            if value != default:
                params[param] = value
        ctx.emit(type_name, params)

    return handle


def _global(type_name: str) -> Callable[[OpContext], None]:
    def handle(ctx: OpContext) -> None:
        ctx.emit(type_name, {"output_size": 1})

    return handle


def _softmax(type_name: str) -> Callable[[OpContext], None]:
    def handle(ctx: OpContext) -> None:
        rank = ctx.rank() or 2
        axis = ctx.attrs.get("axis", -1) % rank
        ctx.emit(type_name, {} if axis == 1 else {"dim": axis})

    return handle


def _flatten(ctx: OpContext) -> None:
    if ctx.attrs.get("axis", 1) != 1:
        raise Unsupported(f"axis={ctx.attrs['axis']}: only flattening after the batch is supported")
    ctx.emit("Flatten", {})


def _reshape(ctx: OpContext) -> None:
    out, rank = ctx.out_shape(), ctx.rank()
    sample = static_sample_shape(out)
    if out is None or sample is None:
        raise Unsupported("the output shape after the batch is not static")
    if len(out) == 2 and rank is not None and rank > 2:
        ctx.emit("Flatten", {})
    else:
        ctx.emit("Reshape", {"shape": sample})


def _gemm(ctx: OpContext) -> None:
    w, c = ctx.const(1), ctx.const(2)
    if (
        w is None
        or ctx.attrs.get("transA", 0)
        or ctx.attrs.get("alpha", 1.0) != 1.0
        or ctx.attrs.get("beta", 1.0) != 1.0
    ):
        raise Unsupported("only x @ W^T + b with a constant W maps to Linear")
    weight = w if ctx.attrs.get("transB", 0) else w.T
    params = {"out_features": int(weight.shape[0])} | ({} if c is not None else {"bias": False})
    ctx.emit(
        "Linear", params, {"weight": weight} | ({"bias": np.broadcast_to(c, weight.shape[:1])} if c is not None else {})
    )


def _matmul(ctx: OpContext) -> None:
    w = ctx.const(1)
    if w is None or w.ndim != 2:
        raise Unsupported("only a product with a constant 2-D matrix maps to Linear")
    ctx.emit("Linear", {"out_features": int(w.shape[1]), "bias": False}, {"weight": w.T})


def _binary(type_name: str) -> Callable[[OpContext], None]:
    def handle(ctx: OpContext) -> None:
        consts = [ctx.const(i) for i in range(2)]
        if type_name == "Add" and consts[1] is not None and _fold_bias(ctx, consts[1]):
            return
        if any(c is not None for c in consts):
            raise Unsupported("an operand is a constant; only tensors computed by the network can be merged")
        ctx.emit(type_name, {})

    return handle


def _fold_bias(ctx: OpContext, bias: np.ndarray) -> bool:
    """MatMul then Add(constant) is one Linear with a bias: give the Linear its bias instead of a new node."""
    b = ctx.builder
    src = ctx.node.input[0]
    node = next((n for n in b.nodes if n.id == b.producer.get(src)), None)
    if node is None or node.type != "Linear" or node.params.get("bias", True) or len(b.consumers.get(src, [])) != 1:
        return False
    node.params.pop("bias")
    import torch

    b.state[f"{node.id}.bias"] = torch.from_numpy(np.array(np.broadcast_to(bias, (node.params["out_features"],))))
    b.producer[ctx.node.output[0]] = node.id
    return True


def _clip(ctx: OpContext) -> None:
    low = ctx.const(1) if len(ctx.node.input) > 1 else ctx.attrs.get("min")
    high = ctx.const(2) if len(ctx.node.input) > 2 else ctx.attrs.get("max")
    if low is not None and high is not None and float(low) == 0.0 and float(high) == 6.0:
        ctx.emit("ReLU6", {})
    elif low is not None and high is None and float(low) == 0.0:
        ctx.emit("ReLU", {})
    else:
        raise Unsupported(f"Clip({low}, {high}) has no layer; only ReLU (0, inf) and ReLU6 (0, 6)")


def _hard_sigmoid(ctx: OpContext) -> None:
    if abs(ctx.attrs.get("alpha", 0.2) - 1 / 6) > 1e-6 or abs(ctx.attrs.get("beta", 0.5) - 0.5) > 1e-6:
        raise Unsupported("only alpha=1/6, beta=0.5 (torch's Hardsigmoid) is supported")
    ctx.emit("Hardsigmoid", {})


def _resize(ctx: OpContext) -> None:
    mode = ctx.attrs.get("mode", "nearest")
    scales = ctx.const(2) if len(ctx.node.input) > 2 else ctx.const(1)
    sizes = ctx.const(3)
    coord = ctx.attrs.get("coordinate_transformation_mode", "half_pixel")
    params: dict[str, Any] = {}
    if scales is not None and scales.size == 4:
        params["scale_factor"] = [float(s) for s in scales[2:]]
    elif sizes is not None and sizes.size == 4:
        params["size"] = [int(s) for s in sizes[2:]]
    else:
        raise Unsupported("needs constant scales or sizes for the 2 spatial dimensions")
    if mode == "linear":
        params["mode"] = "bilinear"
        params["align_corners"] = coord == "align_corners"
    elif mode == "cubic":
        params["mode"] = "bicubic"
        params["align_corners"] = coord == "align_corners"
    elif mode != "nearest":
        raise Unsupported(f"mode={mode}")
    ctx.emit("Upsample", params)


def _pad(ctx: OpContext) -> None:
    pads = ctx.const(1) if len(ctx.node.input) > 1 else np.array(ctx.attrs.get("pads", []))
    value = ctx.const(2)
    if (
        ctx.attrs.get("mode", "constant") != "constant"
        or (value is not None and float(value) != 0.0)
        or pads is None
        or pads.size != 8
        or any(pads[[0, 1, 4, 5]])
    ):
        raise Unsupported("only zero padding of the two spatial dimensions maps to ZeroPad2d")
    top, left, bottom, right = (int(pads[i]) for i in (2, 3, 6, 7))
    ctx.emit("ZeroPad2d", {"padding": [left, right, top, bottom]})


def _reduce_mean(ctx: OpContext) -> None:
    axes = ctx.const(1) if len(ctx.node.input) > 1 else ctx.attrs.get("axes")
    rank = ctx.rank() or 4
    if axes is None or sorted(int(a) % rank for a in np.atleast_1d(axes)) != [2, 3] or rank != 4:
        raise Unsupported("only a mean over height and width maps (to AdaptiveAvgPool2d(1))")
    if ctx.attrs.get("keepdims", 1):
        ctx.emit("AdaptiveAvgPool2d", {"output_size": 1})
        return
    pool = ctx.emit("AdaptiveAvgPool2d", {"output_size": 1}, output=ctx.node.output[0] + "::pooled")
    ctx.emit("Flatten", {}, inputs=[pool])


def _concat(ctx: OpContext) -> None:
    ctx.emit("Concat", {} if ctx.attrs.get("axis", 1) == 1 else {"dim": ctx.attrs["axis"]})


def _identity(ctx: OpContext) -> None:
    ctx.emit("Identity", {})


def _dropout(ctx: OpContext) -> None:
    ratio = ctx.const(1)
    p = float(ratio) if ratio is not None else float(ctx.attrs.get("ratio", 0.5))
    ctx.emit("Dropout", {} if p == 0.5 else {"p": round(p, 7)})


OPS: dict[str, Callable[[OpContext], None]] = {
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "BatchNormalization": _batch_norm,
    "MaxPool": _pool("MaxPool2d"),
    "AveragePool": _pool("AvgPool2d"),
    "GlobalAveragePool": _global("AdaptiveAvgPool2d"),
    "GlobalMaxPool": _global("AdaptiveMaxPool2d"),
    "Relu": _simple("ReLU"),
    "Sigmoid": _simple("Sigmoid"),
    "Tanh": _simple("Tanh"),
    "LeakyRelu": _simple("LeakyReLU", alpha=("negative_slope", 0.01)),
    "Elu": _simple("ELU", alpha=("alpha", 1.0)),
    "HardSwish": _simple("Hardswish"),
    "HardSigmoid": _hard_sigmoid,
    "Clip": _clip,
    "Gelu": _simple("GELU", approximate=("approximate", "none")),
    "Softmax": _softmax("Softmax"),
    "LogSoftmax": _softmax("LogSoftmax"),
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Add": _binary("Add"),
    "Mul": _binary("Mul"),
    "Concat": _concat,
    "Resize": _resize,
    "Upsample": _resize,
    "Pad": _pad,
    "Dropout": _dropout,
    "Identity": _identity,
    "ReduceMean": _reduce_mean,
}
