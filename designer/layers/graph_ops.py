"""Graph operations: inputs, element-wise merges, concatenation and reshaping. They compile to tensor operations,
not submodules."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

from ..model.params import Kind, Param, required
from .registry import Ctx, LayerSpec, Shape, feature_dim, fmt_shape, prod, register

if TYPE_CHECKING:
    from torch import fx


class GraphOp(LayerSpec):
    """A node that is not a submodule: the compiler calls ``emit`` to add its operation to the fx graph."""

    @property
    def is_module(self) -> bool:
        return False

    def emit(self, ctx: Ctx, graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        raise NotImplementedError

    def build(self, ctx: Ctx) -> Any:
        raise TypeError(f"{self.name} is a graph operation, not a module")


@register
class Input(GraphOp):
    name = "Input"
    category = "Input/Output"
    doc = "A network input; shape excludes the batch: [C, H, W] for images, [F] for features"
    arity = (0, 0)
    params = (Param("shape", Kind.SHAPE, required(), doc="sample shape without the batch, e.g. [3, 224, 224]"),)

    def shape(self, ctx: Ctx) -> Shape:
        return tuple(ctx.p["shape"])

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        return [f"output = declared shape = {fmt_shape(out)} (plus the batch dimension)"]


class _Elementwise(GraphOp):
    category = "Merge"
    arity = (2, None)
    op_word = ""

    def shape(self, ctx: Ctx) -> Shape:
        out = list(ctx.x0)
        for port, s in enumerate(ctx.x[1:], start=1):
            if len(s) != len(out):
                raise ctx.fail(
                    "shape.rank_mismatch",
                    f"{ctx.who}: '{ctx.src[0]}' gives {fmt_shape(ctx.x0)} but "
                    f"'{ctx.src[port]}' gives {fmt_shape(s)} (different ranks)",
                    "reshape one branch so both have the same number of dimensions",
                    port,
                )
            for dim, (a, b) in enumerate(zip(out, s)):
                if a != b and 1 not in (a, b):
                    raise self._mismatch(ctx, port, dim, a, b)
                out[dim] = max(a, b) if 1 in (a, b) else a
        return tuple(out)

    def _mismatch(self, ctx: Ctx, port: int, dim: int, a: int, b: int) -> Exception:
        first, other = ctx.src[0], ctx.src[port]
        if dim == 0 and len(ctx.x0) == 3:
            return ctx.fail(
                "shape.channels_mismatch",
                f"{ctx.who}: '{first}' gives {a} channels, '{other}' gives {b}; {self.op_word} needs equal channels",
                f"add a 1x1 Conv2d with out_channels={max(a, b)} "
                f"on the branch with {min(a, b)} channels (a projection shortcut)",
                port,
            )
        return ctx.fail(
            "shape.broadcast",
            f"{ctx.who}: '{first}' gives {fmt_shape(ctx.x[0])} and '{other}' gives "
            f"{fmt_shape(ctx.x[port])}; dimension {dim + 1} ({a} vs {b}) neither matches nor is 1",
            "make both branches produce the same size there (same stride and padding)",
            port,
        )

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        ins = " and ".join(fmt_shape(s) for s in ctx.x)
        return [f"output = broadcast({ins}) = {fmt_shape(out)}; params = 0"]


@register
class Add(_Elementwise):
    name = "Add"
    doc = "Element-wise sum of its inputs (residual connections); broadcasts like torch"
    op_word = "addition"

    def emit(self, ctx: Ctx, graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        return _fold(graph, operator.add, args)


@register
class Mul(_Elementwise):
    name = "Mul"
    doc = "Element-wise product of its inputs (gating, squeeze-and-excitation); broadcasts like torch"
    op_word = "multiplication"

    def emit(self, ctx: Ctx, graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        return _fold(graph, operator.mul, args)


@register
class Maximum(_Elementwise):
    name = "Maximum"
    doc = "Element-wise maximum of its inputs (ONNX Max, maxout); broadcasts like torch"
    op_word = "the maximum"

    def emit(self, ctx: Ctx, graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        import torch

        return _fold(graph, torch.maximum, args)


@register
class Minimum(_Elementwise):
    name = "Minimum"
    doc = "Element-wise minimum of its inputs (ONNX Min); broadcasts like torch"
    op_word = "the minimum"

    def emit(self, ctx: Ctx, graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        import torch

        return _fold(graph, torch.minimum, args)


@register
class Average(_Elementwise):
    name = "Average"
    doc = "Element-wise mean of its inputs (ONNX Mean, an ensemble of branches); broadcasts like torch"
    op_word = "the average"

    def emit(self, ctx: Ctx, graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        return graph.call_function(operator.truediv, (_fold(graph, operator.add, args), len(args)))


def _fold(graph: fx.Graph, op: Any, args: list[fx.Node]) -> fx.Node:
    acc = args[0]
    for arg in args[1:]:
        acc = graph.call_function(op, (acc, arg))
    return acc


@register
class Concat(GraphOp):
    name = "Concat"
    category = "Merge"
    doc = "Concatenates its inputs along a dimension (default: channels), as in Inception and DenseNet"
    arity = (1, None)
    params = (Param("dim", Kind.INT, 1, low=-8, high=8, doc="dimension to join along (1 is channels)"),)

    def axis(self, ctx: Ctx) -> int:
        return feature_dim(ctx, "join")

    def shape(self, ctx: Ctx) -> Shape:
        axis = self.axis(ctx)
        first = ctx.x0
        for port, s in enumerate(ctx.x[1:], start=1):
            if len(s) != len(first):
                raise ctx.fail(
                    "shape.rank_mismatch",
                    f"{ctx.who}: '{ctx.src[0]}' gives {fmt_shape(first)} but "
                    f"'{ctx.src[port]}' gives {fmt_shape(s)} (different ranks)",
                    "reshape one branch so both have the same number of dimensions",
                    port,
                )
            for dim, (a, b) in enumerate(zip(first, s)):
                if dim != axis and a != b:
                    what = ("height", "width")[dim - 1] if len(first) == 3 and dim > 0 else f"dimension {dim + 1}"
                    raise ctx.fail(
                        "shape.concat_mismatch",
                        f"{ctx.who}: '{ctx.src[0]}' gives {fmt_shape(first)} "
                        f"and '{ctx.src[port]}' gives {fmt_shape(s)}; their {what} differ ({a} vs {b})",
                        "give every branch the same stride and padding so the sizes match",
                        port,
                    )
        return (*first[:axis], sum(s[axis] for s in ctx.x), *first[axis + 1 :])

    def emit(self, ctx: Ctx, graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        import torch

        return graph.call_function(torch.cat, (list(args),), {"dim": ctx.p["dim"]})

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        axis = self.axis(ctx)
        parts = " + ".join(str(s[axis]) for s in ctx.x)
        return [f"size along dim {ctx.p['dim']} = {parts} = {out[axis]}; output = {fmt_shape(out)}; params = 0"]


@register
class Reshape(GraphOp):
    name = "Reshape"
    category = "Reshape"
    doc = "Reshapes each sample to a new shape (batch kept); one size may be -1"
    params = (Param("shape", Kind.TARGET_SHAPE, required(), doc="target shape without the batch, e.g. [16, -1]"),)

    def shape(self, ctx: Ctx) -> Shape:
        target = list(ctx.p["shape"])
        total = prod(ctx.x0)
        known = prod(d for d in target if d != -1)
        if -1 in target:
            if total % known:
                raise ctx.fail(
                    "shape.reshape",
                    f"{ctx.who}: {total} elements of {fmt_shape(ctx.x0)} cannot be "
                    f"split into {fmt_shape(tuple(target))}",
                    f"use sizes whose product divides {total}",
                )
            target[target.index(-1)] = total // known
        elif known != total:
            raise ctx.fail(
                "shape.reshape",
                f"{ctx.who}: target {fmt_shape(tuple(target))} holds {known} elements, "
                f"the input {fmt_shape(ctx.x0)} holds {total}",
                f"use sizes whose product is {total}",
            )
        return tuple(target)

    def emit(self, ctx: Ctx, graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        batch = graph.call_method("size", (args[0], 0))
        return graph.call_method("reshape", (args[0], batch, *ctx.p["shape"]))

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        return [f"output = {fmt_shape(out)} ({prod(out)} elements, as the input {fmt_shape(ctx.x0)}); params = 0"]
