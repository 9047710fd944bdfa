"""ONNX ``Slice`` and ``Split`` of one sample dimension (channels, mostly): a Slice node, or one Split node whose
outputs are its parts."""

from __future__ import annotations

import numpy as np

from ..model.graph import port_ref
from .onnx_context import OpContext, Unsupported
from .split_parts import split_params

#: ONNX writes "to the end" as the largest int64 (or any index past the end).
_TO_END = 2**31


def _axis(ctx: OpContext, axis: int) -> int:
    rank = ctx.rank()
    if rank is None:
        raise Unsupported("the input's rank is unknown")
    axis %= rank
    if axis == 0:
        raise Unsupported("slicing the batch has no layer; only sample dimensions can be sliced")
    return axis


def _slice_params(axis: int, start: int, end: int | None, step: int) -> dict[str, int | None]:
    params: dict[str, int | None] = {"dim": axis, "start": start, "end": end, "step": step}
    defaults = {"dim": 1, "start": 0, "end": None, "step": 1}
    return {k: v for k, v in params.items() if v != defaults[k]}


def slice_(ctx: OpContext) -> None:
    """``Slice`` with constant starts, ends, axes and steps over one dimension (inputs from opset 10, attributes
    before)."""
    starts = ctx.const(1) if len(ctx.node.input) > 1 else ctx.attrs.get("starts")
    ends = ctx.const(2) if len(ctx.node.input) > 2 else ctx.attrs.get("ends")
    axes = ctx.const(3) if len(ctx.node.input) > 3 and ctx.node.input[3] else ctx.attrs.get("axes", [0])
    steps = ctx.const(4) if len(ctx.node.input) > 4 and ctx.node.input[4] else [1]
    if starts is None or ends is None or axes is None or steps is None:
        raise Unsupported("its bounds are computed by the network; only constant bounds map")
    starts, ends, axes, steps = (np.atleast_1d(v).astype(np.int64) for v in (starts, ends, axes, steps))
    if len(starts) != 1 or len(axes) != 1:
        raise Unsupported(f"slices {len(starts)} dimensions at once; only one maps to a Slice node")
    end = int(ends[0])
    params = _slice_params(_axis(ctx, int(axes[0])), int(starts[0]), None if end >= _TO_END else end, int(steps[0]))
    ctx.emit("Slice", params)


def split(ctx: OpContext) -> None:
    """``Split`` into parts along one dimension: one Split node, whose output ``k`` the ONNX node's output ``k`` names
    (``split:1``). The sizes are the ``split`` input (opset 13 on), the ``split`` attribute (before), or equal parts,
    one per output (opset 18's ``num_outputs``: the last part may be smaller)."""
    axis = _axis(ctx, int(ctx.attrs.get("axis", 0)))
    given = ctx.const(1) if len(ctx.node.input) > 1 and ctx.node.input[1] else ctx.attrs.get("split")
    if given is None and len(ctx.node.input) > 1 and ctx.node.input[1]:
        raise Unsupported("its sizes are computed by the network; only constant sizes map")
    shape = ctx.in_shape() or []
    total = shape[axis] if axis < len(shape) else None
    count = len(ctx.node.output)
    if given is not None:
        sizes = [int(s) for s in np.atleast_1d(given).tolist()]
    elif not isinstance(total, int):
        raise Unsupported("the size of the split dimension is unknown")
    else:
        part = -(-total // count)
        sizes = [min(part, total - i * part) for i in range(count)]
    if len(sizes) != count or min(sizes) < 1 or (isinstance(total, int) and sum(sizes) != total):
        raise Unsupported(f"its sizes {sizes} do not cut dimension {axis} of size {total} into {count} parts")
    split_id = ctx.emit("Split", split_params(axis, sizes), output=ctx.node.output[0])
    for k, output in enumerate(ctx.node.output[1:], start=1):
        ctx.builder.producer[output] = port_ref(split_id, k)
