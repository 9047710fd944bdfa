"""Export a design as a TorchScript archive (``torch.jit.load``-able without CNN Designer), checked after saving.

torch marks TorchScript as deprecated in favour of torch.export, but it is still the format C++ (libtorch) and many
serving tools load, so we keep writing it. Scripting keeps every shape symbolic; a few layer settings cannot be
scripted (``AdaptiveAvgPool2d`` with a ``null`` output size), and for those the module is traced instead, which is
exact here because a design's dataflow never depends on values. Either way the saved file is loaded back and
compared with the module at two batch sizes.
"""

from __future__ import annotations

import io
import os

import torch
from torch import nn

from ..analysis.validate import Analysis
from ..compiler import compile_graph
from ..model.fileformat import write_atomic
from ..model.graph import Graph
from ._common import as_tuple, checked_analysis, eval_mode, example_inputs, fail, max_abs_diff, quiet, reason

#: Largest accepted difference between the reloaded archive and the module, relative to the output's scale.
TOLERANCE = 1e-5


def export_torchscript(
    graph: Graph,
    path: str | os.PathLike[str],
    *,
    module: nn.Module | None = None,
    seed: int | None = None,
    analysis: Analysis | None = None,
) -> str:
    """Write the design (``module``'s weights, else a fresh seeded initialisation) in eval mode as TorchScript.

    Returns:
        How the module was converted: ``"scripted"`` or ``"traced"``.

    Raises:
        CompileError: the design has errors.
        ExportError: the module could neither be scripted nor traced, or the archive computes something else.
    """
    analysis = checked_analysis(graph, analysis)
    module = module if module is not None else compile_graph(graph, seed=seed, analysis=analysis)
    with eval_mode(module), torch.no_grad():
        archive, how = _convert(module, analysis)
        buffer = io.BytesIO()
        with quiet():
            torch.jit.save(archive, buffer)
        _verify(buffer.getvalue(), module, analysis)
    write_atomic(path, buffer.getvalue())
    return how


def _convert(module: nn.Module, analysis: Analysis) -> tuple[torch.jit.ScriptModule, str]:
    try:
        with quiet():
            return torch.jit.script(module), "scripted"
    except Exception as script_error:  # TorchScript's compiler raises assorted types; tracing is the fallback
        try:
            with quiet():
                traced = torch.jit.trace(  # type: ignore[no-untyped-call]  # torch.jit.trace is not annotated
                    module, example_inputs(analysis, 2), check_trace=False
                )
                return traced, "traced"
        except Exception as trace_error:
            raise fail(
                "export.torchscript_failed",
                f"TorchScript cannot hold this design: scripting failed "
                f"({reason(script_error)}), tracing failed ({reason(trace_error)})",
            ) from None


def _verify(data: bytes, module: nn.Module, analysis: Analysis) -> None:
    with quiet():
        loaded = torch.jit.load(io.BytesIO(data))  # type: ignore[no-untyped-call]  # torch.jit.load is not annotated
    for batch in (1, 3):
        inputs = example_inputs(analysis, batch, seed=batch)
        want = as_tuple(module(*inputs))
        scale = max([1.0] + [float(w.abs().max()) for w in want if w.numel()])
        diff = max_abs_diff(as_tuple(loaded(*inputs)), want)
        if diff > TOLERANCE * scale:
            raise fail(
                "export.torchscript_mismatch",
                f"the TorchScript archive's outputs differ from the design's by {diff:.3g} at batch {batch}",
                None,
                "report this design",
            )
