"""Drop the Gathers that only re-stride a value: torch.export's ``as_strided`` of a tensor torch held in another
memory layout.

An ``AdaptiveAvgPool2d`` after a ``Permute`` (ConvNeXt's head, in torchvision and in our templates) decomposes to a
mean followed by ``as_strided`` to the strides eager mode gives; the dynamo exporter writes that as ``Reshape(x, [-1])``
and a ``Gather`` whose indices a ``Range``/``Mul``/``Add`` chain computes from the batch size. ONNX values have no
strides, and for these layouts the indices read ``x`` in its own order: the Gather is ``x``. Whether it is, is
decided by evaluating the index chain in onnxruntime at two batch sizes, never by the node's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

    from .onnx_builder import Dim

#: Operators an index chain may contain: shape arithmetic, never a layer (whose evaluation would cost a forward).
_INDEX_OPS = frozenset(
    {"Shape", "Squeeze", "Unsqueeze", "Range", "Mul", "Add", "Sub", "Constant", "Cast", "Concat", "Gather", "Expand"}
    | {"Reshape", "Slice", "ConstantOfShape", "Div", "Identity"}
)
#: Batch sizes at which the indices are evaluated: two, so that an index built from the batch size is tested as such.
_BATCHES = (2, 3)


def drop_restrides(model: onnx.ModelProto, shapes: dict[str, list[Dim]]) -> int:
    """Rewire the readers of every re-striding Gather to the value it re-strides, drop the dead index chains, and
    return how many Gathers went.

    Args:
        model: a model with its constants folded; changed in place.
        shapes: the shape of each value (symbolic batch allowed), from shape inference.
    """
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output if out}
    inits = {i.name for i in graph.initializer}
    inputs = {i.name for i in graph.input}
    dropped: list[onnx.NodeProto] = []
    count = 0
    for gather in list(graph.node):
        found = _restrided(model, gather, producer, inits, shapes)
        outputs = {o.name for o in graph.output}
        if found is None or (gather.output[0] in outputs and (found[0] in outputs or found[0] in inputs)):
            continue  # an output that is another output or an input would need a node of its own: keep the Gather
        source, chain = found
        for node in graph.node:
            node.input[:] = [source if name == gather.output[0] else name for name in node.input]
        for value in graph.output:
            if value.name == gather.output[0]:
                value.name = source
        dropped += [gather, producer[gather.input[0]], *chain]
        count += 1
    if dropped:
        drop_dead(graph, {id(n) for n in dropped})
    return count


def _restrided(
    model: onnx.ModelProto,
    gather: onnx.NodeProto,
    producer: dict[str, onnx.NodeProto],
    inits: set[str],
    shapes: dict[str, list[Dim]],
) -> tuple[str, list[onnx.NodeProto]] | None:
    """The value ``gather`` reads in its own order and the nodes computing its indices, when ``gather`` is
    ``Gather(Reshape(x, [-1]), indices)`` with indices ``arange(x.size)`` shaped as ``x``; else None."""
    if gather.op_type != "Gather" or len(gather.input) != 2:
        return None
    if any(a.name == "axis" and a.i != 0 for a in gather.attribute):
        return None
    flat = producer.get(gather.input[0])
    dims = shapes.get(flat.output[0]) if flat is not None and flat.op_type == "Reshape" else None
    if flat is None or dims is None or len(dims) != 1:
        return None
    source = flat.input[0]
    full = shapes.get(source) or []
    sample = [d for d in full[1:] if isinstance(d, int)]
    if not full or len(sample) + 1 != len(full):
        return None
    nodes: list[onnx.NodeProto] | None = []
    indices: list[np.ndarray] | None = None
    if gather.input[1] in inits:  # a fixed batch: onnxruntime folded the indices
        indices = [_initializer(model, gather.input[1])]
    else:
        nodes, reads = _chain(gather.input[1], producer, inits)
        indices = _evaluate(model, gather.input[1], nodes, reads) if nodes is not None else None
    if nodes is None or indices is None:
        return None
    for got in indices:
        batch = got.shape[0] if got.ndim else 0
        if isinstance(full[0], int) and batch != full[0]:
            return None
        want = np.arange(batch * int(np.prod(sample, dtype=np.int64))).reshape(batch, *sample)
        if got.shape != want.shape or not np.array_equal(got, want):
            return None
    return source, nodes


def _initializer(model: onnx.ModelProto, name: str) -> np.ndarray:
    from onnx import numpy_helper

    return next(numpy_helper.to_array(i) for i in model.graph.initializer if i.name == name)


def _evaluate(
    model: onnx.ModelProto, value: str, nodes: list[onnx.NodeProto], reads: set[str]
) -> list[np.ndarray] | None:
    """``value``, which ``nodes`` compute from the graph inputs and initialisers in ``reads``, evaluated by
    onnxruntime at each batch of ``_BATCHES`` (a dynamic batch); None when onnxruntime cannot."""
    import onnxruntime as ort
    from onnx import helper

    graph = model.graph
    inits = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name in reads and i.name not in inits]
    sub = helper.make_graph(
        nodes,
        "indices",
        inputs,
        [helper.make_empty_tensor_value_info(value)],
        [i for i in graph.initializer if i.name in reads],
    )
    small = helper.make_model(sub, opset_imports=list(model.opset_import))
    small.ir_version = model.ir_version
    try:
        session = ort.InferenceSession(small.SerializeToString(), providers=["CPUExecutionProvider"])
        return [session.run(None, _feeds(inputs, batch))[0] for batch in _BATCHES]
    except Exception:  # onnxruntime's error types have no stable import path; an index it cannot compute is no index
        return None


def _chain(
    value: str, producer: dict[str, onnx.NodeProto], inits: set[str]
) -> tuple[list[onnx.NodeProto], set[str]] | tuple[None, set[str]]:
    """The nodes that compute ``value`` in file order, and the graph inputs and initialisers they read; None for the
    nodes when one of them is not index arithmetic or reads a graph input other than through ``Shape``."""
    seen: dict[int, onnx.NodeProto] = {}
    reads: set[str] = set()
    todo = [value]
    while todo:
        name = todo.pop()
        node = producer.get(name)
        if node is None:
            reads.add(name)
            continue
        if id(node) in seen:
            continue
        if node.op_type not in _INDEX_OPS:
            return None, reads
        seen[id(node)] = node
        for i, src in enumerate(n for n in node.input if n):
            if src not in producer and src not in inits and not (node.op_type == "Shape" and i == 0):
                return None, reads  # a graph input's values, not its shape: not index arithmetic
            todo.append(src)
    order = {id(n): k for k, n in enumerate(producer.values())}
    return sorted(seen.values(), key=lambda n: order.get(id(n), 0)), reads


def _feeds(inputs: list[onnx.ValueInfoProto], batch: int) -> dict[str, np.ndarray]:
    """Zeros for each of ``inputs``, a symbolic batch set to ``batch`` (only their shapes are read)."""
    from onnx import helper

    feeds = {}
    for value in inputs:
        tensor = value.type.tensor_type
        dims = [
            d.dim_value if d.HasField("dim_value") else (batch if k == 0 else 1) for k, d in enumerate(tensor.shape.dim)
        ]
        feeds[value.name] = np.zeros(dims, dtype=helper.tensor_dtype_to_np_dtype(tensor.elem_type))
    return feeds


def drop_dead(graph: onnx.GraphProto, candidates: set[int]) -> None:
    """Remove the nodes among ``candidates`` (by ``id``) none of whose outputs is read, by a node or as a graph
    output, until none is left; other unread nodes stay, as the file has them."""
    outputs = {o.name for o in graph.output}
    while True:
        read = {name for node in graph.node for name in node.input} | outputs
        dead = [
            k
            for k, node in enumerate(graph.node)
            if id(node) in candidates and not any(out in read for out in node.output if out)
        ]
        if not dead:
            return
        for k in reversed(dead):
            del graph.node[k]
