"""Graph operations as Python expressions, read from the compiler's fx graph (``torch.cat([a, b], dim=1)``)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import fx

from ._calls import py
from ._common import fail

_BINARY: dict[Any, str] = {
    operator.add: "+",
    operator.sub: "-",
    operator.mul: "*",
    operator.truediv: "/",
    operator.matmul: "@",
    operator.pow: "**",
}
#: Operators that group to the left, so ``(a - b) - c`` may drop its parentheses (``**`` groups to the right).
_LEFT = frozenset({operator.add, operator.sub, operator.mul, operator.truediv, operator.matmul})


class Expressions:
    """Writes fx nodes as expressions over named values; unnamed intermediate nodes are written inline."""

    def __init__(self, names: Mapping[fx.Node, str]):
        self.names = names

    def value(self, node: fx.Node) -> str:
        """A named node's name, else its expression."""
        return self.names[node] if node in self.names else self.expr(node)

    def expr(self, node: fx.Node) -> str:
        """The Python expression an fx node computes."""
        if node.op == "call_method":
            return f"{self.operand(node.args[0])}.{node.target}({self._args(node.args[1:], node.kwargs)})"
        if node.op == "call_function" and node.target is operator.getitem:
            return f"{self.operand(node.args[0])}[{_index(node.args[1])}]"
        if node.op == "call_function" and node.target in _BINARY:
            left, right = node.args
            chained = isinstance(left, fx.Node) and left not in self.names and left.target is node.target
            chained = chained and node.target in _LEFT
            lhs = self.expr(left) if chained and isinstance(left, fx.Node) else self.operand(left)
            return f"{lhs} {_BINARY[node.target]} {self.operand(right)}"
        if node.op == "call_function" and callable(node.target):
            return f"{_qualified(node.target)}({self._args(node.args, node.kwargs)})"
        raise fail("export.python_op", f"cannot write the operation {node.format_node()} as Python")

    def operand(self, arg: Any) -> str:
        """An argument of a binary operator: an inlined operator expression gets parentheses."""
        text = self.literal(arg)
        inlined = isinstance(arg, fx.Node) and arg not in self.names
        return f"({text})" if inlined and arg.op == "call_function" and arg.target in _BINARY else text

    def literal(self, value: Any) -> str:
        """An fx argument: a node, a list or tuple of them, or a constant."""
        if isinstance(value, fx.Node):
            return self.value(value)
        if isinstance(value, list):
            return "[" + ", ".join(self.literal(v) for v in value) + "]"
        if isinstance(value, tuple):
            inner = ", ".join(self.literal(v) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return py(value)

    def _args(self, args: tuple[Any, ...], kwargs: Mapping[str, Any] | None = None) -> str:
        parts = [self.literal(a) for a in args]
        parts += [f"{k}={self.literal(v)}" for k, v in (kwargs or {}).items()]
        return ", ".join(parts)


def _index(index: Any) -> str:
    """A subscript as written in Python: ``:, 2:8:2``."""
    parts = index if isinstance(index, tuple) else (index,)
    return ", ".join(_slice(p) if isinstance(p, slice) else py(p) for p in parts)


def _slice(s: slice) -> str:
    text = ":".join("" if v is None else py(v) for v in (s.start, s.stop))
    return text if s.step is None else f"{text}:{py(s.step)}"


def _qualified(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", repr(fn))
    if getattr(torch, name, None) is not fn:
        raise fail("export.python_op", f"cannot write a call to {name} with torch alone")
    return f"torch.{name}"
