"""Import an ONNX model as an editable design, weights included.

Standard operators map to layer nodes (Conv, BatchNormalization, Gemm/MatMul+Add, pooling, activations, Concat,
Resize, Pad, ...). Shape arithmetic that only feeds a Reshape (what exporters emit for a dynamic batch) is absorbed
into the Flatten/Reshape it computes. Anything else is named with its ONNX node and the import fails.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..model.graph import Graph, Node, NodeId
from . import ImportResult, ModelImportError
from .onnx_ops import OPS, OpContext, Unsupported, fold

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
    import onnx

    try:
        model = onnx.load(path)
        model = onnx.shape_inference.infer_shapes(model)
    except FileNotFoundError:
        raise ModelImportError(f"cannot read {path}: no such file") from None
    except Exception as exc:
        raise ModelImportError(f"cannot read {path} as ONNX: {exc}") from None
    builder = _Builder(model)
    result = builder.run()
    _check_parity(result, path, builder.input_shapes)
    return result


class _Builder:
    def __init__(self, model: Any):
        from onnx import numpy_helper

        self.graph = model.graph
        self.consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in self.graph.initializer}
        self.shapes = _value_shapes(model)
        self.nodes: list[Node] = []
        self.state: dict[str, Any] = {}
        self.producer: dict[str, NodeId] = {}
        self.taken: set[str] = set()
        self.problems: list[str] = []
        self.downstream = 0
        self.input_shapes: dict[str, list[int]] = {}
        #: Outputs of shape arithmetic on the data (e.g. the batch size): they parametrise nodes, not feed them.
        self.shape_values: set[str] = set()
        self.consumers: dict[str, list[Any]] = {}
        for node in self.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def run(self) -> ImportResult:
        self._inputs()
        skip = self._shape_only_nodes()
        for node in self.graph.node:
            if fold(node, self.consts):
                continue
            if id(node) in skip:
                self.shape_values.update(node.output)
                continue
            self._map(node)
        outputs = [self.producer[o.name] for o in self.graph.output if o.name in self.producer]
        if self.downstream and not self.problems:
            self.problems.append("some operations read values that could not be computed")
        if self.problems:
            after = f" (and {self.downstream} operations that depend on them)" if self.downstream else ""
            raise ModelImportError(f"some ONNX operators cannot be mapped{after}", self.problems)
        name = self.graph.name or "Imported ONNX model"
        return ImportResult(Graph(name, self.nodes, outputs), self.state)

    def _inputs(self) -> None:
        for value in self.graph.input:
            if value.name in self.consts:
                continue  # old exporters list initializers as inputs too
            dims = self.shapes.get(value.name)
            if not dims or len(dims) < 2 or any(not isinstance(d, int) or d < 1 for d in dims[1:]):
                self.problems.append(f"input '{value.name}' needs a static shape after the batch, has {dims}")
                continue
            node_id = self.unique(_sanitize(value.name) or "input")
            self.input_shapes[value.name] = list(dims[1:])
            self._add(Node(NodeId(node_id), "Input", {"shape": list(dims[1:])}), value.name)

    def _shape_only_nodes(self) -> set[int]:
        """Nodes (by id) whose every output only feeds Reshape shapes or other such nodes."""
        skip: set[int] = set()
        for node in reversed(self.graph.node):
            if node.op_type not in _SHAPE_OPS:
                continue
            users = [u for out in node.output for u in self.consumers.get(out, [])]
            graph_outputs = {o.name for o in self.graph.output}
            if not users or any(out in graph_outputs for out in node.output):
                continue
            if all(
                id(u) in skip or (u.op_type, list(u.input).index(o)) in _SHAPE_INPUTS
                for o in node.output
                for u in self.consumers.get(o, [])
            ):
                skip.add(id(node))
        return skip

    def _map(self, node: Any) -> None:
        handler = OPS.get(node.op_type)
        where = f"ONNX node '{node.name or node.output[0]}' ({node.op_type})"
        if handler is None:
            self.problems.append(f"{where} has no designer node type")
            return
        data_inputs = self.data_inputs(node)
        if any(n not in self.producer for n in data_inputs):
            self.downstream += 1
            return
        ctx = OpContext(self, node)
        try:
            handler(ctx)
        except Unsupported as exc:
            self.problems.append(f"{where}: {exc}")

    # -- used by the operator handlers ------------------------------------------------------------------------------

    def data_inputs(self, node: Any) -> list[str]:
        return [n for n in node.input if n and n not in self.consts and n not in self.shape_values]

    def unique(self, base: str) -> str:
        base = base or "node"
        candidate, k = base, 1
        while (
            candidate in self.taken
            or any(t.startswith(candidate + ".") for t in self.taken)
            or any(candidate.startswith(t + ".") for t in self.taken)
        ):
            candidate = f"{base}_{k}"
            k += 1
        return candidate

    def _add(self, node: Node, output: str) -> None:
        self.taken.add(node.id)
        self.nodes.append(node)
        self.producer[output] = node.id


def _value_shapes(model: Any) -> dict[str, list[int | str | None]]:
    shapes: dict[str, list[int | str | None]] = {}
    for value in list(model.graph.input) + list(model.graph.value_info) + list(model.graph.output):
        tensor = value.type.tensor_type
        if not tensor.HasField("shape"):
            continue
        shapes[value.name] = [
            d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim
        ]
    return shapes


_SEGMENT_FIX = re.compile(r"[^A-Za-z0-9_]")


def _sanitize(name: str) -> str:
    parts = [p for p in re.split(r"[/:]", name) if p]
    parts = [_SEGMENT_FIX.sub("_", p).strip("_") for p in ".".join(parts).split(".")]
    parts = [p if p and (p[0].isalpha() or p.isdigit()) else f"n{p}" for p in parts if p]
    return ".".join(parts)


def node_id_for(builder: _Builder, node: Any, weight: str | None) -> str:
    """The design id for an ONNX node: its weight's module path, else the exporter's module scope, else its name."""
    from ..analysis.validate import valid_segment

    candidates = []
    if weight and weight.endswith(".weight"):
        candidates.append(weight[: -len(".weight")])
    scopes = _name_scopes(node)
    if scopes:
        candidates.append(".".join(scopes))
    if node.name.startswith("/"):  # torch's TorchScript exporter: "/<module path>/<Op>"
        candidates.append(_sanitize(node.name.rsplit("/", 1)[0]))
    elif not node.name.startswith("node_"):  # dynamo's own names ("node_conv2d_1") say nothing a user chose
        candidates.append(_sanitize(node.name or node.output[0]))
    for candidate in candidates:
        if candidate and all(valid_segment(s) for s in candidate.split(".")):
            return builder.unique(candidate)
    return builder.unique(f"{node.op_type.lower()}")


def _name_scopes(node: Any) -> list[str]:
    """Module path recorded by torch's exporter (``pkg.torch.onnx.name_scopes``), with the op's own name dropped."""
    import ast

    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                scopes = [s for s in ast.literal_eval(prop.value) if s]
            except (ValueError, SyntaxError):
                return []
            return scopes[:-1]
    return []


def _check_parity(result: ImportResult, path: str, input_shapes: dict[str, list[int]]) -> None:
    import onnxruntime as ort
    import torch

    from ..compiler import CompileError, compile_graph

    try:
        design = compile_graph(result.graph).eval()
    except CompileError as exc:
        raise ModelImportError("the imported design does not validate", [str(d) for d in exc.diagnostics]) from None
    design.load_state_dict(result.state_dict, strict=True)
    rng = np.random.default_rng(0)
    feeds = {name: rng.standard_normal((2, *shape)).astype(np.float32) for name, shape in input_shapes.items()}
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    want = session.run(None, feeds)
    with torch.no_grad():
        got = design(*[torch.from_numpy(v) for v in feeds.values()])
    got = got if isinstance(got, tuple) else (got,)
    worst = max(float(np.abs(w - g.numpy()).max()) for w, g in zip(want, got))
    if len(want) != len(got) or worst > 1e-4:
        raise ModelImportError(f"the imported design differs from onnxruntime's outputs (max abs {worst:.2e})")
    result.notes.append(f"outputs match onnxruntime within {worst:.1e}")
