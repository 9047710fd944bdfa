"""ONNX operators that combine tensors or apply a weight matrix: Add, Mul, Sum, Max, Min, Mean, Concat, Gemm and
MatMul."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .onnx_context import OpContext, Unsupported
from .onnx_ops_lrn import lrn_arithmetic


def binary(type_name: str) -> Callable[[OpContext], None]:
    """``Add`` / ``Mul`` of two computed tensors, broadcasting as torch does (SE gates, residuals)."""

    def handle(ctx: OpContext) -> None:
        consts = [ctx.const(i) for i in range(2)]
        bias = (
            next((i for i, c in enumerate(consts) if c is not None), None)
            if sum(c is None for c in consts) == 1
            else None
        )
        if type_name == "Add" and bias is not None and _fold_bias(ctx, consts[bias], ctx.node.input[1 - bias]):
            return
        if type_name == "Mul" and (_layer_scale(ctx, consts) or lrn_arithmetic(ctx)):
            return
        if any(c is not None for c in consts):
            raise Unsupported("an operand is a constant; only tensors computed by the network can be merged")
        ctx.emit(type_name, {})

    return handle


def _layer_scale(ctx: OpContext, consts: list[np.ndarray | None]) -> bool:
    """A feature map times a constant per channel (``[C, 1, 1]``, ``[1, C, 1, 1]``) is a LayerScale with those
    factors as its weight (ConvNeXt's layer scale, a fixed per-channel gain)."""
    scale = next((c for c in consts if c is not None), None)
    data = ctx.in_shape(0 if consts[0] is None else 1)
    if scale is None or data is None or len(data) != 4 or not isinstance(data[1], int):
        return False
    channels = data[1]
    if scale.size != channels or scale.ndim < 3 or scale.shape[-3] != channels:
        return False
    ctx.emit("LayerScale", {}, {"weight": scale.reshape(channels, 1, 1).astype(np.float32)})
    return True


def variadic(type_name: str) -> Callable[[OpContext], None]:
    """``Sum`` / ``Max`` / ``Min`` / ``Mean`` of any number of tensors (Caffe2's residual merges, maxout): one
    ``type_name`` node over them all; of one tensor, an Identity."""

    def handle(ctx: OpContext) -> None:
        if any(ctx.const(i) is not None for i in range(len(ctx.node.input))):
            raise Unsupported("an operand is a constant; only tensors computed by the network can be merged")
        ctx.emit(type_name if len(ctx.node.input) > 1 else "Identity", {})

    return handle


def _fold_bias(ctx: OpContext, bias: np.ndarray | None, src: str) -> bool:
    """MatMul then Add(constant), in either order, is one Linear with a bias: give the Linear its bias instead of a
    new node."""
    b = ctx.builder
    if bias is None:
        return False
    node = next((n for n in b.nodes if n.id == b.producer.get(src)), None)
    if node is None or node.type != "Linear" or node.params.get("bias", True) or len(b.consumers.get(src, [])) != 1:
        return False
    if bias.size not in (1, node.params["out_features"]):
        return False
    node.params.pop("bias")
    import torch

    b.state[f"{node.id}.bias"] = torch.from_numpy(np.array(np.broadcast_to(bias, (node.params["out_features"],))))
    b.producer[ctx.node.output[0]] = node.id
    return True


def concat(ctx: OpContext) -> None:
    ctx.emit("Concat", {} if ctx.attrs.get("axis", 1) == 1 else {"dim": ctx.attrs["axis"]})


def gemm(ctx: OpContext) -> None:
    """``alpha * op(A) @ op(B) + beta * C`` with a constant B and C is a Linear whose weight and bias carry the
    scales; ``op(A)`` is the sample batch itself (``transA=0``, or a transpose of a Transpose)."""
    w, c = ctx.const(1), ctx.const(2)
    if ctx.attrs.get("transA", 0) and ctx.node.input[0] not in ctx.builder.transposed:
        raise Unsupported("transA=1 reads the batch as features; it maps to Linear only after a Transpose of [N, K]")
    if w is None or w.ndim != 2:
        raise Unsupported("only alpha * x @ op(W) + beta * C with a constant W maps to Linear")
    if len(ctx.node.input) > 2 and ctx.node.input[2] and c is None:
        raise Unsupported("C is computed by the network; only a constant bias maps to Linear")
    alpha, beta = float(ctx.attrs.get("alpha", 1.0)), float(ctx.attrs.get("beta", 1.0))
    weight = (w if ctx.attrs.get("transB", 0) else w.T) * np.float32(alpha)
    weights = {"weight": weight.astype(w.dtype)}
    if c is not None:
        if c.size not in (1, weight.shape[0]):
            raise Unsupported(f"C has shape {list(c.shape)}; only a bias per output feature maps to Linear")
        weights["bias"] = (np.broadcast_to(c.reshape(-1), weight.shape[:1]) * np.float32(beta)).astype(c.dtype)
    ctx.emit("Linear", {"out_features": int(weight.shape[0])} | ({} if c is not None else {"bias": False}), weights)


def matmul(ctx: OpContext) -> None:
    w = ctx.const(1)
    if w is None or w.ndim != 2:
        raise Unsupported("only a product with a constant 2-D matrix maps to Linear")
    # on a map (ConvNeXt's channels-last MLP) a Linear states its in_features: it acts on the last dimension
    on_map = {"in_features": int(w.shape[0])} if (ctx.rank() or 2) > 3 else {}
    ctx.emit("Linear", on_map | {"out_features": int(w.shape[1]), "bias": False}, {"weight": w.T})
