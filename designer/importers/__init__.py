"""Turn existing models into editable designs: torchvision models, user ``nn.Module`` factories, ONNX files.

Every importer returns an ``ImportResult``: the design, the weights keyed as the compiled design's state_dict, and
the problems met. Nothing that cannot be mapped is dropped silently: it is a problem naming the operation and where
it is, and then the import fails as a whole with ``ModelImportError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..model.graph import Graph

if TYPE_CHECKING:
    import torch


class ModelImportError(Exception):
    """The source cannot be turned into a design; ``problems`` names each unmappable operation and where it is."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = problems or []
        text = message + ("".join(f"\n  {p}" for p in self.problems) if self.problems else "")
        super().__init__(text)


@dataclass
class ImportResult:
    """An imported design and the weights that go with it (state_dict keys are the design's node ids)."""

    graph: Graph
    state_dict: dict[str, torch.Tensor] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def import_source(source: str, input_shape: list[int] | None = None, weights: str | None = None) -> ImportResult:
    """Import ``torchvision:<name>``, ``timm:<name>``, ``module:<python.path>:<callable>`` or ``onnx:<file>``.

    Args:
        source: what to import.
        input_shape: sample shape without the batch (default: the model's own, [3, 224, 224] for most torch
            sources; ONNX files declare it).
        weights: a local state_dict or designer checkpoint to load into a torch source before importing.
    """
    kind, _, rest = source.partition(":")
    if kind == "onnx" and rest:
        from .onnx_import import import_onnx

        if weights:
            raise ModelImportError("--weights applies to torch sources; an ONNX file carries its own weights")
        return import_onnx(rest)
    if kind in ("torchvision", "timm", "module") and rest:
        from .fx_import import default_input_shape, import_module, load_torch_source

        model = load_torch_source(kind, rest, weights)
        shape = input_shape or default_input_shape(kind, rest, model)
        return import_module(model, shape, name=rest.rsplit(":", 1)[-1])
    raise ModelImportError(
        f"unknown source {source!r}: use torchvision:<model>, timm:<model>, module:<path>:<callable> or onnx:<file>"
    )


def plain(value: Any) -> Any:
    """A module attribute as a file value: tuples as lists, equal pairs as one int."""
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list) and len(value) == 2 and value[0] == value[1] and isinstance(value[0], int):
        return value[0]
    return value
