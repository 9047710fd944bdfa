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
)
#: A fold can leave new constant work behind (``CastLike`` becomes a ``Cast`` of a constant): a second pass ends it.
PASSES = 2


def fold_constants(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` (external data loaded) with its constant subgraphs evaluated by onnxruntime."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="designer-onnx-") as tmp:
        # Bytes, not the path: the folded copy is written elsewhere, where external data files would not be found.
        source: str | bytes = model.SerializeToString()
        for step in range(PASSES):
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
    """Give the folded nodes back the metadata onnxruntime drops: dynamo's module scopes live there."""
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
