"""ONNX operators that rearrange a tensor: Flatten, Reshape, (Un)Squeeze, Transpose and the channel shuffle it
forms with two Reshapes, Slice and Split on channels, and the mean over height and width."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .onnx_builder import static_sample_shape
from .onnx_context import OpContext, Unsupported

if TYPE_CHECKING:
    import onnx


def flatten(ctx: OpContext) -> None:
    if ctx.attrs.get("axis", 1) != 1:
        raise Unsupported(f"axis={ctx.attrs['axis']}: only flattening after the batch is supported")
    ctx.emit("Flatten", {})


def reshape(ctx: OpContext) -> None:
    """A Reshape to ``[N, -1]`` is a Flatten, to any other static sample shape a Reshape; with a Transpose of the
    two group axes and a Reshape back it is ShuffleNet's channel shuffle."""
    if _channel_shuffle(ctx):
        return
    _reshape_to_output(ctx)


def _reshape_to_output(ctx: OpContext) -> None:
    out, rank = ctx.out_shape(), ctx.rank()
    sample = static_sample_shape(out)
    if out is None or sample is None:
        raise Unsupported("the output shape after the batch is not static")
    if len(out) == 2 and rank is not None and rank > 2:
        ctx.emit("Flatten", {})
    else:
        ctx.emit("Reshape", {"shape": sample})


def _only_user(ctx: OpContext, value: str, op_type: str) -> onnx.NodeProto | None:
    users = ctx.builder.consumers.get(value, [])
    return users[0] if len(users) == 1 and users[0].op_type == op_type else None


def _channel_shuffle(ctx: OpContext) -> bool:
    """Reshape ``(N, g, C/g, H, W)`` -> Transpose ``(0, 2, 1, 3, 4)`` -> Reshape ``(N, C, H, W)`` as one node."""
    from onnx import helper

    transpose = _only_user(ctx, ctx.node.output[0], "Transpose")
    back = _only_user(ctx, transpose.output[0], "Reshape") if transpose is not None else None
    if transpose is None or back is None:
        return False
    perm = next((helper.get_attribute_value(a) for a in transpose.attribute if a.name == "perm"), None)
    src, mid, out = ctx.in_shape(), ctx.out_shape(), ctx.builder.shapes.get(back.output[0])
    if perm is None or list(perm) != [0, 2, 1, 3, 4] or not src or not mid or not out:
        return False
    if len(src) != 4 or len(mid) != 5 or out[1:] != src[1:] or not isinstance(mid[1], int):
        return False
    ctx.emit("ChannelShuffle", {"groups": mid[1]}, output=back.output[0])
    ctx.builder.absorbed.update({id(transpose), id(back)})
    return True


def _axes(ctx: OpContext, rank: int) -> list[int] | None:
    """The ``axes`` of a (Un)Squeeze or reduction, from its second input (opset 13+) or its attribute."""
    axes = ctx.const(1) if len(ctx.node.input) > 1 and ctx.node.input[1] else ctx.attrs.get("axes")
    return None if axes is None else sorted(int(a) % rank for a in np.atleast_1d(axes))


def squeeze(ctx: OpContext) -> None:
    """``Squeeze`` / ``Unsqueeze`` of sample dimensions: a Flatten when it leaves ``[N, C]``, else a Reshape."""
    rank = ctx.rank() if ctx.node.op_type == "Squeeze" else len(ctx.out_shape() or [])
    axes = _axes(ctx, rank or 1) if rank else None
    if axes is None or 0 in axes:
        raise Unsupported("only explicit axes after the batch map; a squeeze could drop a batch of one")
    _reshape_to_output(ctx)


def transpose(ctx: OpContext) -> None:
    perm = [int(p) for p in ctx.attrs.get("perm", [])]
    if not perm or perm[0] != 0:
        raise Unsupported(f"perm={perm} moves the batch; only permutations of the sample dimensions map")
    ctx.emit("Permute", {"dims": perm})


def reduce_mean(ctx: OpContext) -> None:
    rank = ctx.rank() or 4
    axes = _axes(ctx, rank)
    if axes != [2, 3] or rank != 4:
        raise Unsupported("only a mean over height and width maps (to AdaptiveAvgPool2d(1))")
    if ctx.attrs.get("keepdims", 1):
        ctx.emit("AdaptiveAvgPool2d", {"output_size": 1})
        return
    pool = ctx.emit("AdaptiveAvgPool2d", {"output_size": 1}, output=ctx.node.output[0] + "::pooled")
    ctx.emit("Flatten", {}, inputs=[pool])
