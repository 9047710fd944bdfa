"""Designer checkpoints: a model's ``state_dict`` saved with the project JSON that produced it, so a checkpoint
reopens as the design it came from.

A checkpoint is a ``torch.save`` archive of ``{"format": "cnn-designer-checkpoint/1", "design": <project text>,
"state_dict": {...}, "extra": {...}}``. Opening one never runs code from it: it is read with
``torch.load(weights_only=True)``, which accepts tensors and plain containers and refuses any pickled callable or
class. Bare ``state_dict`` files (``torch.save(model.state_dict())``) are accepted as weights without a design.
"""

from __future__ import annotations

import io
import os
import pickle
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..layers.registry import fmt_shape
from ..model import diagnostics as dg
from ..model.diagnostics import Diagnostic
from ..model.fileformat import ErrorHandler, ProjectError, dumps, loads, write_atomic
from ..model.graph import Graph

if TYPE_CHECKING:
    import torch
    from torch import nn

CHECKPOINT_FORMAT = "cnn-designer-checkpoint/1"
CHECKPOINT_VERSION = 1
_FORMAT_RE = re.compile(r"cnn-designer-checkpoint/(\d+)")
#: ``torch.save`` writes a zip archive; a project file is JSON text, so the first bytes tell them apart.
_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ProjectError):
    """A checkpoint that cannot be opened (missing, not a checkpoint, or carrying code); the message says why."""


class WeightsMismatchError(Exception):
    """Weights that do not fit a design; ``diagnostics`` name each node and tensor that differs."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("the weights do not fit the design:\n  " + "\n  ".join(str(d) for d in diagnostics))


@dataclass
class Checkpoint:
    """What a checkpoint file holds. ``graph`` and ``design_text`` are None for a bare state_dict file."""

    state_dict: dict[str, torch.Tensor]
    graph: Graph | None = None
    design_text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path: str | os.PathLike[str],
    graph: Graph,
    weights: nn.Module | Mapping[str, torch.Tensor],
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write ``weights`` (a module or its state_dict) with the design, atomically.

    ``extra`` holds anything else to keep (epoch, metrics, optimizer state); it must be made of tensors, numbers,
    strings and plain containers, which is all a checkpoint may hold.
    """
    import torch

    state = weights.state_dict() if isinstance(weights, torch.nn.Module) else weights
    data = {
        "format": CHECKPOINT_FORMAT,
        "design": dumps(graph),
        "state_dict": {k: v.detach().cpu() for k, v in state.items()},
        "extra": dict(extra or {}),
    }
    buffer = io.BytesIO()
    torch.save(data, buffer)
    write_atomic(path, buffer.getvalue())


