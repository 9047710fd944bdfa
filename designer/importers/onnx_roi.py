"""Fold the preparation of RoI rows back into the ``MaxRoiPool`` / ``RoiAlign`` that reads them.

The designer's RoIPool and RoIAlign read the boxes as rows of five, (batch index, x1, y1, x2, y2), and round and
clamp the index into the batch before calling torchvision. Exporters write that, and ONNX ``RoiAlign``'s separate
boxes and ``int64`` indices, as small computations on the rows: ``Slice``/``Round``/``Clip`` (or ``Max``/``Min``)
with a ``Shape`` of the map, then ``Concat`` (our exporters), or ``Gather``/``Squeeze``/``Cast`` of the index column
and a ``Gather`` of the box columns (torchvision's own ONNX translation). Whatever their spelling, these nodes are
the rows themselves on every valid row (an integer index inside the batch); that is decided by evaluating them in
onnxruntime on such rows at two batch sizes, never by the nodes' names.

A folded ``MaxRoiPool`` reads the rows directly, as ONNX defines it. A folded ``RoiAlign`` is left with two inputs,
the map and the rows, and an explicit ``coordinate_transformation_mode`` (its default changed in opset 16): a form
only the importer reads (``onnx_ops_roi``), which is how it knows the rows carry the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .onnx_restride import drop_dead

if TYPE_CHECKING:
    import onnx

    from .onnx_builder import Dim

#: Operators the preparation of the rows may contain: column slicing, rounding, clamping, casts and shape reads.
_PREP_OPS = frozenset(
    {"Slice", "Gather", "Squeeze", "Unsqueeze", "Round", "Clip", "Max", "Min", "Cast", "CastLike", "Concat"}
    | {"Shape", "Sub", "Add", "Identity", "Reshape", "Constant", "Floor", "Expand"}
)
#: Batch sizes at which the preparation is evaluated when the map's batch is symbolic.
_BATCHES = (2, 3)
#: RoiAlign's coordinate mode before opset 16, which had no attribute for it.
_OLD_ALIGN_MODE = "output_half_pixel"


@dataclass(frozen=True)
class _Prep:
    """What computes a RoI node's box inputs: the one rows value they read, the values they read only the shape of,
    and the nodes in between (file order)."""

    rows: str
    shape_reads: set[str]
    nodes: list[onnx.NodeProto]


def fold_roi_rows(model: onnx.ModelProto, shapes: dict[str, list[Dim]]) -> list[str]:
    """Rewire each RoI node whose box inputs are its rows' preparation to the rows and drop the dead preparation;
    return, for each RoI node whose box inputs are computed but could not be folded, why (for the import's error).

    Args:
        model: a model with its constants folded; changed in place.
        shapes: the shape of each value (symbolic batch allowed), from shape inference.
    """
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    unfolded = []
    for node in list(graph.node):
        if node.op_type not in ("MaxRoiPool", "RoiAlign"):
            continue
        prep = _preparation(model, node, shapes)
        if prep is None or not _is_rows(model, node, prep, shapes):
            if prep is not None or _computed(model, node):
                unfolded.append(f"ONNX node '{node.name or node.output[0]}' ({node.op_type}): {_UNFOLDED}")
            continue
        node.input[:] = [node.input[0], prep.rows]
        if node.op_type == "RoiAlign" and not any(a.name == "coordinate_transformation_mode" for a in node.attribute):
            from onnx import helper

            mode = "half_pixel" if opset >= 16 else _OLD_ALIGN_MODE
            node.attribute.append(helper.make_attribute("coordinate_transformation_mode", mode))
        drop_dead(graph, {id(n) for n in prep.nodes})
    return unfolded


_UNFOLDED = (
    "its boxes are computed, but not as one value's rows (batch index, x1, y1, x2, y2) given back unchanged when "
    "valid, which is what RoIPool and RoIAlign read"
)


def _computed(model: onnx.ModelProto, roi: onnx.NodeProto) -> bool:
    """Whether a node of the preparation's kind computes one of ``roi``'s box inputs."""
    made = {out: n.op_type for n in model.graph.node for out in n.output}
    return any(made.get(name) in _PREP_OPS for name in roi.input[1:] if name)


def _preparation(model: onnx.ModelProto, roi: onnx.NodeProto, shapes: dict[str, list[Dim]]) -> _Prep | None:
    """The nodes computing ``roi``'s box inputs back to one rows value ``[R, 5]``; None when there are none (the
    rows are read directly), or they read more than one value's data, or the value is not rows of five."""
    producer = {out: n for n in model.graph.node for out in n.output if out}
    inits = {i.name for i in model.graph.initializer}
    seen: dict[int, onnx.NodeProto] = {}
    data: set[str] = set()
    shape_reads: set[str] = set()
    todo = [name for name in roi.input[1:] if name]
    while todo:
        name = todo.pop()
        node = producer.get(name)
        if name in inits:
            continue
        if node is None or node.op_type not in _PREP_OPS:
            data.add(name)
            continue
        if id(node) in seen:
            continue
        seen[id(node)] = node
        if node.op_type == "Shape":
            shape_reads.add(node.input[0])
            continue
        todo += [n for n in node.input if n]
    rows_shape = shapes.get(next(iter(data))) if len(data) == 1 else None
    if not seen or rows_shape is None or len(rows_shape) != 2 or rows_shape[1] != 5:
        return None
    order = {id(n): k for k, n in enumerate(model.graph.node)}
    return _Prep(next(iter(data)), shape_reads, sorted(seen.values(), key=lambda n: order[id(n)]))


