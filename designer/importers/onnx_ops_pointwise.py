"""ONNX operators that act on each value alone: activations, clipping, softmax, dropout, identity."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .onnx_context import OpContext, Unsupported, nonzero, short_float


def simple(type_name: str, **attr_map: tuple[str, Any]) -> Callable[[OpContext], None]:
    """An operator that maps one-to-one, renaming attributes (ONNX name -> (param, default))."""

    def handle(ctx: OpContext) -> None:
        params = {}
        for onnx_name, (param, default) in attr_map.items():
            value = ctx.attrs.get(onnx_name, default)
            if isinstance(value, float):
                value = short_float(value)
            if value != default:
                params[param] = value
        ctx.emit(type_name, params)

    return handle


def _bound(ctx: OpContext, index: int, attr: str, default: float) -> float:
    value = ctx.const(index) if len(ctx.node.input) > index and ctx.node.input[index] else ctx.attrs.get(attr)
    if value is None and len(ctx.node.input) > index and ctx.node.input[index]:
        raise Unsupported("its bounds are computed by the network; only constant bounds map")
    return default if value is None else float(value)


def clip(ctx: OpContext) -> None:
    """``Clip``: ReLU6 for (0, 6), ReLU for (0, inf), Hardtanh for any other finite pair."""
    low, high = _bound(ctx, 1, "min", -math.inf), _bound(ctx, 2, "max", math.inf)
    if (low, high) == (0.0, 6.0):
        ctx.emit("ReLU6", {})
    elif (low, high) == (0.0, math.inf):
        ctx.emit("ReLU", {})
    elif math.isfinite(low) and math.isfinite(high):
        bounds = {"min_val": short_float(low), "max_val": short_float(high)}
        ctx.emit("Hardtanh", nonzero(bounds, min_val=-1.0, max_val=1.0))
    else:
        raise Unsupported(f"Clip({low}, {high}) has no layer: one bound is open and the other is not 0")


def hard_sigmoid(ctx: OpContext) -> None:
    """torch's Hardsigmoid; ``x * HardSigmoid(x)`` (HardSwish as a function body, or as older exporters wrote it)
    is one Hardswish."""
    if abs(ctx.attrs.get("alpha", 0.2) - 1 / 6) > 1e-6 or abs(ctx.attrs.get("beta", 0.5) - 0.5) > 1e-6:
        raise Unsupported("only alpha=1/6, beta=0.5 (torch's Hardsigmoid) is supported")
    if not _self_gated(ctx, "Hardswish"):
        ctx.emit("Hardsigmoid", {})


def sigmoid(ctx: OpContext) -> None:
    """Sigmoid; ``x * Sigmoid(x)`` (how exporters write SiLU before opset 22) is one SiLU."""
    if not _self_gated(ctx, "SiLU"):
        ctx.emit("Sigmoid", {})


def _self_gated(ctx: OpContext, type_name: str) -> bool:
    """Emit ``type_name`` for ``x * f(x)`` when this node is ``f`` and its only user is that product."""
    users = ctx.builder.consumers.get(ctx.node.output[0], [])
    gate = users[0] if len(users) == 1 and users[0].op_type == "Mul" else None
    if gate is None or sorted(gate.input) != sorted([ctx.node.input[0], ctx.node.output[0]]):
        return False
    ctx.emit(type_name, {}, output=gate.output[0])
    ctx.builder.absorbed.add(id(gate))
    return True


def softmax(type_name: str) -> Callable[[OpContext], None]:
    def handle(ctx: OpContext) -> None:
        rank = ctx.rank() or 2
        axis = ctx.attrs.get("axis", -1) % rank
        ctx.emit(type_name, {} if axis == 1 else {"dim": axis})

    return handle


def dropout(ctx: OpContext) -> None:
    ratio = ctx.const(1)
    p = float(ratio) if ratio is not None else float(ctx.attrs.get("ratio", 0.5))
    ctx.emit("Dropout", {} if p == 0.5 else {"p": round(p, 7)})


def identity(ctx: OpContext) -> None:
    ctx.emit("Identity", {})
