"""Constructor calls as values: a layer's torch arguments, a block's parameters, a container's items.

A ``Call`` holds what one module is built from; the Python export compares the calls of repeated groups to find the
arguments their shared class takes, then writes each call as source (``nn.Conv2d(3, 64, kernel_size=3)``).
"""

from __future__ import annotations

import functools
import inspect
import json
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..analysis.validate import Analysis
from ..model.graph import NodeId
from ._common import fail

#: Arguments written by keyword even when required, as torch's own repr does: ``Conv2d(3, 64, kernel_size=3)``.
BY_KEYWORD = frozenset({"kernel_size"})

#: Arguments torch takes as one number for every axis: ``kernel_size=3`` reads better than ``(3, 3)``.
_PER_AXIS = frozenset(
    {"kernel_size", "stride", "padding", "dilation", "output_padding", "output_size", "size", "scale_factor"}
)

#: The callee of a container call; its items are calls too.
SEQUENTIAL, MODULE_LIST, MODULE_DICT = "nn.Sequential", "nn.ModuleList", "nn.ModuleDict"


@dataclass
class Call:
    """How one module is built.

    Attributes:
        callee: ``nn.<Layer>``, a container (``SEQUENTIAL``...) or the key of a generated class.
        args: the arguments to write; a layer's leave out what torch's defaults give, a class's are complete.
        defaults: the value each left-out argument takes.
        order: every argument name in signature order, required ones first.
        items: a container's children, by name.
    """

    callee: Any
    args: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    items: list[tuple[str, Call]] = field(default_factory=list)

    def value(self, name: str) -> Any:
        """An argument's value, given or by default."""
        return self.args[name] if name in self.args else self.defaults[name]


def layer_call(analysis: Analysis, node_id: NodeId, module: nn.Module) -> Call:
    """``nn.Conv2d(3, 64, kernel_size=3, padding=1)`` as a call: the arguments that build this exact layer, with
    torch's defaults and per-axis repeats (``(3, 3)``) left out where the layer stays the same.

    Raises:
        ExportError: the node builds something that is not a ``torch.nn`` layer.
    """
    info = analysis.info[node_id]
    cls: Any = type(module)  # a class is hashable (lru_cache below), which mypy cannot see through type[Module]
    if not (is_torch_layer(cls) or is_own_layer(cls)) or info.spec is None or info.ctx is None:
        raise fail(
            "export.python_layer",
            f"{info.node.type} '{node_id}' builds a {cls.__qualname__}, which is not "
            "a torch.nn layer the Python export can write",
            node_id,
        )
    kwargs = dict(_needed_kwargs(cls, tuple(info.spec.torch_kwargs(info.ctx).items())))
    order, defaults = _signature(cls)
    callee = f"nn.{cls.__name__}" if is_torch_layer(cls) else cls.__name__
    return Call(callee, kwargs, dict(defaults), order)


@functools.lru_cache(maxsize=256)
def _signature(cls: type[nn.Module]) -> tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]:
    """A layer class's argument names in order, and the defaults of those that have one (read once per class)."""
    params = [(n, p) for n, p in inspect.signature(cls.__init__).parameters.items() if n != "self"]
    params = [(n, p) for n, p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    defaults = tuple((n, p.default) for n, p in params if p.default is not inspect.Parameter.empty)
    return tuple(n for n, _ in params), defaults


def is_torch_layer(cls: type[nn.Module]) -> bool:
    """A class of ``torch.nn``, written as ``nn.<name>``."""
    return getattr(nn, cls.__name__, None) is cls


def is_own_layer(cls: type[nn.Module]) -> bool:
    """A class of ``designer.modules``: the export writes its source into the file and calls it by name."""
    return cls.__module__ == "designer.modules"


@functools.lru_cache(maxsize=1024)
def _needed_kwargs(cls: type[nn.Module], items: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    """The arguments to write: equal per-axis values as one number and defaults left out, as long as the layer
    built from them is the same layer (same settings, up to that shorthand, and the same tensors)."""
    kwargs = dict(items)
    defaults = {
        n: p.default
        for n, p in inspect.signature(cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }

    def settings(trial: dict[str, Any]) -> tuple[Any, ...]:
        with torch.device("meta"):
            return layer_settings(cls(**trial))

    target = settings(kwargs)
    short = {
        k: v[0] if k in _PER_AXIS and isinstance(v, tuple) and None not in v and len(set(v)) == 1 else v
        for k, v in kwargs.items()
    }
    if settings(short) == target:
        kwargs = short
    for name in [n for n in kwargs if n in defaults and kwargs[n] == defaults[n]]:
        trial = {k: v for k, v in kwargs.items() if k != name}
        if settings(trial) == target:
            kwargs = trial
    return tuple(kwargs.items())


def layer_settings(module: nn.Module) -> tuple[Any, ...]:
    """What defines a layer: its public attributes (a per-axis tuple of equal values counts as that value) and the
    names and shapes of its tensors."""
    attrs = {k: _canonical(v) for k, v in vars(module).items() if not k.startswith("_") and k != "training"}
    tensors = {k: tuple(v.shape) for k, v in [*module.named_parameters(), *module.named_buffers()]}
    return repr(sorted(attrs.items())), sorted(tensors.items())


def _canonical(value: Any) -> Any:
    return value[0] if isinstance(value, tuple) and value and len(set(value)) == 1 else value


def py(value: Any) -> str:
    """A constant as Python source, strings in double quotes as the rest of the file."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        inner = ", ".join(py(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def same(a: Any, b: Any) -> bool:
    """Equal values of the same type: ``True`` and ``1`` build different layers' arguments."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b
