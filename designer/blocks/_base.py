"""Block machinery: the spec of a palette block, the result of emitting one, and the builder that emits nodes and
infers their shapes as it goes (through the validator, so no torch)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..analysis.validate import analyze
from ..layers.registry import Shape
from ..model.diagnostics import DesignError
from ..model.graph import Graph, Node, NodeId
from ..model.params import Param


@dataclass(frozen=True)
class BlockResult:
    """The nodes a block emitted (ids ``prefix.<child>``, in evaluation order), its output node and every shape."""

    nodes: list[Node]
    output_id: NodeId
    shapes: dict[NodeId, Shape] = field(default_factory=dict)

    @property
    def out_shape(self) -> Shape:
        return self.shapes[self.output_id]


#: ``generator(prefix, input_id, in_shape, **params) -> BlockResult``.
Generator = Callable[..., BlockResult]


@dataclass(frozen=True)
class BlockSpec:
    """One palette block: a parametrised generator of a group of nodes that share an id prefix.

    ``params`` use the layer parameter schema, so the inspector builds their editors as it does for layers.
    """

    name: str
    title: str
    doc: str
    params: tuple[Param, ...]
    generator: Generator
    #: Suggested id prefix for a new instance (the GUI makes it unique with ``unique_prefix``).
    prefix: str

    def emit(self, prefix: str, input_id: str, in_shape: Sequence[int], **params: Any) -> BlockResult:
        """The block's nodes, reading from ``input_id`` whose output shape is ``in_shape`` (batch excluded).

        Raises:
            DesignError: a parameter is unknown, missing or out of range, or the block does not fit ``in_shape``.
        """
        if not prefix or prefix.startswith(".") or prefix.endswith("."):
            raise DesignError(
                "block.prefix",
                f"block {self.name} needs a prefix such as '{self.prefix}', got {prefix!r}",
                "give the block a name; its nodes are named <prefix>.<child>",
            )
        return self.generator(prefix, NodeId(input_id), tuple(in_shape), **self.resolve(params))

    def resolve(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Read raw parameter values into canonical ones with defaults filled in; raise DesignError if one is bad."""
        known = {p.name: p for p in self.params}
        for name in raw:
            if name not in known:
                raise DesignError(
                    "param.unknown",
                    f"block {self.name} has no parameter '{name}'",
                    f"{self.name} takes {', '.join(known) or 'no parameters'}",
                )
        values: dict[str, Any] = {}
        for p in self.params:
            if p.name in raw:
                values[p.name] = p.read(raw[p.name])
            elif p.required:
                raise DesignError(
                    "param.missing", f"block {self.name} needs parameter '{p.name}'", f"set {p.name} to {p.describe()}"
                )
            else:
                values[p.name] = p.canonical_default
        return values

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.canonical_default for p in self.params if not p.required}


BLOCKS: dict[str, BlockSpec] = {}


def register_block(
    name: str, title: str, doc: str, *params: Param, prefix: str | None = None
) -> Callable[[Generator], Generator]:
    """Decorator: register a generator as the palette block ``name``; refuse a duplicate name."""

    def decorate(generator: Generator) -> Generator:
        if name in BLOCKS:
            raise ValueError(f"block {name!r} is registered twice")
        BLOCKS[name] = BlockSpec(name, title, doc, tuple(params), generator, prefix or name)
        return generator

    return decorate


def get_block(name: str) -> BlockSpec | None:
    return BLOCKS.get(name)


def list_blocks() -> list[BlockSpec]:
    return list(BLOCKS.values())


def unique_prefix(ids: Sequence[str], base: str) -> str:
    """``base`` if no id is ``base`` or lies under ``base.``, else ``base_2``, ``base_3``, ..."""
    taken = set(ids)

    def free(prefix: str) -> bool:
        return prefix not in taken and not any(i.startswith(prefix + ".") for i in taken)

    if free(base):
        return base
    k = 2
    while not free(f"{base}_{k}"):
        k += 1
    return f"{base}_{k}"


def infer_shape(node: Node, src_shapes: dict[str, Shape]) -> Shape:
    """The output shape of ``node`` fed by inputs of the given shapes; raise DesignError if it does not fit."""
    inputs = [Node(NodeId(src), "Input", {"shape": list(shape)}) for src, shape in src_shapes.items()]
    analysis = analyze(Graph("block", [*inputs, node]))
    shape = analysis.shape(node.id)
    errors = analysis.errors
    if errors or shape is None:
        first = errors[0] if errors else None
        raise DesignError(
            first.code if first else "block.shape",
            first.message if first else f"cannot infer the shape of '{node.id}'",
            first.hint if first else "",
        )
    return shape