def is_checkpoint_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like a torch archive rather than a project file (False if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == _ZIP_MAGIC
    except OSError:
        return False


def read_checkpoint(path: str | os.PathLike[str], error_handler: ErrorHandler | None = None) -> Checkpoint:
    """Open a designer checkpoint or a bare state_dict file without running any code from it.

    Raises:
        CheckpointError: the file is missing, is not a checkpoint, carries pickled code, or its design is unreadable.
    """
    data = _torch_load(path)
    if _is_state_dict(data):
        return Checkpoint(dict(data))
    if not isinstance(data, dict):
        raise CheckpointError(f"not a checkpoint: it holds {type(data).__name__}, not weights")
    if "format" not in data and _is_state_dict(data.get("state_dict")):
        return Checkpoint(dict(data["state_dict"]), extra={k: v for k, v in data.items() if k != "state_dict"})
    _check_format(path, data.get("format"))
    if not isinstance(data.get("design"), str) or not _is_state_dict(data.get("state_dict"), allow_empty=True):
        raise CheckpointError("damaged checkpoint: it needs a 'design' text and a 'state_dict' of tensors")
    try:
        graph = loads(data["design"], error_handler)
    except ProjectError as exc:
        raise CheckpointError(f"the design inside the checkpoint is unreadable: {exc}") from None
    extra = data.get("extra")
    return Checkpoint(dict(data["state_dict"]), graph, data["design"], extra if isinstance(extra, dict) else {})


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[Graph, dict[str, torch.Tensor]]:
    """The design a checkpoint came from and its weights.

    Raises:
        CheckpointError: see ``read_checkpoint``; also for a bare state_dict, which holds no design.
    """
    ckpt = read_checkpoint(path)
    if ckpt.graph is None:
        raise CheckpointError("holds weights only, no design; open the design and pass these as weights")
    return ckpt.graph, ckpt.state_dict


def load_model(path: str | os.PathLike[str]) -> nn.Module:
    """The compiled module of a checkpoint's design, with the checkpoint's weights loaded.

    Raises:
        CheckpointError: see ``load_checkpoint``.
        CompileError: the stored design has errors.
        WeightsMismatchError: the weights do not fit the stored design.
    """
    from ..compiler import compile_graph

    graph, state_dict = load_checkpoint(path)
    module = compile_graph(graph)
    load_weights(module, state_dict, graph)
    return module


def load_weights(module: nn.Module, state_dict: Mapping[str, torch.Tensor], graph: Graph | None = None) -> None:
    """Load ``state_dict`` into ``module`` only if every key and shape matches.

    Raises:
        WeightsMismatchError: names each node whose tensors are missing, extra or of another shape.
    """
    problems = weight_problems(module, state_dict, graph)
    if problems:
        raise WeightsMismatchError(problems)
    module.load_state_dict(dict(state_dict), strict=True)


def weight_problems(
    module: nn.Module, state_dict: Mapping[str, torch.Tensor], graph: Graph | None = None
) -> list[Diagnostic]:
    """How ``state_dict`` differs from ``module``'s: one diagnostic per node (missing or extra tensors) or tensor
    (shape)."""
    own = module.state_dict()
    owner = _owner_finder(graph, own)
    missing: dict[str | None, list[str]] = {}
    extra: dict[tuple[str | None, str], list[str]] = {}
    out: list[Diagnostic] = []
    for key, tensor in own.items():
        if key not in state_dict:
            missing.setdefault(owner(key), []).append(key)
        elif tuple(state_dict[key].shape) != tuple(tensor.shape):
            out.append(
                dg.error(
                    "weights.shape",
                    f"{_who(graph, owner(key))}{key} is {fmt_shape(state_dict[key].shape)}"
                    f" in the checkpoint but {fmt_shape(tensor.shape)} in the design",
                    owner(key),
                )
            )
    for key in state_dict:
        if key not in own:  # grouped by node, or by module path where no node of the design holds it
            node_id = owner(key)
            extra.setdefault((node_id, node_id or key.rpartition(".")[0]), []).append(key)
    for node_id, keys in missing.items():
        out.append(
            dg.error("weights.missing", f"{_who(graph, node_id)}the checkpoint has no {', '.join(keys)}", node_id)
        )
    for (node_id, _), keys in extra.items():
        where = _who(graph, node_id) if node_id else ""
        out.append(
            dg.error(
                "weights.unexpected", f"{where}the checkpoint has {', '.join(keys)}, which the design does not", node_id
            )
        )
    return out


def _owner_finder(graph: Graph | None, own: Mapping[str, Any]) -> Callable[[str], str | None]:
    """Map a state_dict key to the node that holds it: the longest dotted prefix that is a node id."""
    ids = set(graph.ids()) if graph is not None else {k.rsplit(".", 1)[0] for k in own}

    def owner(key: str) -> str | None:
        parts = key.split(".")
        for end in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:end])
            if prefix in ids:
                return prefix
        return None

    return owner


def _who(graph: Graph | None, node_id: str | None) -> str:
    if node_id is None:
        return ""
    node_type = graph[node_id].type if graph is not None and node_id in graph else "node"
    return f"{node_type} '{node_id}': "


def _torch_load(path: str | os.PathLike[str]) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found:
            raise CheckpointError(
                f"refused to open: the checkpoint holds {found.group(1)}, Python code rather than weights, "
                "and loading it could run that code; only tensors and plain values are accepted"
            ) from None
        raise CheckpointError(_not_a_checkpoint(path)) from None
    except Exception:  # torch.load reports a damaged or foreign file with many exception types, none telling
        raise CheckpointError(_not_a_checkpoint(path)) from None


def _not_a_checkpoint(path: str | os.PathLike[str]) -> str:
    with open(path, "rb") as f:
        head = f.read(64).lstrip()
    if head.startswith(b"\x80"):  # a raw pickle (protocol 2+) that uses more than weights-only loading allows
        return (
            "refused to open: it is a pickle that only full unpickling, which can run code, would read; "
            "save the weights with torch.save(model.state_dict())"
        )
    if head.startswith(b"{"):
        return "not a PyTorch checkpoint but JSON text (a project file?)"
    return "not a PyTorch checkpoint (empty, damaged or another kind of file)"


def _is_state_dict(value: Any, allow_empty: bool = False) -> bool:
    import torch

    return (
        isinstance(value, dict)
        and (allow_empty or bool(value))
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())
    )


def _check_format(path: str | os.PathLike[str], fmt: Any) -> None:
    match = _FORMAT_RE.fullmatch(fmt) if isinstance(fmt, str) else None
    if match is None:
        raise CheckpointError(f'not a CNN Designer checkpoint (format {fmt!r}, expected "{CHECKPOINT_FORMAT}")')
    if int(match.group(1)) > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"this checkpoint uses {fmt}, written by a newer CNN Designer; this version reads {CHECKPOINT_FORMAT}"
        )
