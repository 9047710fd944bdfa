"""ONNX ``LayerNormalization``: over the last dimensions a LayerNorm; between a Transpose to channels-last and one
back, ConvNeXt's LayerNorm2d over the channels of a map."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .onnx_context import OpContext, Unsupported, short_float, static_dims

if TYPE_CHECKING:
    import onnx


def _params_and_weights(
    ctx: OpContext, node: onnx.NodeProto, shape: list[int]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    scale, bias = ctx.const_of(node, 1), ctx.const_of(node, 2)
    if scale is None or (len(node.input) > 2 and node.input[2] and bias is None):
        raise Unsupported("needs a constant scale and bias")
    attrs = {a.name: a for a in node.attribute}
    eps = short_float(attrs["epsilon"].f) if "epsilon" in attrs else 1e-5
    params: dict[str, Any] = {"normalized_shape": shape} | ({} if eps == 1e-5 else {"eps": eps})
    weights = {"weight": np.broadcast_to(scale, shape).astype(np.float32)}
    if bias is None:
        params["bias"] = False
    else:
        weights["bias"] = np.broadcast_to(bias, shape).astype(np.float32)
    return params, weights


def layer_norm(ctx: OpContext) -> None:
    """Normalisation over the dimensions from ``axis`` on (each sample's last ones): a LayerNorm."""
    rank, shape = ctx.rank(), ctx.in_shape()
    axis = int(ctx.attrs.get("axis", -1)) % rank if rank else None
    dims = static_dims(shape[axis:]) if shape is not None and axis is not None else None
    if axis is None or axis == 0 or not dims:
        raise Unsupported("only a normalisation over sample dimensions of a known size maps to LayerNorm")
    params, weights = _params_and_weights(ctx, ctx.node, dims)
    ctx.emit("LayerNorm", params, weights)


def channel_layer_norm(ctx: OpContext) -> bool:
    """This Transpose to channels-last, a LayerNormalization over the last axis and a Transpose back (how torch
    writes ConvNeXt's LayerNorm2d) as one LayerNorm2d node."""
    if [int(p) for p in ctx.attrs.get("perm", [])] != [0, 2, 3, 1] or not ctx.has_type("LayerNorm2d"):
        return False
    norm = ctx.only_user(ctx.node.output[0], "LayerNormalization")
    back = ctx.only_user(norm.output[0], "Transpose") if norm is not None else None
    if norm is None or back is None or len(norm.output) > 1:
        return False
    back_perm = next((list(a.ints) for a in back.attribute if a.name == "perm"), None)
    axis = next((a.i for a in norm.attribute if a.name == "axis"), -1)
    channels = (ctx.in_shape() or [None, None])[1]
    if back_perm != [0, 3, 1, 2] or axis not in (-1, 3) or not isinstance(channels, int):
        return False
    params, weights = _params_and_weights(ctx, norm, [channels])
    ctx.emit("LayerNorm2d", params, weights, output=back.output[0])
    ctx.builder.absorbed.update({id(norm), id(back)})
    return True
