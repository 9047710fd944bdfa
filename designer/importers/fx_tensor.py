"""Tensor calls that rearrange rather than compute: reshapes, squeezes, permutes, slices, splits and means. Each is
read from the shapes the traced model gives (``tensor_meta``), so ``x.view(b, g, c // g, h, w)`` needs no reading of
the size arithmetic that built its arguments."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch import fx

from ..layers.registry import get_spec
from ..model.graph import Node, NodeId, port_ref
from .split_parts import split_params

if TYPE_CHECKING:
    from .fx_mapper import FxMapper

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Parts:
    """A split or chunk in a traced forward: its input, the cut dimension, ``[start, end)`` of each part, and the
    Split node that gives them (None while at most one part is taken: that part is a Slice)."""

    base: fx.Node
    dim: int
    ranges: list[tuple[int, int]]
    split_id: NodeId | None = None


def dim_arg(node: fx.Node, index: int, default: Any = None, key: str = "dim") -> Any:
    """A call's argument by position (counting the input as 0) or keyword."""
    return node.kwargs.get(key, node.args[index] if len(node.args) > index else default)


def map_reshape(m: FxMapper, node: fx.Node, what: str) -> None:
    """A view, reshape, flatten, squeeze or unsqueeze: nothing when the shape stays, Flatten when it gives
    [N, features], a Reshape for another shape, a Mean over size-1 dims when only the batch is left."""
    src = node.args[0]
    before, after = m.shape_of(src), m.shape_of(node)
    attr = m.attribute(src) if isinstance(src, fx.Node) else None
    if attr is not None:
        m.attr_of[node] = attr  # a parameter shaped to broadcast: read where it is used
    elif not isinstance(src, fx.Node) or before is None or after is None or not after or after[0] != before[0]:
        m.refuse(node, what, "changes the batch dimension; a design keeps each sample apart")
    elif after == before:
        m.alias(node, src)
    elif after[1:] == (math.prod(before[1:]),):
        m.emit(node, m.local_id(node, "flatten"), "Flatten", {}, [src])
    elif len(after) > 1:
        m.emit(node, m.local_id(node, "reshape"), "Reshape", {"shape": list(after[1:])}, [src])
    elif all(d == 1 for d in before[1:]) and get_spec("Mean") is not None:
        dims = list(range(1, len(before)))  # averaging size-1 dims only drops them: x.squeeze(1) of [N, 1]
        m.emit(node, m.local_id(node, "squeeze"), "Mean", {"dim": dims}, [src])
    else:
        m.refuse(node, what, "leaves only the batch dimension; keep a feature dimension")


def map_mean(m: FxMapper, node: fx.Node) -> None:
    """``x.mean([2, 3])`` is global average pooling (then Flatten unless ``keepdim``); other dims a Mean."""
    src = node.args[0]
    dims, keep = dim_arg(node, 1), bool(dim_arg(node, 2, False, "keepdim"))
    before = m.shape_of(src)
    dims = [dims] if isinstance(dims, int) else dims
    if not isinstance(src, fx.Node) or before is None or not isinstance(dims, (list, tuple)):
        m.refuse(node, "Tensor.mean", "only a mean over given dimensions has a layer")
        return
    rank = len(before)
    dims = sorted(int(str(d)) % rank for d in dims)
    if rank == 4 and dims == [2, 3]:
        pool = m.emit(node, m.local_id(node, "avgpool"), "AdaptiveAvgPool2d", {"output_size": 1}, [src])
        if pool is not None and not keep:
            m.add(node, m.local_id(node, "flatten"), "Flatten", {}, [pool])
        return
    m.emit(node, m.local_id(node, "mean"), "Mean", {"dim": dims} | ({"keepdim": True} if keep else {}), [src])


def map_permute(m: FxMapper, node: fx.Node, what: str) -> None:
    """``x.permute(0, 2, 3, 1)``, ``torch.permute(x, dims)``, ``x.transpose(1, 2)``: a Permute."""
    src = node.args[0]
    before = m.shape_of(src)
    if not isinstance(src, fx.Node) or before is None:
        m.refuse(node, what, "only tensors of known shape can be permuted")
        return
    rank = len(before)
    if what.endswith("transpose"):
        a, b = (int(str(d)) % rank for d in node.args[1:3])
        order = list(range(rank))
        order[a], order[b] = order[b], order[a]
    else:
        given = node.args[1:] if len(node.args) > 2 else dim_arg(node, 1, key="dims")
        order = [int(str(d)) % rank for d in given]
    if order[0] != 0:
        m.refuse(node, what, "moves the batch dimension; a design keeps the batch first")
    elif order == list(range(rank)):
        m.alias(node, src)
    else:
        m.emit(node, m.local_id(node, "permute"), "Permute", {"dims": order}, [src])


