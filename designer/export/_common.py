"""What every exporter shares: the error type, the design's example inputs, eval mode and quiet conversions."""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..analysis.budgets import over_limit
from ..analysis.roi_heads import box_inputs
from ..analysis.validate import Analysis, analyze
from ..model import diagnostics as dg
from ..model.diagnostics import Diagnostic, DiagnosticsError
from ..model.graph import Graph

if TYPE_CHECKING:
    import torch
    from torch import nn


class ExportError(DiagnosticsError):
    """An export failed; ``diagnostics`` say why, naming the node where there is one."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__(diagnostics, "; ".join(str(d) for d in diagnostics))


def fail(code: str, message: str, node_id: str | None = None, hint: str = "") -> ExportError:
    """An ``ExportError`` with one problem."""
    return ExportError([dg.error(code, message, node_id, hint)])


def checked_analysis(graph: Graph, analysis: Analysis | None = None) -> Analysis:
    """The design's analysis; raise ``CompileError`` (from the compiler) if the design has errors or would not fit in
    the memory available."""
    from ..compiler import CompileError

    analysis = analysis or analyze(graph)
    if not analysis.ok:
        raise CompileError(analysis.diagnostics)
    too_big = over_limit(analysis.info.values(), "exporting the model")
    if too_big:
        raise CompileError(too_big)
    return analysis


def example_inputs(analysis: Analysis, batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of the declared shapes with ``batch`` samples, in Input order; an Input of RoI boxes
    (``box_inputs``) gets ``batch + 2`` rows, so that a size mixing up boxes and samples shows."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    boxes = box_inputs(analysis.graph)
    shapes = [(i, analysis.info[i].shape) for i in analysis.graph.input_ids()]
    return tuple(
        torch.randn(batch + 2 if i in boxes else batch, *shape, generator=gen)
        for i, shape in shapes
        if shape is not None
    )


def as_tuple(value: Any) -> tuple[torch.Tensor, ...]:
    """A forward result as a tuple of tensors (one output is returned bare)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Export what inference computes (running statistics, no dropout), then restore the training flag."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the converters' progress prints and deprecation warnings: the caller reports what matters."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def reason(exc: BaseException, limit: int = 200) -> str:
    """One readable line from a converter's exception: its summary line if it has one, else its first line."""
    text = _ANSI.sub("", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if "## Exception summary" in lines:
        after = lines[lines.index("## Exception summary") + 1 :]
        lines = after or lines
    line = lines[0] if lines else type(exc).__name__
    missing = re.search(r"No ONNX function found for <OpOverload\(op='([\w.]+)'", line)
    if missing:
        return f"ONNX has no operator for {missing.group(1)}"
    line = re.sub(r"^<class '[\w.]+\.(\w+)'>: ", r"\1: ", line)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def max_abs_diff(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """The largest absolute difference between two lists of tensors (inf if the shapes differ)."""
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        if tuple(x.shape) != tuple(y.shape):
            return float("inf")
        if x.numel():
            worst = max(worst, float((x.double() - y.double()).abs().max()))
    return worst
