"""ONNX operators that act on each value alone: activations (and the arithmetic exporters write some as), clipping,
softmax, dropout, identity."""

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


def div(ctx: OpContext) -> None:
    """Division has no layer; ``x / sqrt(2)`` that starts torch's exact GELU before opset 20 is one GELU."""
    if not _erf_gelu(ctx):
        raise Unsupported("a division has no layer (only as the start of an exact GELU)")


def _erf_gelu(ctx: OpContext) -> bool:
    """``Div(x, sqrt 2) -> Erf -> Add(1)``, then times x and times 0.5 in either order (TorchScript: x first; the
    dynamo exporter's opset-18 GELU: 0.5 first): how torch's exporters write the exact GELU before opset 20."""
    x = ctx.node.input[0]
    erf = ctx.only_user(ctx.node.output[0], "Erf") if _is_const(ctx, ctx.node, 1, math.sqrt(2)) else None
    plus = ctx.only_user(erf.output[0], "Add") if erf is not None else None
    first = ctx.only_user(plus.output[0], "Mul") if plus is not None and _has_const(ctx, plus, 1.0) else None
    second = ctx.only_user(first.output[0], "Mul") if first is not None else None
    if first is None or second is None:
        return False
    if not any(x in a.input and _has_const(ctx, b, 0.5) for a, b in ((first, second), (second, first))):
        return False
    ctx.emit("GELU", {}, output=second.output[0])
    ctx.builder.absorbed.update(id(n) for n in (erf, plus, first, second))
    return True


def _is_const(ctx: OpContext, node: Any, index: int, value: float) -> bool:
    c = ctx.const_of(node, index)
    return c is not None and c.size == 1 and math.isclose(float(c.reshape(())), value, rel_tol=1e-6)


def _has_const(ctx: OpContext, node: Any, value: float) -> bool:
    return any(_is_const(ctx, node, i, value) for i in range(len(node.input)))


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
    """An Identity node; but one that only passes a graph input on is that input (ONNX forbids listing an input as
    an output, so exporters, ours included, write ``input -> Identity -> output`` for a design that returns its
    Input): the design lists the Input among its outputs, as it was written."""
    graph_inputs = {v.name for v in ctx.builder.graph.input}
    graph_outputs = {v.name for v in ctx.builder.graph.output}
    source, value = ctx.node.input[0], ctx.node.output[0]
    if source in graph_inputs and source not in graph_outputs and value in graph_outputs:
        ctx.builder.producer[value] = ctx.builder.producer[source]
        return
    ctx.emit("Identity", {})
