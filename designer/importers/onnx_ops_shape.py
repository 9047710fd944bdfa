"""ONNX operators that rearrange a tensor: Flatten, Reshape, (Un)Squeeze, Transpose and the channel shuffle it
forms with two Reshapes, Slice and Split on channels, and the mean over height and width."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .onnx_builder import static_sample_shape
from .onnx_context import OpContext, Unsupported, static_dims
from .onnx_ops_norm import channel_layer_norm

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


def _channel_shuffle(ctx: OpContext) -> bool:
    """Reshape ``(N, g, C/g, H, W)`` -> Transpose ``(0, 2, 1, 3, 4)`` -> Reshape ``(N, C, H, W)`` as one node."""
    from onnx import helper

    transpose = ctx.only_user(ctx.node.output[0], "Transpose")
    back = ctx.only_user(transpose.output[0], "Reshape") if transpose is not None else None
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
    """A permutation of the sample dimensions; or the start of the dynamo exporter's adaptive pooling or of a
    LayerNorm over the channels."""
    if _gathered_adaptive_pool(ctx) or channel_layer_norm(ctx):
        return
    perm = [int(p) for p in ctx.attrs.get("perm", [])]
    if perm == [1, 0] and _transposed_back(ctx):
        return
    if not perm or perm[0] != 0:
        raise Unsupported(f"perm={perm} moves the batch; only permutations of the sample dimensions map")
    ctx.emit("Permute", {"dims": perm})


def _transposed_back(ctx: OpContext) -> bool:
    """``[N, K]`` to ``[K, N]`` for a Gemm that reads it with ``transA=1``: the two cancel, so the Gemm's Linear
    reads this Transpose's input (marked ``transposed`` for it)."""
    users = ctx.builder.consumers.get(ctx.node.output[0], [])
    if not users or any(u.op_type != "Gemm" or list(u.input[:1]) != [ctx.node.output[0]] for u in users):
        return False
    if not all(any(a.name == "transA" and a.i == 1 for a in u.attribute) for u in users):
        return False
    ctx.builder.producer[ctx.node.output[0]] = ctx.builder.producer[ctx.node.input[0]]
    ctx.builder.transposed.add(ctx.node.output[0])
    return True


def reduce_mean(ctx: OpContext) -> None:
    """A mean over height and width is global average pooling; over other sample dimensions, a Mean node."""
    rank = ctx.rank() or 4
    axes = _axes(ctx, rank)
    if axes is None or 0 in axes:
        raise Unsupported("only a mean over sample dimensions (given axes, not the batch) maps")
    if axes != [2, 3] or rank != 4:
        ctx.emit("Mean", {"dim": axes} | ({"keepdim": True} if ctx.attrs.get("keepdims", 1) else {}))
        return
    if ctx.attrs.get("keepdims", 1):
        ctx.emit("AdaptiveAvgPool2d", {"output_size": 1})
        return
    pool = ctx.emit("AdaptiveAvgPool2d", {"output_size": 1}, output=ctx.node.output[0] + "::pooled")
    ctx.emit("Flatten", {}, inputs=[pool])


_REDUCTIONS: dict[str, tuple[str, Callable[..., Any]]] = {
    "ReduceMean": ("AdaptiveAvgPool2d", np.mean),
    "ReduceMax": ("AdaptiveMaxPool2d", np.max),
}


def _gathered_adaptive_pool(ctx: OpContext) -> bool:
    """Transpose -> GatherND(constant windows) -> [Transpose] -> ReduceMean/Max: how the dynamo exporter writes an
    adaptive pooling whose output size does not divide the input (GoogLeNet's 4x4 on 14x14). It is one node again
    when the gathered windows are exactly the adaptive pooling's bins."""
    gather = ctx.only_user(ctx.node.output[0], "GatherND")
    back = ctx.only_user(gather.output[0], "Transpose") if gather is not None else None
    chain = [n for n in (gather, back) if n is not None]
    users = ctx.builder.consumers.get(chain[-1].output[0], []) if chain else []
    reduce = users[0] if len(users) == 1 and users[0].op_type in _REDUCTIONS else None
    src = static_dims((ctx.in_shape() or [])[2:])
    out = static_dims((ctx.builder.shapes.get(reduce.output[0]) or [])[2:] if reduce is not None else [])
    if reduce is None or not src or not out or len(src) != 2 or len(out) != 2 or ctx.rank() != 4:
        return False
    (h, w), (oh, ow) = src, out
    type_name, reduction = _REDUCTIONS[reduce.op_type]
    probe = np.random.default_rng(0).standard_normal((1, 1, h, w))
    got = _run_chain(ctx, [*chain, reduce], probe)
    if got is None or got.shape != (1, 1, oh, ow) or not np.allclose(got, _adaptive(probe, oh, ow, reduction)):
        return False
    ctx.emit(type_name, {"output_size": oh if oh == ow else [oh, ow]}, output=reduce.output[0])
    ctx.builder.absorbed.update(id(n) for n in (*chain, reduce))
    return True


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _run_chain(ctx: OpContext, chain: list[onnx.NodeProto], x: np.ndarray) -> np.ndarray | None:
    """The pattern's nodes on a probe tensor, or None when an index, axis or attribute is not what they can mean."""
    value: np.ndarray = np.transpose(x, ctx.attrs["perm"])
    try:
        for node in chain:
            value = _step(ctx, node, value)
    except (IndexError, ValueError, KeyError, TypeError):
        return None
    result: np.ndarray = np.asarray(value, dtype=np.float64)
    return result


def _step(ctx: OpContext, node: onnx.NodeProto, value: np.ndarray) -> np.ndarray:
    attrs = _attrs(node)
    if node.op_type == "Transpose":
        return np.transpose(value, attrs["perm"])
    if node.op_type == "GatherND":
        index = ctx.const_of(node, 1)
        if index is None or attrs.get("batch_dims", 0):
            raise ValueError("not a constant gather of windows")
        return np.asarray(value[tuple(np.moveaxis(index, -1, 0))])
    axes = ctx.const_of(node, 1) if len(node.input) > 1 else attrs.get("axes")
    if axes is None or attrs.get("keepdims", 1):
        raise ValueError("not a reduction over the windows")
    reduced = _REDUCTIONS[node.op_type][1](value, axis=tuple(int(a) for a in np.atleast_1d(axes)))
    return np.asarray(reduced)


def _adaptive(x: np.ndarray, oh: int, ow: int, reduction: Callable[..., Any]) -> np.ndarray:
    """torch's adaptive pooling in numpy: bin i covers ``floor(i * H / oh)`` to ``ceil((i + 1) * H / oh)``."""
    h, w = x.shape[2:]
    rows = [(i * h // oh, -(-(i + 1) * h // oh)) for i in range(oh)]
    cols = [(j * w // ow, -(-(j + 1) * w // ow)) for j in range(ow)]
    out = [[reduction(x[:, :, r0:r1, c0:c1], axis=(2, 3)) for c0, c1 in cols] for r0, r1 in rows]
    result: np.ndarray = np.asarray(out, dtype=np.float64).transpose(2, 3, 0, 1)
    return result
