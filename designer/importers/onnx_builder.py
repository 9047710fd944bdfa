"""The design being built from an ONNX graph: its nodes and weights, and which design node computes each ONNX value.

The operator handlers (``onnx_ops``) emit nodes through an ``OnnxGraphBuilder`` and the importer (``onnx_import``)
drives both; this module imports neither, so the dependency runs one way.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from ..analysis.validate import valid_segment
from ..model.graph import Node, NodeId

if TYPE_CHECKING:
    import onnx
    import torch

#: One dimension of an ONNX value's shape: a size, a symbolic name such as ``"batch"``, or unknown.
Dim: TypeAlias = "int | str | None"


class OnnxGraphBuilder:
    """The design being built from one ONNX model, and what the model says about its values.

    Attributes:
        graph: the model's ONNX graph.
        consts: initializers and folded constants, by ONNX value name.
        shapes: the inferred shape of each ONNX value that has one.
        consumers: the ONNX nodes that read each value.
        shape_values: outputs of shape arithmetic on the data (e.g. the batch size): they parametrise design nodes
            instead of feeding them.
        nodes: the design nodes emitted so far, in order.
        state: the design's weights, keyed as its compiled module's state_dict.
        producer: the design node that computes each ONNX value.
        taken: the node ids in use.
        containers: the module paths that enclose other modules' paths.
        absorbed: ONNX nodes (by ``id``) that a design node emitted for an earlier one already computes.
        transposed: values that are the transpose of the value their producer computes, and that a later operator
            transposes back (a Gemm's ``transA``).
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        from onnx import numpy_helper

        self.graph = model.graph
        self.consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in self.graph.initializer}
        self.shapes = value_shapes(model)
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.shape_values: set[str] = set()
        self.nodes: list[Node] = []
        self.state: dict[str, torch.Tensor] = {}
        self.producer: dict[str, NodeId] = {}
        self.taken: set[str] = set()
        self.containers = _containers(self.graph)
        self.absorbed: set[int] = set()
        self.transposed: set[str] = set()

    def data_inputs(self, node: onnx.NodeProto) -> list[str]:
        """The inputs of ``node`` that carry data computed by the network: neither constants nor shapes."""
        return [n for n in node.input if n and n not in self.consts and n not in self.shape_values]

    def unique(self, base: str) -> str:
        """``base``, or ``base_<k>``, such that it neither equals nor nests with (``a`` / ``a.b``) a taken id."""
        base = base or "node"
        candidate, k = base, 1
        while self.clashes(candidate):
            candidate = self._renamed(base, k)
            k += 1
        return candidate

    def clashes(self, candidate: str) -> bool:
        """Whether ``candidate`` is taken, or nests with a taken id (``a`` and ``a.b`` cannot both be nodes)."""
        return (
            candidate in self.taken
            or any(t.startswith(candidate + ".") for t in self.taken)
            or any(candidate.startswith(t + ".") for t in self.taken)
        )

    def _renamed(self, base: str, k: int) -> str:
        """``base`` with the ``k``-th suffix on the level that clashes: on the taken id it would nest under, if any.

        A suffix at the end cannot help when a taken id encloses ``base`` (``block`` taken, ``block.inner`` wanted:
        ``block.inner_1`` is still inside ``block``); that is where a densenet export made the importer loop forever.
        """
        parts = base.split(".")
        for i in range(1, len(parts)):
            if ".".join(parts[:i]) in self.taken:
                return ".".join([*parts[: i - 1], f"{parts[i - 1]}_{k}", *parts[i:]])
        return f"{base}_{k}"

    def add(self, node: Node, output: str) -> None:
        """Append ``node`` to the design as the producer of the ONNX value ``output``."""
        self.taken.add(node.id)
        self.nodes.append(node)
        self.producer[output] = node.id

    def node_id_for(self, node: onnx.NodeProto, weight: str | None, suffix: str = "") -> str:
        """A free design id for ``node``: its weight's module path, else the exporter's module scope, else its name.

        ``suffix`` tells apart the design nodes one ONNX node becomes (a Split's slices).
        """
        candidates = []
        if weight and weight.endswith(".weight"):
            candidates.append(weight[: -len(".weight")] + suffix)
        scope = node_scope(node)
        if scope:
            # An operation inside a module's forward (a residual add, DenseNet's concat) has that module's path,
            # which its submodules use as a group: then it becomes a child of it, named for what it does.
            op = f"{scope}.{node.op_type.lower()}{suffix}"
            candidates += [op] if scope in self.containers else [scope + suffix, op]
        elif not _names_only_its_op(node):
            candidates.append(sanitize(node.name or node.output[0]) + suffix)
        usable = [c for c in candidates if c and all(valid_segment(s) for s in c.split("."))]
        free = next((c for c in usable if not self.clashes(c)), None)
        return free or self.unique(usable[0] if usable else node.op_type.lower() + suffix)