def map_split(m: FxMapper, node: fx.Node, what: str) -> None:
    """``x.chunk(2, dim=1)``, ``torch.split(x, sizes, dim)``: one Split node when two or more parts are taken
    (``parts[k]``, or ``a, b = ...``), each taker reading its port; a single part taken is a Slice (``map_getitem``),
    as a Split with parts nobody reads is warned of."""
    src = node.args[0]
    before = m.shape_of(src)
    taken = [u.args[1] for u in node.users if u.target is operator.getitem]
    if not isinstance(src, fx.Node) or before is None or len(taken) < len(node.users):
        m.refuse(node, what, "only parts taken by index can be used")
        return
    dim = int(str(dim_arg(node, 2, 0))) % len(before)
    n = before[dim]
    how = node.args[1] if len(node.args) > 1 else node.kwargs.get("chunks", node.kwargs.get("split_size_or_sections"))
    if what.endswith("chunk"):
        size = -(-n // int(str(how)))
        sizes = [min(size, n - k) for k in range(0, n, size)]
    elif isinstance(how, int):
        sizes = [min(how, n - k) for k in range(0, n, how)]
    else:
        sizes = [int(str(s)) for s in how]  # type: ignore[union-attr]  # a list of sizes, as torch takes it
    starts = [sum(sizes[:k]) for k in range(len(sizes))]
    ranges = [(s, s + z) for s, z in zip(starts, sizes)]
    m.parts[node] = Parts(src, dim, ranges)
    indices = {k % len(sizes) for k in taken if isinstance(k, int)}
    if len(indices) < 2 or not all(isinstance(k, int) for k in taken):
        return
    if dim == 0:
        m.refuse(node, what, "cuts the batch; a design keeps every sample")
        return
    listed = not what.endswith("chunk") and not isinstance(how, int)
    params = split_params(dim, sizes, listed)
    split_id = m.emit(node, m.local_id(node, "split"), "Split", params, [src])
    m.parts[node] = Parts(src, dim, ranges, split_id)


def map_getitem(m: FxMapper, node: fx.Node) -> None:
    """``parts[i]`` of a split (its Split node's port, or a Slice when it is the only part taken), or ``x[:, a:b]``:
    a Slice of one dimension."""
    src, index = node.args[0], node.args[1]
    if isinstance(src, fx.Node) and src in m.parts:
        parts = m.parts[src]
        if not isinstance(index, int):
            m.refuse(node, "operator.getitem", "takes several parts of a split at once; take each by its index")
            return
        k = index % len(parts.ranges)
        if parts.split_id is not None:
            m.ids[node] = port_ref(parts.split_id, k)
        elif src not in m.failed:
            _slice(m, node, parts.base, parts.dim, *parts.ranges[k], 1)
        else:
            m.refuse(node, "operator.getitem", "takes a part of a split that could not be mapped")
        return
    index = index if isinstance(index, tuple) else (index,)
    cut = [(d, s) for d, s in enumerate(index) if s != slice(None)]
    if not isinstance(src, fx.Node) or m.shape_of(src) is None or len(cut) != 1 or not isinstance(cut[0][1], slice):
        m.refuse(node, "operator.getitem", "only a slice of one dimension (x[:, a:b]) has a layer")
        return
    dim, s = cut[0]
    _slice(m, node, src, dim, s.start or 0, s.stop, s.step or 1)


def _slice(m: FxMapper, node: fx.Node, src: fx.Node, dim: int, start: int, end: int | None, step: int) -> None:
    shape = m.shape_of(src)
    if dim == 0 or shape is None:
        m.refuse(node, "operator.getitem", "slices the batch; a design keeps every sample")
        return
    if start == 0 and step == 1 and (end is None or end >= shape[dim]):
        m.alias(node, src)
        return
    params: dict[str, Any] = {"start": start} if start else {}
    params |= ({"dim": dim} if dim != 1 else {}) | ({"end": end} if end is not None else {})
    params |= {"step": step} if step != 1 else {}
    m.emit(node, m.local_id(node, "slice"), "Slice", params, [src])


def fold_channel_shuffles(nodes: list[Node]) -> list[Node]:
    """ShuffleNet's ``view(n, g, c // g, h, w)``, ``transpose(1, 2)``, ``view(n, c, h, w)``: one ChannelShuffle
    node (under the last one's id), which holds no sizes and so fits any input size."""
    if get_spec("ChannelShuffle") is None:
        return nodes
    users: dict[str, list[Node]] = {}
    for n in nodes:
        for src in n.inputs:
            users.setdefault(src, []).append(n)
    by_id = {n.id: n for n in nodes}
    gone: set[str] = set()
    for n in nodes:
        permute = by_id.get(n.inputs[0]) if n.type == "Reshape" and n.inputs else None
        split = by_id.get(permute.inputs[0]) if permute is not None and permute.type == "Permute" else None
        if split is None or split.type != "Reshape" or permute is None or not _is_shuffle(split, permute, n):
            continue
        if len(users.get(split.id, [])) == 1 and len(users.get(permute.id, [])) == 1:
            n.type, n.params, n.inputs = "ChannelShuffle", {"groups": split.params["shape"][0]}, list(split.inputs)
            gone |= {split.id, permute.id}
    return [n for n in nodes if n.id not in gone]


def _is_shuffle(split: Node, permute: Node, merge: Node) -> bool:
    shape, back = split.params["shape"], merge.params["shape"]
    return (
        len(shape) == 4
        and permute.params["dims"] == [0, 2, 1, 3, 4]
        and len(back) == 3
        and back == [shape[0] * shape[1], shape[2], shape[3]]
    )
