"""Fold the constant parts of an ONNX graph with onnxruntime's own optimiser before any operator is mapped.

Exporters write weights and shapes as small computations: ``ConstantOfShape`` fills, ``Shape -> Gather ->
Unsqueeze -> Concat`` chains, ``Identity`` and ``Cast`` of initialisers, ``CastLike`` of a zero bias. onnxruntime's
basic graph optimisation evaluates them into initialisers; its fusions, which would change the design (a BatchNorm
folded into the Conv before it, a Dropout or a layer scale dropped, two equal branches merged), are turned off.
"""

from __future__ import annotations

import heapq
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx


class FoldError(Exception):
    """onnxruntime cannot load the model to fold it; the message is onnxruntime's first line."""


#: onnxruntime's basic-level rewrites that merge or drop layers a user drew; constant folding stays on.
KEEP_LAYERS = (
    "ConvBNFusion",
    "ConvAddFusion",
    "ConvMulFusion",
    "Pad_Fusion",
    "MatMulBnFusion",
    "EliminateDropout",
    "FuseReluClip",
    "GemmSumFusion",
    "NoopElimination",
    "CommonSubexpressionElimination",
    "ConstantSharing",
    "TransposeOptimizer",
)
#: A fold can leave new constant work behind (``CastLike`` becomes a ``Cast`` of a constant): a second pass ends it.
#: A pass costs a serialisation of the whole model, so the second runs only when a node has only constant inputs.
PASSES = 2


def fold_constants(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` (external data loaded) with its constant subgraphs evaluated by onnxruntime."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="designer-onnx-") as tmp:
        # Bytes, not the path: the folded copy is written elsewhere, where external data files would not be found.
        source: str | bytes = model.SerializeToString()
        folded = model
        for step in range(PASSES):
            if step and not _foldable(folded):
                break
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
            options.optimized_model_filepath = str(Path(tmp) / f"folded{step}.onnx")
            options.log_severity_level = 3
            try:
                ort.InferenceSession(
                    source, options, providers=["CPUExecutionProvider"], disabled_optimizers=list(KEEP_LAYERS)
                )
            except Exception as exc:  # onnxruntime's error classes have no stable public import path
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise FoldError(first) from None
            source = options.optimized_model_filepath
            folded = onnx.load(options.optimized_model_filepath)
    _keep_metadata(model, folded)
    _keep_order(model, folded)
    return folded


def _keep_metadata(original: onnx.ModelProto, folded: onnx.ModelProto) -> None:
    """Give the folded nodes back what onnxruntime drops: dynamo's module scopes (metadata) and, for a node it
    rewrote, the file's name (found by the value the node computes)."""
    names = {n.output[0]: n.name for n in original.graph.node if n.name and n.output}
    known = set(names.values())
    for node in folded.graph.node:
        if node.name not in known and node.output and node.output[0] in names:
            node.name = names[node.output[0]]
    props = {n.name: n.metadata_props for n in original.graph.node if n.name and n.metadata_props}
    for node in folded.graph.node:
        if node.name in props and not node.metadata_props:
            node.metadata_props.extend(props[node.name])


def _keep_order(original: onnx.ModelProto, folded: onnx.ModelProto) -> None:
    """Put the folded nodes back in the file's order (onnxruntime writes its own): the design lists them so.

    A topological sort that, among the nodes ready, takes the one earliest in the original file; nodes onnxruntime
    made itself go first, as soon as their inputs are ready.
    """
    rank = {n.name: i for i, n in enumerate(original.graph.node) if n.name}
    nodes = list(folded.graph.node)
    producer = {out: i for i, n in enumerate(nodes) for out in n.output if out}
    waiting = [sum(1 for name in set(n.input) if name in producer) for n in nodes]
    users: dict[int, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in set(node.input):
            if name in producer:
                users.setdefault(producer[name], []).append(i)
    ready = [(rank.get(n.name, -1), i) for i, n in enumerate(nodes) if not waiting[i]]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(i)
        for user in users.get(i, []):
            waiting[user] -= 1
            if not waiting[user]:
                heapq.heappush(ready, (rank.get(nodes[user].name, -1), user))
    if len(order) == len(nodes):
        copies = [type(nodes[i])() for i in order]
        for copy, i in zip(copies, order):
            copy.CopyFrom(nodes[i])
        del folded.graph.node[:]
        folded.graph.node.extend(copies)


def _foldable(model: onnx.ModelProto) -> bool:
    """Whether a node computes from initialisers alone (a fold left work for another pass)."""
    consts = {i.name for i in model.graph.initializer}
    return any(n.input and all(not i or i in consts for i in n.input) for n in model.graph.node)


#: Initialisers larger than this are weights: shape inference needs their shapes, not their values.
_WEIGHT_SIZE = 4096


def with_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with the shape of every value onnx's shape inference can infer, added as ``value_info``.

    Inference runs on a copy whose weights are declared inputs of the same shape: onnx serialises what it infers on,
    and a VGG's half a gigabyte took longer than the rest of the import.
    """
    import onnx
    from onnx import helper

    light = onnx.ModelProto(ir_version=model.ir_version)
    light.opset_import.extend(model.opset_import)
    graph = light.graph
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    graph.output.extend(model.graph.output)
    graph.value_info.extend(model.graph.value_info)  # what the exporter knew (dynamo: every symbolic shape)
    declared = {i.name for i in model.graph.input}
    for tensor in model.graph.initializer:
        if _elements(tensor) <= _WEIGHT_SIZE:
            graph.initializer.append(tensor)
        elif tensor.name not in declared:
            graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    inferred = onnx.shape_inference.infer_shapes(light)
    del model.graph.value_info[:]
    model.graph.value_info.extend(inferred.graph.value_info)
    del model.graph.output[:]
    model.graph.output.extend(inferred.graph.output)
    return model


def _elements(tensor: onnx.TensorProto) -> int:
    count = 1
    for d in tensor.dims:
        count *= d
    return count
