"""``python -m designer import SOURCE -o design.json``: turn a torchvision or timm model, a user nn.Module factory or
an ONNX file into an editable design (and a checkpoint with its weights)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import EXIT_INVALID as EXIT_FAILED
from .common import EXIT_OK, EXIT_UNREADABLE, SubCommands


def _shape(text: str) -> list[int]:
    try:
        dims = [int(d) for d in text.replace("x", ",").split(",") if d.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape like 3,224,224") from None
    if not dims or any(d < 1 for d in dims):
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape like 3,224,224")
    return dims


def register(sub: SubCommands) -> None:
    p = sub.add_parser(
        "import", help="turn a torchvision or timm model, an nn.Module factory or an ONNX file into a design"
    )
    p.add_argument("source", help="torchvision:<model>, timm:<model>, module:<python.path>:<callable> or onnx:<file>")
    p.add_argument("-o", "--output", required=True, help="design file to write (.json)")
    p.add_argument(
        "--input-shape",
        type=_shape,
        help="sample shape without batch for torch sources (default: the model's own, 3,224,224 for most)",
    )
    p.add_argument("--weights", help="local state_dict or checkpoint to load into a torch source first")
    p.add_argument(
        "--checkpoint-out",
        help="where to write the weights as a designer checkpoint (default: next to "
        "the design, .pt, when there are real weights: an ONNX file or --weights)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..export.checkpoint import CheckpointError, save_checkpoint
    from ..importers import ModelImportError, import_source
    from ..model.fileformat import save

    try:
        result = import_source(args.source, args.input_shape, args.weights)
    except CheckpointError as exc:
        print(f"{args.weights}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except ModelImportError as exc:
        for line in str(exc).splitlines():
            print(f"{args.source}: {line.strip()}", file=sys.stderr)
        return EXIT_FAILED
    save(result.graph, args.output)
    ckpt = args.checkpoint_out
    if ckpt is None and (args.source.startswith("onnx:") or args.weights):
        ckpt = str(Path(args.output).with_suffix(".pt"))
    if ckpt:
        save_checkpoint(ckpt, result.graph, result.state_dict)
    from ..analysis.validate import analyze

    analysis = analyze(result.graph)
    print(
        f"{args.output}: {len(result.graph)} nodes, {analysis.total_params:,} parameters"
        + (f"; weights in {ckpt}" if ckpt else "")
        + "".join(f"; {n}" for n in result.notes)
    )
    return EXIT_OK
