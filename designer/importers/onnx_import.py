"""Import an ONNX model as an editable design, weights included.

Standard operators map to layer nodes (Conv, BatchNormalization, Gemm/MatMul+Add, pooling, activations, Concat,
Resize, Pad, MaxRoiPool/RoiAlign, ...). Shape arithmetic that only feeds a Reshape (what exporters emit for a dynamic
batch) is absorbed into the Flatten/Reshape it computes, and the preparation of RoI rows into the RoI layer that reads
them (``onnx_roi``). Anything else is named with its ONNX node and the import fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..model.graph import Graph, Node, NodeId
from . import ImportResult, ModelImportError
from .onnx_builder import OnnxGraphBuilder, sanitize, static_sample_shape, value_shapes
from .onnx_context import OpContext, Unsupported, constant_value
from .onnx_fold import FoldError, fold_constants, with_shapes
from .onnx_ops import OPS
from .onnx_restride import drop_restrides
from .onnx_roi import fold_roi_rows, valid_rows

if TYPE_CHECKING:
    import onnx

#: Operators whose outputs are shape arithmetic when they only feed the shape input of a Reshape.
_SHAPE_OPS = frozenset(
    {
        "Shape",
        "Gather",
        "Unsqueeze",
        "Squeeze",
        "Concat",
        "Constant",
        "Cast",
        "CastLike",
        "Slice",
        "Mul",
        "Div",
        "ReduceProd",
        "Identity",
        "Reshape",
        "Expand",
    }
)
#: Inputs that carry shapes or scales rather than data: (operator, input index).
_SHAPE_INPUTS = frozenset(
    {
        ("Reshape", 1),
        ("Resize", 1),
        ("Resize", 2),
        ("Resize", 3),
        ("Upsample", 1),
        ("Expand", 1),
        ("ReduceMean", 1),
        ("Pad", 1),
    }
)


def import_onnx(path: str) -> ImportResult:
    """Read ``path`` and map it to a design whose compiled module reproduces onnxruntime's outputs."""
    model, unfolded = _load(path)
    importer = _Importer(OnnxGraphBuilder(model), unfolded)
    result = importer.run()
    _check_parity(result, path, importer.input_shapes, _roi_rows(result.graph, importer.builder))
    return result


def _load(path: str) -> tuple[onnx.ModelProto, list[str]]:
    """The model with its constants folded, shapes inferred and re-strides and RoI rows folded; and what explains
    a RoI node left unfolded (reported only if the import fails)."""
    import onnx

    if not Path(path).is_file():
        raise ModelImportError(f"cannot read {path}: no such file")
    try:
        model = onnx.load(path)
    except Exception as exc:
        raise ModelImportError(f"cannot read {path} as ONNX: {exc}") from None
    try:
        folded = fold_constants(model)
    except FoldError as exc:
        raise ModelImportError(f"onnxruntime cannot load {path}: {exc}") from None
    model = with_shapes(folded)
    drop_restrides(model, value_shapes(model))
    return model, fold_roi_rows(model, value_shapes(model))


