"""Arithmetic with a constant: ``x * 2``, ``x / 255``, ``x - 0.5``, ``1 - x``, ``x ** 2``. It compiles to the Python
operator itself, as a course's ``forward`` writes it, so the values are torch's own (``x / 3``, never
``x * (1 / 3)``)."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

from ..model.params import Kind, Param, required
from .graph_ops import GraphOp
from .registry import Ctx, Shape, fmt_shape, register

if TYPE_CHECKING:
    from torch import fx

#: op -> (Python operator, whether the constant is the left operand, the formula with x and c).
OPS: dict[str, tuple[Any, bool, str]] = {
    "add": (operator.add, False, "x + c"),
    "sub": (operator.sub, False, "x - c"),
    "mul": (operator.mul, False, "x * c"),
    "div": (operator.truediv, False, "x / c"),
    "pow": (operator.pow, False, "x ** c"),
    "rsub": (operator.sub, True, "c - x"),
    "rdiv": (operator.truediv, True, "c / x"),
}


@register
class ScalarOp(GraphOp):
    name = "ScalarOp"
    category = "Merge"  # beside Add and Mul: the same arithmetic, with a number for the other operand
    doc = "One constant with every element: x * 2, x / 255, x - 0.5, 1 - x (rsub), x ** 2; shape unchanged"
    params = (
        Param(
            "op", Kind.CHOICE, required(), choices=tuple(OPS), doc="add, sub, mul, div, pow; rsub: c - x, rdiv: c / x"
        ),
        Param("value", Kind.FLOAT, required(), doc="the constant c"),
    )

    def emit(self, ctx: Ctx, graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        fn, reverse, _ = OPS[ctx.p["op"]]
        value = float(ctx.p["value"])
        return graph.call_function(fn, (value, args[0]) if reverse else (args[0], value))

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        formula = OPS[ctx.p["op"]][2].replace("c", repr(float(ctx.p["value"])))
        return [f"each element y = {formula}; output = input = {fmt_shape(out)}; params = 0"]