class Builder:
    """Adds nodes under an id prefix and records each node's shape, so the next layer or block can be sized.

    Scopes made with ``scope`` share the node list and shapes with their parent.
    """

    def __init__(self, prefix: str = "", shapes: dict[NodeId, Shape] | None = None, nodes: list[Node] | None = None):
        self.prefix = prefix
        self.shapes: dict[NodeId, Shape] = {} if shapes is None else shapes
        self.nodes: list[Node] = [] if nodes is None else nodes

    @classmethod
    def start(cls, prefix: str, input_id: str, in_shape: Sequence[int]) -> Builder:
        """A builder for a block whose (external) input ``input_id`` has shape ``in_shape``."""
        return cls(prefix, {NodeId(input_id): tuple(in_shape)})

    def id(self, child: str) -> NodeId:
        if not child:
            return NodeId(self.prefix)
        return NodeId(f"{self.prefix}.{child}" if self.prefix else child)

    def scope(self, child: str) -> Builder:
        return Builder(self.id(child), self.shapes, self.nodes)

    def shape(self, node_id: str) -> Shape:
        return self.shapes[NodeId(node_id)]

    def input(self, child: str, shape: Sequence[int]) -> NodeId:
        """Add an Input node of ``shape`` (nothing to infer: its shape is its parameter)."""
        node = Node(self.id(child), "Input", {"shape": list(shape)}, [])
        self.shapes[node.id] = tuple(shape)
        self.nodes.append(node)
        return node.id

    def add(self, child: str, type_: str, inputs: str | Sequence[str], **params: Any) -> NodeId:
        """Add one node ``prefix.child`` reading ``inputs``; return its id."""
        srcs = [inputs] if isinstance(inputs, str) else list(inputs)
        node = Node(self.id(child), type_, params, [NodeId(s) for s in srcs])
        self.shapes[node.id] = infer_shape(node, {s: self.shapes[NodeId(s)] for s in srcs})
        self.nodes.append(node)
        return node.id

    def block(self, generator: Generator | str, child: str, src: str, **params: Any) -> NodeId:
        """Emit a block (a generator, or a palette name whose parameters are checked) under ``prefix.child``."""
        if isinstance(generator, str):
            result = BLOCKS[generator].emit(self.id(child), src, self.shape(src), **params)
        else:
            result = generator(self.id(child), NodeId(src), self.shape(src), **params)
        self.nodes.extend(result.nodes)
        self.shapes.update(result.shapes)
        return result.output_id

    def result(self, output_id: str) -> BlockResult:
        return BlockResult(list(self.nodes), NodeId(output_id), {n.id: self.shapes[n.id] for n in self.nodes})

    def graph(self, name: str, outputs: Sequence[str] | None = None) -> Graph:
        return Graph(name, [n.clone() for n in self.nodes], list(outputs) if outputs is not None else None)


def conv(
    out_channels: int,
    kernel_size: int | Sequence[int],
    stride: int = 1,
    padding: Any = 0,
    groups: int = 1,
    bias: bool = True,
) -> dict[str, Any]:
    """Conv2d parameters with the defaults left out, so the files show only what differs from torch's defaults."""
    params: dict[str, Any] = {
        "out_channels": out_channels,
        "kernel_size": kernel_size if isinstance(kernel_size, int) else list(kernel_size),
    }
    if stride != 1:
        params["stride"] = stride
    if padding not in (0, [0, 0], (0, 0)):
        params["padding"] = padding if isinstance(padding, (int, str)) else list(padding)
    if groups != 1:
        params["groups"] = groups
    if not bias:
        params["bias"] = False
    return params


def same_padding(kernel_size: int | Sequence[int]) -> int | list[int]:
    """(k - 1) // 2 per axis: keeps the size at stride 1 for odd kernels, as torchvision's conv blocks pad."""
    if isinstance(kernel_size, int):
        return (kernel_size - 1) // 2
    pads = [(k - 1) // 2 for k in kernel_size]
    return pads[0] if pads[0] == pads[1] else pads
