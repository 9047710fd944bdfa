"""ONNX Add, Sub, Mul, Div and Pow of a computed tensor and one constant number (a scalar or a one-element
constant): a ScalarOp. A per-channel constant is not one; the other handlers take those (LayerScale, a Linear's
bias)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .onnx_context import OpContext, Unsupported

#: ONNX operator -> the ScalarOp op with the tensor first, and with the constant first (None: none).
_OPS: dict[str, tuple[str, str | None]] = {
    "Add": ("add", "add"),
    "Sub": ("sub", "rsub"),
    "Mul": ("mul", "mul"),
    "Div": ("div", "rdiv"),
    "Pow": ("pow", None),
}


def scalar_op(ctx: OpContext) -> bool:
    """Emit a ScalarOp when one operand is computed and the other a constant of one element."""
    consts = [ctx.const(i) for i in range(2)]
    if len(ctx.node.input) != 2 or sum(c is not None for c in consts) != 1 or not ctx.has_type("ScalarOp"):
        return False
    reverse = consts[0] is not None
    value = consts[0] if reverse else consts[1]
    op = _OPS[ctx.node.op_type][reverse]
    if value is None or value.size != 1 or value.dtype.kind != "f" or op is None:
        return False
    data = ctx.in_shape(1 if reverse else 0)
    if data is not None and len(data) < value.ndim:  # the constant would add dimensions
        return False
    ctx.emit("ScalarOp", {"op": op, "value": _short(value)})
    return True


def arithmetic(fallback: Callable[[OpContext], None] | None = None) -> Callable[[OpContext], None]:
    """The handler of one operator: ``fallback`` (patterns and merges) first, a ScalarOp when it maps nothing."""

    def handle(ctx: OpContext) -> None:
        if fallback is None:
            if not scalar_op(ctx):
                raise Unsupported(f"only {ctx.node.op_type} of a tensor and one constant number has a layer")
            return
        try:
            fallback(ctx)
        except Unsupported:
            if not scalar_op(ctx):
                raise

    return handle


def reciprocal(ctx: OpContext) -> None:
    """``1 / x``; followed by its only user ``Mul(c)``, ``c / x``: torch computes ``c / x`` as ``x.reciprocal() * c``
    (``Tensor.__rtruediv__``), which is what its exporters write, so both are one rdiv ScalarOp, bit for bit."""
    mul = ctx.only_user(ctx.node.output[0], "Mul")
    consts = [ctx.const_of(mul, i) for i in range(2)] if mul is not None and len(mul.input) == 2 else [None]
    scale = next((c for c in consts if c is not None), None)
    if mul is None or scale is None or scale.size != 1 or scale.dtype.kind != "f" or scale.ndim > (ctx.rank() or 0):
        ctx.emit("ScalarOp", {"op": "rdiv", "value": 1.0})
        return
    ctx.emit("ScalarOp", {"op": "rdiv", "value": _short(scale)}, output=mul.output[0])
    ctx.builder.absorbed.add(id(mul))


def _short(value: np.ndarray) -> float:
    """The shortest number that reads back as this one-element float32 (0.33333334), so torch computes with it."""
    return float(str(np.float32(value.reshape(()))))