class _Importer:
    """Maps each ONNX node through its operator handler and collects what cannot be mapped."""

    def __init__(self, builder: OnnxGraphBuilder, explanations: list[str] | None = None) -> None:
        self.builder = builder
        self.explanations = explanations or []
        self.graph = builder.graph
        self.problems: list[str] = []
        self.downstream = 0
        self.input_shapes: dict[str, list[int]] = {}

    def run(self) -> ImportResult:
        b = self.builder
        self._inputs()
        skip = self._shape_only_nodes()
        for node in self.graph.node:
            if node.op_type == "Constant":
                b.consts[node.output[0]] = constant_value(node)
                continue
            if id(node) in b.absorbed:
                continue
            if id(node) in skip:
                b.shape_values.update(node.output)
                continue
            self._map(node)
        outputs: list[str] = [b.producer[o.name] for o in self.graph.output if o.name in b.producer]
        if self.downstream and not self.problems:
            self.problems.append("some operations read values that could not be computed")
        if self.problems:
            self.problems += self.explanations
            after = f" (and {self.downstream} operations that depend on them)" if self.downstream else ""
            raise ModelImportError(f"some ONNX operators cannot be mapped{after}", self.problems)
        name = self.graph.name or "Imported ONNX model"
        return ImportResult(Graph(name, b.nodes, outputs), b.state)

    def _inputs(self) -> None:
        b = self.builder
        for value in self.graph.input:
            if value.name in b.consts:
                continue  # old exporters list initializers as inputs too
            dims = b.shapes.get(value.name)
            sample = static_sample_shape(dims)
            if not dims or len(dims) < 2 or sample is None:
                self.problems.append(f"input '{value.name}' needs a static shape after the batch, has {dims}")
                continue
            node_id = b.unique(sanitize(value.name) or "input")
            self.input_shapes[value.name] = sample
            b.add(Node(NodeId(node_id), "Input", {"shape": list(sample)}), value.name)

    def _shape_only_nodes(self) -> set[int]:
        """Nodes (by id) whose every output only feeds Reshape shapes or other such nodes."""
        consumers = self.builder.consumers
        skip: set[int] = set()
        for node in reversed(self.graph.node):
            if node.op_type not in _SHAPE_OPS:
                continue
            users = [u for out in node.output for u in consumers.get(out, [])]
            graph_outputs = {o.name for o in self.graph.output}
            if not users or any(out in graph_outputs for out in node.output):
                continue
            if all(
                id(u) in skip or (u.op_type, list(u.input).index(o)) in _SHAPE_INPUTS
                for o in node.output
                for u in consumers.get(o, [])
            ):
                skip.add(id(node))
        return skip

    def _map(self, node: onnx.NodeProto) -> None:
        handler = OPS.get(node.op_type)
        where = f"ONNX node '{node.name or node.output[0]}' ({node.op_type})"
        if handler is None:
            self.problems.append(f"{where} has no designer node type")
            return
        if any(n not in self.builder.producer for n in self.builder.data_inputs(node)):
            self.downstream += 1
            return
        try:
            handler(OpContext(self.builder, node))
        except Unsupported as exc:
            self.problems.append(f"{where}: {exc}")


def _roi_rows(graph: Graph, builder: OnnxGraphBuilder) -> set[str]:
    """The ONNX inputs that a RoIPool or RoIAlign reads as its rows (batch index, x1, y1, x2, y2)."""
    rows = {n.inputs[1] for n in graph if n.type in ("RoIPool", "RoIAlign") and len(n.inputs) > 1}
    inputs = {value.name for value in builder.graph.input}
    return {name for name, node_id in builder.producer.items() if node_id in rows and name in inputs}


def _check_parity(result: ImportResult, path: str, input_shapes: dict[str, list[int]], rows: set[str]) -> None:
    import onnxruntime as ort
    import torch

    from ..compiler import CompileError, compile_graph

    try:
        design = compile_graph(result.graph).eval()
    except CompileError as exc:
        raise ModelImportError("the imported design does not validate", [str(d) for d in exc.diagnostics]) from None
    design.load_state_dict(result.state_dict, strict=True)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    # Two samples catch a batch dimension mixed into the features; a file exported with a fixed batch takes only that.
    fixed = {i.name: i.shape[0] for i in session.get_inputs() if i.shape and isinstance(i.shape[0], int)}
    rng = np.random.default_rng(0)
    feeds = {
        name: rng.standard_normal((fixed.get(name, 2), *shape)).astype(np.float32)
        for name, shape in input_shapes.items()
        if name not in rows
    }
    batch = min((len(v) for v in feeds.values()), default=2)
    extent = max((v.shape[-1] for v in feeds.values()), default=16)
    # Valid rows, not random ones: onnxruntime truncates an index such as 0.6 that the designer rounds, and reads
    # outside the map at an index past the batch; no detector feeds either.
    feeds |= {name: valid_rows(rng, fixed.get(name, 3), batch, extent) for name in rows}
    feeds = {name: feeds[name] for name in input_shapes}  # the design's inputs are in the file's order
    try:
        want = session.run(None, feeds)
    except Exception as exc:  # onnxruntime's error classes have no stable public import path
        raise ModelImportError(f"onnxruntime cannot run the file to check the import: {exc}") from None
    with torch.no_grad():
        got = design(*[torch.from_numpy(v) for v in feeds.values()])
    got = got if isinstance(got, tuple) else (got,)
    worst = max(float(np.abs(w - g.numpy()).max()) for w, g in zip(want, got))
    if len(want) != len(got) or worst > 1e-4:
        raise ModelImportError(f"the imported design differs from onnxruntime's outputs (max abs {worst:.2e})")
    result.notes.append(f"outputs match onnxruntime within {worst:.1e}")
