"""What an ONNX operator handler works with: the node being mapped (``OpContext``) and the attribute readers the
operator families (``onnx_ops_*``) share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..model.graph import Node, NodeId
from .onnx_builder import Dim, OnnxGraphBuilder

if TYPE_CHECKING:
    import onnx


class Unsupported(Exception):
    """This use of the operator has no design equivalent; the message says what."""


class OpContext:
    """One ONNX node being mapped: its attributes, constant inputs and a way to emit the design node."""

    def __init__(self, builder: OnnxGraphBuilder, node: onnx.NodeProto) -> None:
        from onnx import helper

        self.builder = builder
        self.node = node
        self.attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        for key, value in list(self.attrs.items()):
            if isinstance(value, bytes):
                self.attrs[key] = value.decode()

    def const(self, index: int) -> np.ndarray | None:
        """The constant value of input ``index``, or None when it is absent or computed by the network."""
        inputs = self.node.input
        return self.builder.consts.get(inputs[index]) if index < len(inputs) and inputs[index] else None

    def const_of(self, node: onnx.NodeProto, index: int) -> np.ndarray | None:
        """The constant value of input ``index`` of another ``node`` (a pattern's later member)."""
        inputs = node.input
        return self.builder.consts.get(inputs[index]) if index < len(inputs) and inputs[index] else None

    def data(self) -> list[str]:
        """Design ids of the non-constant inputs, in order."""
        return [self.builder.producer[n] for n in self.builder.data_inputs(self.node)]

    def rank(self, index: int = 0) -> int | None:
        """The number of dimensions of input ``index``, when shape inference knows it."""
        shape = self.builder.shapes.get(self.node.input[index])
        return len(shape) if shape is not None else None

    def in_shape(self, index: int = 0) -> list[Dim] | None:
        """The inferred shape of input ``index``, when shape inference knows it."""
        return self.builder.shapes.get(self.node.input[index])

    def out_shape(self, index: int = 0) -> list[Dim] | None:
        """The inferred shape of output ``index``, when shape inference knows it."""
        return self.builder.shapes.get(self.node.output[index])

    def only_user(self, value: str, op_type: str) -> onnx.NodeProto | None:
        """The one ONNX node reading ``value``, when there is one and it is an ``op_type`` (a pattern's next member)."""
        users = self.builder.consumers.get(value, [])
        return users[0] if len(users) == 1 and users[0].op_type == op_type else None

    def has_type(self, type_name: str) -> bool:
        """Whether the layer registry has ``type_name`` (types arrive over time; a handler may need a newer one)."""
        from ..layers.registry import get_spec

        return get_spec(type_name) is not None

    def emit(
        self,
        type_name: str,
        params: dict[str, Any],
        weights: dict[str, np.ndarray] | None = None,
        inputs: list[str] | None = None,
        output: str | None = None,
        suffix: str = "",
    ) -> str:
        """Add a ``type_name`` node and its weights for this ONNX node; return the design id it was given.

        Args:
            type_name: the design node type.
            params: its params, as the file writes them.
            weights: state_dict entries of the node, by suffix (``weight``, ``bias``, ...).
            inputs: design ids it reads (default: those computing the ONNX node's data inputs).
            output: the ONNX value it computes (default: the ONNX node's first output).
            suffix: added to the id when one ONNX node becomes several design nodes (``_0``, ``_1``, ...).
        """
        if not self.has_type(type_name):
            raise Unsupported(f"maps to a {type_name} node, which this version of the designer does not have")
        weight_name = (
            self.node.input[1] if len(self.node.input) > 1 and self.node.input[1] in self.builder.consts else None
        )
        node_id = self.builder.node_id_for(self.node, weight_name, suffix)
        for key, array in (weights or {}).items():
            import torch

            self.builder.state[f"{node_id}.{key}"] = torch.from_numpy(np.array(array, copy=True))
        node = Node(NodeId(node_id), type_name, params, [NodeId(i) for i in (inputs or self.data())])
        self.builder.add(node, output or self.node.output[0])
        return node_id


def constant_value(node: onnx.NodeProto) -> np.ndarray:
    """The value a ``Constant`` node holds, whichever attribute it is written in."""
    from onnx import helper, numpy_helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    for key, dtype in (("value_ints", np.int64), ("value_int", np.int64)):
        if key in attrs:
            return np.array(attrs[key], dtype=dtype)
    for key in ("value_floats", "value_float"):
        if key in attrs:
            return np.array(attrs[key], dtype=np.float32)
    raise Unsupported(f"a Constant written as {sorted(attrs)} is not read")


def short_float(value: float) -> float:
    """A float32 attribute as the number it was written as (``2e-4``, not ``0.000199999995``)."""
    return float(f"{float(value):.7g}")


def pair(values: list[int] | None, default: int) -> int | list[int]:
    """Two spatial values as one int when equal, else as a list; the default for both when absent."""
    values = list(values) if values is not None else [default, default]
    if len(values) != 2:
        raise Unsupported(f"expects 2 spatial dimensions, has {len(values)}")
    return values[0] if values[0] == values[1] else values


def symmetric_pads(ctx: OpContext) -> int | list[int]:
    """The ``pads`` attribute of a convolution or pooling as torch's ``padding``."""
    if ctx.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise Unsupported(f"auto_pad={ctx.attrs['auto_pad']} is not supported; export with explicit pads")
    pads = list(ctx.attrs.get("pads", [0, 0, 0, 0]))
    if pads[:2] != pads[2:]:
        raise Unsupported(f"asymmetric pads {pads}; add a ZeroPad2d before it")
    return pair(pads[:2], 0)


def nonzero(params: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """``params`` without those equal to their default, as a design file writes them."""
    return {k: v for k, v in params.items() if v != defaults.get(k)}


def static_dims(dims: list[Dim] | None) -> list[int] | None:
    """Every dimension of a shape when all are known sizes, else None."""
    if dims is None or not all(isinstance(d, int) for d in dims):
        return None
    return [int(d) for d in dims if d is not None]
