"""ONNX operators over feature maps: convolutions, normalisations, pooling, padding and resizing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .onnx_context import OpContext, Unsupported, nonzero, pair, short_float, symmetric_pads


def _computed_zero_bias(ctx: OpContext, b: np.ndarray | None) -> np.ndarray | None:
    """torch's exporter writes ``bias=False`` as a computed zero vector (folded into an anonymous constant); that is
    no bias at all. A bias that is a named parameter (``conv1.bias``) stays, even when it is all zeros."""
    named = len(ctx.node.input) > 2 and ctx.node.input[2].endswith("bias")
    return None if b is not None and not named and not np.any(b) else b


def _conv_params(ctx: OpContext, w: np.ndarray, b: np.ndarray | None, out_channels: int) -> dict[str, Any]:
    params: dict[str, Any] = {"out_channels": out_channels, "kernel_size": pair(list(w.shape[2:]), 1)}
    extra: dict[str, Any] = {
        "stride": pair(ctx.attrs.get("strides"), 1),
        "padding": symmetric_pads(ctx),
        "dilation": pair(ctx.attrs.get("dilations"), 1),
        "groups": ctx.attrs.get("group", 1),
        "bias": b is not None,
    }
    if ctx.node.op_type == "ConvTranspose":
        extra["output_padding"] = pair(ctx.attrs.get("output_padding"), 0)
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True, "output_padding": 0}
    return params | nonzero(extra, **defaults)


def conv(ctx: OpContext) -> None:
    w, b = ctx.const(1), _computed_zero_bias(ctx, ctx.const(2))
    if w is None or w.ndim != 4:
        raise Unsupported("needs a constant 4-D weight")
    params = _conv_params(ctx, w, b, int(w.shape[0]))
    ctx.emit("Conv2d", params, {"weight": w} | ({"bias": b} if b is not None else {}))


def conv_transpose(ctx: OpContext) -> None:
    w, b = ctx.const(1), _computed_zero_bias(ctx, ctx.const(2))
    if w is None or w.ndim != 4 or "output_shape" in ctx.attrs:
        raise Unsupported("needs a constant 4-D weight and no output_shape attribute")
    params = _conv_params(ctx, w, b, int(w.shape[1]) * ctx.attrs.get("group", 1))
    ctx.emit("ConvTranspose2d", params, {"weight": w} | ({"bias": b} if b is not None else {}))


def batch_norm(ctx: OpContext) -> None:
    scale, bias, mean, var = (ctx.const(i) for i in range(1, 5))
    if scale is None or bias is None or mean is None or var is None:
        raise Unsupported("needs constant scale, bias, mean and variance")
    type_name = "BatchNorm2d" if ctx.rank() == 4 else "BatchNorm1d"
    momentum = round(1.0 - float(ctx.attrs.get("momentum", 0.9)), 6)  # ONNX keeps the old stats' weight
    params = nonzero(
        {"eps": round(float(ctx.attrs.get("epsilon", 1e-5)), 12), "momentum": momentum}, eps=1e-5, momentum=0.1
    )
    weights = {"weight": scale, "bias": bias, "running_mean": mean, "running_var": var}
    ctx.emit(type_name, params, weights | {"num_batches_tracked": np.array(0, dtype=np.int64)})


def lrn(ctx: OpContext) -> None:
    """``LRN`` (AlexNet, GoogLeNet, Caffe2's zoo): the same formula as torch's LocalResponseNorm."""
    params = nonzero(
        {
            "size": int(ctx.attrs["size"]),
            "alpha": short_float(ctx.attrs.get("alpha", 1e-4)),
            "beta": short_float(ctx.attrs.get("beta", 0.75)),
            "k": short_float(ctx.attrs.get("bias", 1.0)),
        },
        alpha=1e-4,
        beta=0.75,
        k=1.0,
    )
    ctx.emit("LocalResponseNorm", params)


def pool(type_name: str) -> Callable[[OpContext], None]:
    def handle(ctx: OpContext) -> None:
        kernel = pair(ctx.attrs.get("kernel_shape"), 1)
        params: dict[str, Any] = {"kernel_size": kernel}
        extra = {
            "stride": pair(ctx.attrs.get("strides"), 1),
            "padding": symmetric_pads(ctx),
            "ceil_mode": bool(ctx.attrs.get("ceil_mode", 0)),
        }
        if type_name == "MaxPool2d":
            extra["dilation"] = pair(ctx.attrs.get("dilations"), 1)
        else:
            extra["count_include_pad"] = bool(ctx.attrs.get("count_include_pad", 0))
        params.update(nonzero(extra, padding=0, ceil_mode=False, dilation=1, count_include_pad=True))
        if params.get("stride") == kernel:
            params.pop("stride")
        else:
            params.setdefault("stride", 1)
        ctx.emit(type_name, params)

    return handle


def global_pool(type_name: str) -> Callable[[OpContext], None]:
    def handle(ctx: OpContext) -> None:
        ctx.emit(type_name, {"output_size": 1})

    return handle


def resize(ctx: OpContext) -> None:
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
    if mode in ("linear", "cubic"):
        params["mode"] = "bilinear" if mode == "linear" else "bicubic"
        params["align_corners"] = coord == "align_corners"
    elif mode != "nearest":
        raise Unsupported(f"mode={mode}")
    ctx.emit("Upsample", params)


def pad(ctx: OpContext) -> None:
    """Zero padding of the two spatial dimensions (``pads`` as an input from opset 11, an attribute before)."""
    pads = ctx.const(1) if len(ctx.node.input) > 1 else np.array(ctx.attrs.get("pads", []))
    value = ctx.const(2) if len(ctx.node.input) > 2 else ctx.attrs.get("value", 0.0)
    if ctx.attrs.get("mode", "constant") != "constant" or (value is not None and float(value) != 0.0):
        raise Unsupported(f"only zero padding maps (to ZeroPad2d), not mode={ctx.attrs.get('mode')} value={value}")
    if pads is None or pads.size != 8 or any(pads[[0, 1, 4, 5]]) or len(ctx.node.input) > 3:
        raise Unsupported("only padding of the two spatial dimensions of a 4-D tensor maps to ZeroPad2d")
    top, left, bottom, right = (int(pads[i]) for i in (2, 3, 6, 7))
    ctx.emit("ZeroPad2d", {"padding": [left, right, top, bottom]})
