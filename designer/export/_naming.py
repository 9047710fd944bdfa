"""Names of generated classes: from the layers of a short chain (``ConvBNReLU``), else from what the design calls
the groups (``denselayer3`` -> ``DenseLayer``, ``inception4a`` -> ``Inception``). Numbered groups have no name of
their own: a block that adds its input back is a ``ResidualBlock`` (ResNet's, MobileNet's), another one a block of
its parent (``features.3`` -> ``FeaturesBlock``)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from ..model.graph import NodeId
from ._share import CHAIN, ITEMS, MODULE, BlockClass
from ._tree import LAYER, Unit

#: Words that module names run together (``denselayer``, ``convblock``): enough to split the usual ones.
_WORDS = sorted(
    (
        "attention aux basic block bottleneck branch bridge cell classifier conv dec decoder dense down enc encoder "
        "excite expand feature features fire group head inception layer mid mixer module norm out pool proj res "
        "residual sample shortcut skip squeeze stage stem transition unit up"
    ).split(),
    key=len,
    reverse=True,
)
_SHORT = {"BatchNorm1d": "BN", "BatchNorm2d": "BN", "BatchNorm3d": "BN"}
_STEM = re.compile(r"^[A-Za-z_]*[A-Za-z]")


def name_classes(classes: Iterable[BlockClass], taken: set[str], node_type: Callable[[NodeId], str]) -> None:
    """Give each class that is written a name not in ``taken`` (nor another class's)."""
    for cls in classes:
        if cls.inline or cls.name:
            continue
        base = _word(cls)
        if base.endswith("Block") and all(u.name.isdigit() for u in cls.instances) and _residual(cls, node_type):
            base = "ResidualBlock"
        name, k = base, 2
        while name in taken:
            name, k = f"{base}{k}", k + 1
        taken.add(name)
        cls.name = name


def _word(cls: BlockClass) -> str:
    children = cls.base.children
    if cls.form in (CHAIN, ITEMS) and 2 <= len(children) <= 3 and all(c.kind == LAYER for c in children):
        return "".join(_short(c.layer_type) for c in children)
    stems = Counter(_stem(u) for u in cls.instances)
    best = max(stems.values())
    return next(s for s in (_stem(u) for u in cls.instances) if stems[s] == best)


def _residual(cls: BlockClass, node_type: Callable[[NodeId], str]) -> bool:
    """The forward adds its input, or one step of it (a downsample), to a deeper value."""
    base = cls.base
    if cls.form != MODULE or len(base.inputs) != 1:
        return False
    depth = {base.inputs[0]: 0}
    for step in base.steps:
        here = 1 + max((depth.get(x, 0) for x in step.inputs), default=0)
        depth |= {out: here for out in step.outputs}
        if step.unit is None and step.node_id is not None and node_type(step.node_id) == "Add":
            depths = sorted(depth.get(x, 0) for x in step.inputs)
            if len(depths) > 1 and depths[0] <= 1 < depths[-1] or depths[0] < depths[-1] <= 1:
                return True
    return False


def _short(layer_type: str) -> str:
    return _SHORT.get(layer_type) or re.sub(r"[123]d$", "", layer_type)


def _stem(unit: Unit) -> str:
    """``inception3a`` -> ``Inception``; a numbered child is a block of its parent (``layer1.0`` -> ``LayerBlock``)."""
    if unit.name.isdigit():
        parent = unit.parent.name if unit.parent else ""
        return camel(parent) + "Block"
    return camel(unit.name) or "Block"


def camel(name: str) -> str:
    """``dense_layer3`` and ``denselayer3`` -> ``DenseLayer``."""
    match = _STEM.match(name)
    words = match[0].split("_") if match else []
    return "".join(w[:1].upper() + w[1:] for part in words for w in _split(part.lower()))


def _split(word: str) -> list[str]:
    """A word cut into known words, or kept whole when it is not made of them."""
    if not word:
        return []
    for known in _WORDS:
        if word.startswith(known):
            rest = _split(word[len(known) :])
            if rest or len(known) == len(word):
                return [known, *rest]
    return [word]
