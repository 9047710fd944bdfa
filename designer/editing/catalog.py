"""What the palette offers: every layer type of the registry and every building block, with starting parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from designer.layers.registry import get_spec, list_specs
from designer.model.graph import Graph, Node, NodeId
from designer.model.params import Kind, Param

#: Palette groups, in display order (the registry's categories plus building blocks).
GROUPS = (
    "Input/Output",
    "Convolution",
    "Pooling",
    "Normalization",
    "Activation",
    "Linear",
    "Merge",
    "Reshape",
    "Regularization",
    "Upsampling",
    "Blocks",
)

LAYER, BLOCK = "layer", "block"

#: Values for required parameters of a freshly added layer, chosen so the layer is valid after a typical feature map.
STARTING_PARAMS: dict[str, dict[str, Any]] = {
    "Input": {"shape": [3, 32, 32]},
    "Conv2d": {"out_channels": 32, "kernel_size": 3, "padding": 1},
    "ConvTranspose2d": {"out_channels": 32, "kernel_size": 2, "stride": 2},
    "MaxPool2d": {"kernel_size": 2},
    "AvgPool2d": {"kernel_size": 2},
    "AdaptiveAvgPool2d": {"output_size": 1},
    "AdaptiveMaxPool2d": {"output_size": 1},
    "Linear": {"out_features": 10},
    "GroupNorm": {"num_groups": 1},
    "LocalResponseNorm": {"size": 5},
    "Reshape": {"shape": [-1]},
    "ZeroPad2d": {"padding": 1},
    "Upsample": {"scale_factor": 2},
    "Permute": {"dims": [0, 2, 3, 1]},
    "Mean": {"dim": [2, 3]},
    "ChannelShuffle": {"groups": 2},
    "PixelShuffle": {"upscale_factor": 2},
    "StochasticDepth": {"p": 0.1, "mode": "row"},
    "RoIPool": {"output_size": 7},
    "RoIAlign": {"output_size": 7},
    "ScalarOp": {"op": "mul", "value": 2.0},
    "Split": {"chunks": 2, "dim": 1},
}

#: Short id stems, so new nodes read like hand-written ones (conv1, bn1, relu1).
ID_STEMS = {
    "Conv2d": "conv",
    "ConvTranspose2d": "deconv",
    "MaxPool2d": "maxpool",
    "AvgPool2d": "avgpool",
    "AdaptiveAvgPool2d": "gap",
    "AdaptiveMaxPool2d": "gmp",
    "BatchNorm2d": "bn",
    "BatchNorm1d": "bn",
    "GroupNorm": "gn",
    "LayerNorm": "ln",
    "LocalResponseNorm": "lrn",
    "Linear": "fc",
    "Dropout": "drop",
    "Dropout2d": "drop",
    "ZeroPad2d": "pad",
    "Upsample": "up",
    "ChannelShuffle": "shuffle",
    "PixelShuffle": "pixelshuffle",
    "LayerNorm2d": "ln",
    "StochasticDepth": "droppath",
    "RoIPool": "roipool",
    "RoIAlign": "roialign",
    "ScalarOp": "scalar",
    "Input": "input",
}


@dataclass(frozen=True)
class PaletteEntry:
    """One thing the palette can create: a layer type or a building block."""

    kind: str
    name: str
    group: str
    doc: str
    title: str = ""

    @property
    def text(self) -> str:
        """What the palette shows: the type name, or a block's title."""
        return self.title or self.name

    @property
    def key(self) -> str:
        """The drag-and-drop payload: ``layer:Conv2d`` or ``block:<name>``."""
        return f"{self.kind}:{self.name}"


def palette_entries() -> list[PaletteEntry]:
    """Every layer type and building block, grouped in palette order."""
    entries = [PaletteEntry(LAYER, s.name, s.category, s.doc) for s in list_specs()]
    entries += [PaletteEntry(BLOCK, b.name, "Blocks", b.doc, getattr(b, "title", "")) for b in list_blocks()]
    rank = {g: i for i, g in enumerate(GROUPS)}
    return sorted(entries, key=lambda e: rank.get(e.group, len(GROUPS)))


def parse_key(key: str) -> tuple[str, str]:
    """Split a palette key into (kind, name)."""
    kind, _, name = key.partition(":")
    return kind, name


def list_blocks() -> list[Any]:
    """The building blocks of ``designer.blocks``, in palette order."""
    from designer import blocks

    return list(blocks.list_blocks())


def get_block(name: str) -> Any | None:
    """The building block called ``name``, or None."""
    return next((b for b in list_blocks() if b.name == name), None)


def starting_params(type_name: str) -> dict[str, Any]:
    """Parameters for a new node of this type: the curated ones, else a valid value for each required parameter."""
    if type_name in STARTING_PARAMS:
        return dict(STARTING_PARAMS[type_name])
    spec = get_spec(type_name)
    return {p.name: _fallback(p) for p in (spec.params if spec else ()) if p.required}


def _fallback(p: Param) -> Any:
    low = int(p.low) if p.low is not None and p.low > 0 else 1
    return {
        Kind.FLOAT: 1.0,
        Kind.BOOL: False,
        Kind.CHOICE: p.choices[0] if p.choices else "",
        Kind.SHAPE: [3, 32, 32],
        Kind.TARGET_SHAPE: [-1],
        Kind.INTS: [1],
        Kind.DIMS: [1],
    }.get(p.kind, low)


def fresh_id(graph: Graph, type_name: str, taken: set[str] | None = None) -> NodeId:
    """A new id for a node of this type: the stem and the first free number (conv1, conv2, ...)."""
    stem = ID_STEMS.get(type_name) or re.sub(r"2d$|1d$", "", type_name).lower()
    taken = taken or set()
    k = 1
    while f"{stem}{k}" in graph or f"{stem}{k}" in taken:
        k += 1
    return NodeId(f"{stem}{k}")


#: The input a block is sized for when it is dropped with nothing to read from (it is left unconnected).
PLACEHOLDER_SHAPE = (64, 32, 32)
_PLACEHOLDER = "__block_input__"


def block_nodes(
    name: str, graph: Graph, input_id: str | None, in_shape: tuple[int, ...] | None
) -> tuple[list[Node], NodeId]:
    """The nodes of building block ``name`` reading ``input_id`` (None: unconnected), under a free id prefix.

    Raises:
        KeyError: unknown block.
        DesignError: the block does not fit ``in_shape``.
    """
    from designer.blocks import unique_prefix

    block = get_block(name)
    if block is None:
        raise KeyError(f"unknown building block {name!r}")
    taken = [*graph.ids(), *(s for n in graph for s in n.sources)]
    prefix = unique_prefix(taken, block.prefix)
    source = input_id if input_id is not None else _PLACEHOLDER
    result = block.emit(prefix, source, in_shape if in_shape and len(in_shape) == 3 else PLACEHOLDER_SHAPE)
    nodes = [n.clone() for n in result.nodes]
    if input_id is None:
        for node in nodes:
            node.inputs = [s for s in node.inputs if s != _PLACEHOLDER]
    return nodes, result.output_id
