"""Exports of a design: standalone Python code, ONNX, TorchScript and designer checkpoints.

Every writer replaces its output file atomically and reports failures as ``ExportError`` (diagnostics naming the
node), or ``CompileError`` when the design itself has errors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..model.graph import Graph
from ._common import ExportError
from .onnx_model import DEFAULT_OPSET, export_onnx
from .python_source import export_python, python_source
from .torchscript import export_torchscript

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_OPSET",
    "FORMATS",
    "ExportError",
    "export",
    "export_onnx",
    "export_project",
    "export_python",
    "export_torchscript",
    "python_source",
]

#: What ``export`` writes; ``checkpoint`` is a designer checkpoint (weights plus the design).
FORMATS = ("python", "onnx", "torchscript", "checkpoint")


def export(
    graph: Graph,
    path: str | os.PathLike[str],
    fmt: str,
    *,
    state_dict: Mapping[str, torch.Tensor] | None = None,
    seed: int | None = None,
    opset: int | None = None,
    with_nms: bool = False,
) -> str:
    """Write the design in format ``fmt`` to ``path``, with ``state_dict`` weights (else a fresh, seeded
    initialisation); return a one-line description of what was written. ``with_nms`` (ONNX of a detection design)
    appends the decode and NMS: the file's outputs are then boxes, scores and labels.

    Raises:
        CompileError: the design has errors.
        ExportError: the format cannot express the design.
        WeightsMismatchError: ``state_dict`` does not fit the design.
    """
    from ..compiler import compile_graph
    from ._common import checked_analysis
    from .checkpoint import load_weights, save_checkpoint

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if with_nms and fmt != "onnx":
        raise ValueError(f"with_nms applies to the onnx format only, not {fmt!r}")
    analysis = checked_analysis(graph)
    if fmt == "python":
        export_python(graph, path, analysis)
        return f"Python module, class {python_class(graph)}"
    module = compile_graph(graph, seed=seed, analysis=analysis)
    if state_dict is not None:
        load_weights(module, state_dict, graph)
    if fmt == "onnx":
        model = export_onnx(
            graph, path, module=module, opset=opset or DEFAULT_OPSET, analysis=analysis, with_nms=with_nms
        )
        opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
        nms = ", decode and NMS: boxes, scores, labels" if with_nms else ""
        return f"ONNX model, opset {opsets.get('ai.onnx')}, dynamic batch{nms}"
    if fmt == "torchscript":
        how = export_torchscript(graph, path, module=module, analysis=analysis)
        return f"TorchScript module ({how})"
    save_checkpoint(path, graph, module)
    return "designer checkpoint (weights and design)"


def export_project(project_json: str, path: str, fmt: str, *, with_nms: bool = False) -> str:
    """``export`` of a design given as project-file text: what a worker process receives (text pickles cheaply)."""
    from ..model.fileformat import loads

    return export(loads(project_json), path, fmt, with_nms=with_nms)


def python_class(graph: Graph) -> str:
    """The class name the Python export gives a design."""
    from ..compiler import class_name

    return class_name(graph.name)