def _names_only_its_op(node: onnx.NodeProto) -> bool:
    """Whether the exporter named ``node`` after its operator alone: dynamo's own names (``node_conv2d_1``), the
    TorchScript exporter's outside any module (``/Add``, ``/Concat_1``). Those ids read as the operator, lower case
    (``add``, ``add_1``), whichever exporter wrote the file."""
    return node.name.startswith("node_") or re.fullmatch(rf"/?{re.escape(node.op_type)}(_\d+)?", node.name) is not None


def node_scope(node: onnx.NodeProto) -> str:
    """The module path the exporter recorded for ``node``: dynamo's name scopes, or the legacy ``/a/b/Op`` name."""
    scope = _scope_path(node)
    if node.name.startswith("/") and not scope:  # torch's TorchScript exporter: "/<module path>/<Op>"
        scope = module_path([sanitize(level) for level in node.name.split("/")[1:-1]])
    return scope


def _containers(graph: onnx.GraphProto) -> set[str]:
    """Module paths that enclose another node's module path: groups, whose own operations become children."""
    found: set[str] = set()
    for node in graph.node:
        parts = node_scope(node).split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return found


def static_sample_shape(dims: list[Dim] | None) -> list[int] | None:
    """The dimensions after the batch when each is a known positive size, else None."""
    if dims is None:
        return None
    sample = [d for d in dims[1:] if isinstance(d, int) and d >= 1]
    return sample if len(sample) == len(dims[1:]) else None


_SEGMENT_FIX = re.compile(r"[^A-Za-z0-9_]")


def sanitize(name: str) -> str:
    """An ONNX name (``/layer1/conv``, ``x:0``) as a dotted design id; empty when nothing of it is usable."""
    parts = [p for p in re.split(r"[/:]", name) if p]
    parts = [_SEGMENT_FIX.sub("_", p).strip("_") for p in ".".join(parts).split(".")]
    parts = [p if p and (p[0].isalpha() or p.isdigit()) else f"n{p}" for p in parts if p]
    return ".".join(parts)


def value_shapes(model: onnx.ModelProto) -> dict[str, list[Dim]]:
    """The shape of each input, output and inferred value that has one."""
    shapes: dict[str, list[Dim]] = {}
    for value in list(model.graph.input) + list(model.graph.value_info) + list(model.graph.output):
        tensor = value.type.tensor_type
        if not tensor.HasField("shape"):
            continue
        shapes[value.name] = [
            d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim
        ]
    return shapes


def module_path(levels: list[str]) -> str:
    """The dotted module path of a list of scope levels, whichever way the exporter wrote them.

    Older exporters give one name per level (``layer1``, ``0``, ``relu``); newer ones the full path of each level
    (``layer1``, ``layer1.0``, ``layer1.0.relu``); the TorchScript exporter also names a level by its path inside
    the previous one's parent (``features.1``, ``conv``, ``conv.0``, ``conv.0.0`` in MobileNetV2). All give one path
    (``layer1.0.relu``, ``features.1.conv.0.0``); joining them gave ``layer1.layer1.0.layer1.0.relu``.
    """
    path, parent, last = "", "", ""
    for level in (lv for lv in levels if lv):
        if last and level.startswith(last + "."):
            path = f"{parent}.{level}" if parent else level  # the level restates the previous one and goes deeper
        else:
            parent = path
            path = f"{path}.{level}" if path else level
        last = level
    return path


def _scope_path(node: onnx.NodeProto) -> str:
    """The module path torch's exporter recorded (``pkg.torch.onnx.name_scopes``), the op's own name dropped."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                scopes = [str(s) for s in ast.literal_eval(prop.value)]
            except (ValueError, SyntaxError):
                return ""
            return module_path(scopes[:-1])
    return ""