def _is_rows(model: onnx.ModelProto, roi: onnx.NodeProto, prep: _Prep, shapes: dict[str, list[Dim]]) -> bool:
    """Whether the preparation gives back valid rows unchanged: the rows themselves for ``MaxRoiPool``; their box
    columns and their index column as ``int64`` for ``RoiAlign``."""
    fmap = shapes.get(roi.input[0]) or []
    batches = (fmap[0],) if fmap and isinstance(fmap[0], int) else _BATCHES
    outputs = [name for name in roi.input[1:] if name]
    for batch in batches:
        rows = valid_rows(np.random.default_rng(0), 7, batch, 32)
        got = _evaluate(model, prep, outputs, rows, batch, shapes)
        if got is None:
            return False
        want = [rows] if roi.op_type == "MaxRoiPool" else [rows[:, 1:], rows[:, 0].astype(np.int64)]
        if len(got) != len(want) or not all(g.shape == w.shape and np.array_equal(g, w) for g, w in zip(got, want)):
            return False
    return True


def valid_rows(rng: np.random.Generator, count: int, batch: int, extent: float) -> np.ndarray:
    """``count`` RoI rows as a detector gives them on a batch of ``batch``: each image's integer index in turn, boxes
    with fractional corners in an ``extent``-pixel image."""
    corner = rng.uniform(0, extent / 2, (count, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(1, extent / 2, (count, 2))], axis=1)
    return np.concatenate([(np.arange(count) % batch)[:, None], boxes], axis=1).astype(np.float32)


def _evaluate(
    model: onnx.ModelProto,
    prep: _Prep,
    outputs: list[str],
    rows: np.ndarray,
    batch: int,
    shapes: dict[str, list[Dim]],
) -> list[np.ndarray] | None:
    """The preparation's ``outputs`` on ``rows``, with each value it reads the shape of given the batch ``batch``;
    None when onnxruntime cannot compute them."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    reads = [prep.rows, *sorted(prep.shape_reads - {prep.rows})]
    feeds = {prep.rows: rows}
    for name in reads[1:]:
        dims = shapes.get(name)
        if dims is None:
            return None
        feeds[name] = np.zeros([batch if k == 0 else d if isinstance(d, int) else 1 for k, d in enumerate(dims)])
        feeds[name] = feeds[name].astype(np.float32)
    used = {n for node in prep.nodes for n in node.input}
    sub = helper.make_graph(
        prep.nodes,
        "roi_rows",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(feeds[name].shape)) for name in reads],
        [helper.make_empty_tensor_value_info(name) for name in outputs],
        [i for i in model.graph.initializer if i.name in used],
    )
    small = helper.make_model(sub, opset_imports=list(model.opset_import))
    small.ir_version = model.ir_version
    try:
        session = ort.InferenceSession(small.SerializeToString(), providers=["CPUExecutionProvider"])
        return [np.asarray(v) for v in session.run(None, feeds)]
    except Exception:  # onnxruntime's error types have no stable import path; rows it cannot compute are no rows
        return None
