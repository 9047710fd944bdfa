"""``python -m designer export FILE --format python|onnx|torchscript|checkpoint -o OUT [--with-nms]``.

Exit codes: 0 written, 1 invalid design or export failure (including weights that do not fit the design), 2 an
unreadable design, weights file or checkpoint, an output that cannot be written, or options that do not go together.
Problems go to stderr, one line each. torch is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..model.diagnostics import Diagnostic
from ..model.fileformat import ProjectError, load
from ..model.graph import Graph
from .common import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, SubCommands, report

if TYPE_CHECKING:
    import torch

#: Kept here as well as in ``designer.export`` so that building the parser does not import torch.
FORMATS = ("python", "onnx", "torchscript", "checkpoint")


def register(subparsers: SubCommands) -> None:
    """Add the ``export`` sub-command."""
    p = subparsers.add_parser(
        "export",
        help="write a design as Python code, ONNX, TorchScript or a checkpoint",
        description="Write a design (a project file, or a checkpoint, which carries its design and weights) as a "
        "standalone Python module, an ONNX model, a TorchScript archive or a designer checkpoint.",
    )
    p.add_argument("file", help="project file (.json) or designer checkpoint (.pt)")
    p.add_argument("--format", "-f", required=True, choices=FORMATS, help="what to write")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="file to write (replaced atomically)")
    p.add_argument(
        "--weights",
        metavar="CKPT",
        help="trained weights: a designer checkpoint or a state_dict file "
        "(default: the checkpoint's own weights, else a fresh initialisation)",
    )
    p.add_argument("--seed", type=int, help="seed for a fresh initialisation (default: random)")
    p.add_argument("--opset", type=int, help="ONNX opset (default: 18)")
    p.add_argument(
        "--with-nms",
        action="store_true",
        help="ONNX of a detection design: append the decode and per-class NMS, so that the outputs are boxes, "
        "scores and labels (padded per image) instead of the grid head",
    )
    p.set_defaults(run=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """Run ``export``; see the module docstring for the exit codes."""
    usage = _usage_problem(args)
    if usage:
        print(f"export: {usage}", file=sys.stderr)
        return EXIT_UNREADABLE
    from ..compiler import CompileError
    from ..export import ExportError, export
    from ..export.checkpoint import WeightsMismatchError, read_checkpoint

    try:
        graph, weights, problems = _read_design(args.file)
    except ProjectError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    report(args.file, problems)
    if any(d.is_error for d in problems):
        return EXIT_INVALID
    if args.weights:
        try:
            weights = read_checkpoint(args.weights).state_dict
        except ProjectError as exc:
            print(f"{args.weights}: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    try:
        what = export(
            graph,
            args.output,
            args.format,
            state_dict=weights,
            seed=args.seed,
            opset=args.opset,
            with_nms=args.with_nms,
        )
    except CompileError as exc:
        report(args.file, [d for d in exc.diagnostics if d.is_error])
        return EXIT_INVALID
    except (ExportError, WeightsMismatchError) as exc:
        report(args.weights or args.file if isinstance(exc, WeightsMismatchError) else args.file, exc.diagnostics)
        return EXIT_INVALID
    except OSError as exc:
        print(f"{args.output}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(f"{args.output}: {what}")
    return EXIT_OK


def _usage_problem(args: argparse.Namespace) -> str:
    if args.format == "python" and args.weights:
        return "--weights does not apply to --format python: the module file holds code; load the weights into it"
    if args.opset is not None and args.format != "onnx":
        return "--opset applies only to --format onnx"
    if args.with_nms and args.format != "onnx":
        return "--with-nms applies only to --format onnx"
    if args.opset is not None and args.opset < 1:
        return f"--opset {args.opset} is not an ONNX opset"
    return ""


def _read_design(path: str) -> tuple[Graph, dict[str, torch.Tensor] | None, list[Diagnostic]]:
    """The design, its weights if ``path`` is a checkpoint (else None), and the problems met while reading."""
    from ..export.checkpoint import is_checkpoint_file, read_checkpoint

    problems: list[Diagnostic] = []
    if not is_checkpoint_file(path):
        return load(path, error_handler=problems.append), None, problems
    ckpt = read_checkpoint(path, error_handler=problems.append)
    if ckpt.graph is None:
        raise ProjectError("holds weights only, no design; give the project file and pass this file as --weights")
    return ckpt.graph, ckpt.state_dict, problems
