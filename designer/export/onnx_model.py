"""Export a design to ONNX with a dynamic batch axis, named inputs and outputs, and a check against onnxruntime.

Exporter choice: ``torch.onnx.export(dynamo=True)`` (torch.export based, the default since torch 2.9). With the
batch marked as a ``torch.export.Dim`` it keeps the batch symbolic through Reshape's ``x.size(0)`` and every layer,
which we check by running the exported file at two batch sizes. The TorchScript-based exporter (``dynamo=False``)
is deprecated, cannot write ``nearest-exact`` upsampling and is slated for removal, so there is no fallback to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..analysis.budgets import ONNX_MAX_BYTES
from ..analysis.roi_heads import box_inputs
from ..analysis.validate import Analysis
from ..compiler import compile_graph
from ..model import diagnostics as dg
from ..model.diagnostics import Diagnostic
from ..model.fileformat import FORMAT, dumps, write_atomic
from ..model.graph import Graph
from ._common import (
    ExportError,
    as_tuple,
    checked_analysis,
    eval_mode,
    example_inputs,
    fail,
    max_abs_diff,
    quiet,
    reason,
)
from .onnx_scopes import scoped_module, split_scopes_kept

if TYPE_CHECKING:
    import onnx
    import onnx_ir
    from torch.onnx import ONNXProgram

#: Opset 18 is the oldest the torch.export-based exporter writes natively, and onnxruntime has run it since 1.14.
DEFAULT_OPSET = 18
#: The example batch: torch.export specialises sizes 0 and 1, so the traced batch must be at least 2.
TRACE_BATCH = 2
#: Largest accepted difference between onnxruntime and torch, relative to the output's scale (at least 1).
TOLERANCE = 1e-4


def export_onnx(
    graph: Graph,
    path: str | os.PathLike[str],
    *,
    module: nn.Module | None = None,
    seed: int | None = None,
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
    analysis: Analysis | None = None,
    with_nms: bool = False,
) -> onnx.ModelProto:
    """Write the design (``module``'s weights, else a fresh seeded initialisation) as one self-contained ONNX file.

    The model is exported in eval mode, passes ``onnx.checker``, carries the design JSON in its metadata and, with
    ``verify``, is checked against torch in onnxruntime at two batch sizes. ``with_nms`` (detection designs) appends
    the decode and per-class NMS, so that the outputs are boxes (``onnx_predict``) rather than the grid head.

    Raises:
        CompileError: the design has errors.
        ExportError: ONNX cannot express a node (named), or the exported model computes something else.
    """
    analysis = checked_analysis(graph, analysis)
    problems = onnx_problems(analysis)
    if problems:
        raise ExportError(problems)
    module = module if module is not None else compile_graph(graph, seed=seed, analysis=analysis)
    exported, metadata = module, {}
    names: list[str] = list(graph.output_ids())
    if with_nms:
        from ..training.detection_predict import OUTPUT_NAMES
        from .onnx_predict import detection_predictor, nms_metadata

        # the predictor wraps the design with its graph operations scoped (see to_onnx), so ids survive inside it
        exported, names = detection_predictor(scoped_module(module, analysis), analysis), list(OUTPUT_NAMES)
        metadata["cnn-designer.nms"] = nms_metadata(exported)
    with eval_mode(exported):
        model = to_onnx(exported, analysis, opset, output_names=names, layers=module)
        _check(model, opset)
        if verify:
            _verify(model, exported, analysis, layers=module)
    _annotate(model, graph, metadata)
    write_atomic(path, model.SerializeToString())
    return model


def onnx_problems(analysis: Analysis) -> list[Diagnostic]:
    """What ONNX cannot hold, found before converting: node settings it has no operator for (the converter gives no
    such hint, or converts them wrongly), a repeated output, more than 2 GB of weights."""
    out = []
    outputs = analysis.graph.output_ids()
    if len(set(outputs)) < len(outputs):
        out.append(
            dg.error(
                "export.onnx_outputs",
                f"an ONNX model cannot list the same output twice; outputs are {', '.join(outputs)}",
                None,
                "remove the repeated id from outputs",
            )
        )
    if analysis.total_params * 4 > ONNX_MAX_BYTES:
        out.append(
            dg.error(
                "export.onnx_too_large",
                f"the design has {analysis.total_params:,} parameters; a single "
                "ONNX file holds at most 2 GB of weights",
                None,
                "export TorchScript or a checkpoint",
            )
        )
    for node_id in analysis.order:
        info = analysis.info[node_id]
        p = info.ctx.p if info.ctx else {}
        if info.node.type == "AvgPool2d" and p.get("divisor_override") is not None:
            # ONNX AveragePool always divides by the window size: the converter drops the override silently.
            out.append(
                dg.error(
                    "export.onnx_unsupported",
                    f"AvgPool2d '{node_id}': ONNX AveragePool has no divisor_override (here {p['divisor_override']})",
                    node_id,
                    "remove divisor_override (the window size is then the divisor)",
                )
            )
        if info.node.type == "AdaptiveMaxPool2d" and info.ctx and info.shape:
            sizes, outs = info.ctx.x0[1:], info.shape[1:]
            if any(n % o for n, o in zip(sizes, outs)):
                out.append(
                    dg.error(
                        "export.onnx_unsupported",
                        f"AdaptiveMaxPool2d '{node_id}': ONNX has adaptive max pooling only "
                        f"when the output size divides the input size; here {sizes[0]}x{sizes[1]} to "
                        f"{outs[0]}x{outs[1]}",
                        node_id,
                        "choose an output_size that divides the input size, or use AdaptiveAvgPool2d",
                    )
                )
    return out


def to_onnx(
    module: nn.Module,
    analysis: Analysis,
    opset: int,
    *,
    output_names: list[str] | None = None,
    layers: nn.Module | None = None,
) -> onnx.ModelProto:
    """Convert ``module`` (already in the mode to export) with a dynamic batch; locate the node on failure.

    ``output_names`` default to the design's outputs; ``layers`` is the compiled design inside ``module`` whose
    layers are tried one by one to locate a failure (default: ``module`` itself).
    """
    graph = analysis.graph
    inputs = example_inputs(analysis, TRACE_BATCH)
    # the boxes of RoI layers have their own count: one Dim for both would make Flatten after RoIPool reshape to the
    # number of images
    batch, rois, boxes = torch.export.Dim("batch"), torch.export.Dim("rois"), box_inputs(graph)
    outputs = output_names if output_names is not None else list(graph.output_ids())
    try:
        with quiet():
            # a wrapper (the detection predictor) holds a design that export_onnx scoped already
            program = _program(
                scoped_module(module, analysis) if layers is None or layers is module else module,
                inputs,
                opset,
                input_names=list(graph.input_ids()),
                output_names=list(outputs),
                dynamic_shapes=tuple({0: rois if i in boxes else batch} for i in graph.input_ids()),
                optimize=False,
            )
            _fold_constants(program.model)
            _name_inputs(program.model.graph, list(graph.input_ids()))
    except Exception as exc:  # the converter raises many types; each is reported against the node that fails
        raise ExportError(
            _locate(layers or module, analysis, opset)
            or [dg.error("export.onnx_failed", f"ONNX export failed: {reason(exc)}")]
        ) from None
    return program.model_proto


def _program(module: nn.Module, inputs: tuple[torch.Tensor, ...], opset: int, **options: Any) -> ONNXProgram:
    """``torch.onnx.export`` with the dynamo exporter, into memory (one file, no external data), quietly."""
    from .onnx_vision import translations

    program = torch.onnx.export(
        module,
        inputs,
        None,
        opset_version=opset,
        dynamo=True,
        external_data=False,
        verbose=False,
        custom_translation_table=translations(),
        **options,
    )
    if program is None:  # torch returns None only when it wrote to a file, which this call never asks for
        raise RuntimeError("torch.onnx.export returned no program")
    return program


def _fold_constants(model: onnx_ir.Model) -> None:
    """Fold constants and drop dead nodes, but keep every layer of the design.

    The exporter's full optimisation also fuses BatchNorm into the preceding Conv. The file would then no longer be
    the design (importing it back gives other parameter counts), and runtimes such as onnxruntime fuse at load time
    anyway, so only constant folding is applied.
    """
    import onnx_ir.passes.common as passes
    from onnxscript import optimizer

    with split_scopes_kept(model):
        optimizer.fold_constants(model)
    for step in (passes.RemoveUnusedNodesPass(), passes.OutputFixPass(), passes.NameFixPass()):
        step(model)  # OutputFixPass: an output that is also an input (an Identity node) keeps both names


def _name_inputs(onnx_graph: onnx_ir.Graph, ids: list[str]) -> None:
    """Give the file's inputs the design's Input ids, which callers feed them by.

    An Input that is also a design output reaches the file through an Identity (``OutputFixPass``: ONNX does not let a
    graph input be a graph output), which took the Input's name and left the input another. That output becomes
    ``<id>_output``, so that every name is assigned once.
    """
    taken = {v.name for v in onnx_graph.outputs} | set(ids)
    for value, name in zip(onnx_graph.inputs, ids):
        for out in onnx_graph.outputs:
            if out.name == name and out is not value:
                fresh, k = f"{name}_output", 1
                while fresh in taken:
                    fresh, k = f"{name}_output{k}", k + 1
                out.name = fresh
                taken.add(fresh)
        value.name = name


def _check(model: onnx.ModelProto, opset: int) -> None:
    """The model has the opset asked for and passes ``onnx.checker``."""
    import onnx

    written = model_opset(model)
    if written != opset:  # the exporter falls back to another opset when it cannot write the one asked for
        raise fail(
            "export.onnx_opset",
            f"torch's ONNX exporter cannot write opset {opset} (it wrote {written})",
            None,
            f"use opset {written} or later" if opset < written else f"use an older opset, e.g. {DEFAULT_OPSET}",
        )
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise fail("export.onnx_invalid", f"the exported ONNX model is invalid: {reason(exc)}") from None


def _verify(model: onnx.ModelProto, module: nn.Module, analysis: Analysis, layers: nn.Module) -> None:
    """Run the model in onnxruntime at batch sizes 1 and 3 and compare with torch (``layers``: as in ``to_onnx``)."""
    for batch in (1, 3):
        inputs = example_inputs(analysis, batch, seed=batch)
        try:
            got = run_onnx(model, inputs)
        except Exception as exc:  # onnxruntime's own error types; the model is what failed
            raise fail(
                "export.onnx_runtime",
                f"onnxruntime cannot run the exported model at batch {batch}: {reason(exc)}",
                None,
                "export with a different --opset",
            ) from None
        with torch.no_grad():
            want = as_tuple(module(*inputs))
        scale = max([1.0] + [float(w.abs().max()) for w in want if w.numel()])
        diff = max_abs_diff(got, want)
        if diff > TOLERANCE * scale:
            found = _locate(layers, analysis, model_opset(model))
            raise ExportError(
                found
                or [
                    dg.error(
                        "export.onnx_mismatch",
                        f"the ONNX model's outputs differ from torch's by {diff:.3g} at batch {batch}",
                        None,
                        "report this design: the converter mistranslated one of its layers",
                    )
                ]
            )


def run_onnx(model: onnx.ModelProto, inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """The model's outputs in onnxruntime for ``inputs``, given in the model's input order."""
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {arg.name: x.numpy() for arg, x in zip(session.get_inputs(), inputs, strict=True)}
    return [torch.from_numpy(out) for out in session.run(None, feed)]


def model_opset(model: onnx.ModelProto) -> int:
    """The default-domain opset a model imports."""
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), DEFAULT_OPSET)


def _locate(module: nn.Module, analysis: Analysis, opset: int) -> list[Diagnostic]:
    """Export each distinct layer alone to find which ones ONNX cannot express (or mistranslates)."""
    out = []
    for node_id, sub, shape in _distinct_layers(module, analysis):
        x = torch.randn(TRACE_BATCH, *shape)
        try:
            with quiet():
                program = _program(sub, (x,), opset, dynamic_shapes=({0: torch.export.Dim("batch")},))
            session_out = run_onnx(program.model_proto, (x,))
            with torch.no_grad():
                want = as_tuple(sub(x))
        except Exception as exc:  # any converter failure here is this layer's
            out.append(_unsupported(analysis, node_id, reason(exc)))
            continue
        scale = max([1.0] + [float(w.abs().max()) for w in want if w.numel()])
        if max_abs_diff(session_out, want) > TOLERANCE * scale:
            out.append(_unsupported(analysis, node_id, "the converted operator computes different values"))
    return out


def _distinct_layers(module: nn.Module, analysis: Analysis) -> Iterator[tuple[str, nn.Module, tuple[int, ...]]]:
    seen = set()
    for node_id in analysis.order:
        info = analysis.info[node_id]
        if info.spec is None or info.ctx is None or not info.spec.is_module:
            continue
        sub = module.get_submodule(node_id)
        key = (repr(sub), info.ctx.x0)
        if key not in seen:
            seen.add(key)
            yield node_id, sub, info.ctx.x0


def _unsupported(analysis: Analysis, node_id: str, why: str) -> Diagnostic:
    node = analysis.graph[node_id]
    return dg.error(
        "export.onnx_unsupported",
        f"ONNX cannot express {node.type} '{node_id}': {why}",
        node_id,
        "change this layer's settings or replace it with a layer ONNX supports",
    )


def _annotate(model: onnx.ModelProto, graph: Graph, extra: dict[str, str]) -> None:
    """Record where the model came from: the design's name and its full JSON text (and ``extra`` entries)."""
    model.doc_string = f"{graph.name}: exported by CNN Designer"
    for key, value in (
        ("cnn-designer.format", FORMAT),
        ("cnn-designer.name", graph.name),
        ("cnn-designer.design", dumps(graph)),
        *extra.items(),
    ):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
