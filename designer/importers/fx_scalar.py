"""Arithmetic of a traced tensor with a Python number (``y * 2``, ``x / 255``, ``1 - x``, ``x ** 2``): one ScalarOp."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

import torch
from torch import fx

if TYPE_CHECKING:
    from .fx_mapper import FxMapper

#: Functions -> the ScalarOp op with the tensor first, and with the number first (None: not a ScalarOp).
_FUNCTIONS: dict[Any, tuple[str, str | None]] = {
    operator.add: ("add", "add"),
    operator.iadd: ("add", "add"),
    torch.add: ("add", "add"),
    operator.sub: ("sub", "rsub"),
    operator.isub: ("sub", "rsub"),
    torch.sub: ("sub", "rsub"),
    operator.mul: ("mul", "mul"),
    operator.imul: ("mul", "mul"),
    torch.mul: ("mul", "mul"),
    operator.truediv: ("div", "rdiv"),
    operator.itruediv: ("div", "rdiv"),
    torch.div: ("div", None),
    operator.pow: ("pow", None),
    torch.pow: ("pow", None),
}
#: Tensor methods (the tensor is always first).
_METHODS = {"add": "add", "add_": "add", "sub": "sub", "sub_": "sub", "mul": "mul", "mul_": "mul"}
_METHODS |= {"div": "div", "div_": "div", "pow": "pow", "pow_": "pow", "rsub": "rsub"}


def scalar_op(node: fx.Node) -> tuple[fx.Node, dict[str, Any]] | None:
    """The input and ScalarOp params of ``node`` when it is a tensor combined with one plain number."""
    if node.kwargs or len(node.args) != 2:  # alpha=, rounding_mode=: not the plain operator
        return None
    first, second = node.args
    if node.op == "call_method":
        op: str | None = _METHODS.get(str(node.target))
        reverse = False
    elif node.op == "call_function" and node.target in _FUNCTIONS:
        reverse = not isinstance(first, fx.Node)
        op = _FUNCTIONS[node.target][reverse]
        first, second = (second, first) if reverse else (first, second)
    else:
        return None
    number = isinstance(second, (int, float)) and not isinstance(second, bool)
    if op is None or not isinstance(first, fx.Node) or not number:
        return None
    return first, {"op": op, "value": float(second)}  # type: ignore[arg-type]


def map_scalar_op(m: FxMapper, node: fx.Node) -> bool:
    """Emit a ScalarOp for ``node`` if it is one; False leaves it to the other mappings."""
    found = scalar_op(node)
    if found is None or found[0] not in m.ids or m.attribute(found[0]) is not None:
        return False
    src, params = found
    m.emit(node, m.local_id(node, "scalar"), "ScalarOp", params, [src])
    return True
