"""``python -m designer insight CHECKPOINT_OR_RUN --image PATH --method M --node ID [--class K] -o out.png``.

Writes one insight picture as a PNG, for reports and teaching material. The model comes from a designer checkpoint,
a run folder (its ``best.pt``, else ``last.pt``) or a plain project file (untrained, initialised with ``--seed``).
Exit codes: 0 written, 1 invalid design or a node the method cannot use, 2 an unreadable model or image, or a missing
option. torch is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.fileformat import ProjectError, load
from ..model.graph import Graph
from .common import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, SubCommands

if TYPE_CHECKING:
    import torch
    from torch import nn

#: Kept here as well as in ``designer.insight`` so that building the parser does not import torch.
METHODS = (
    "featuremaps",
    "filters",
    "gradcam",
    "saliency",
    "guided",
    "deconvnet",
    "occlusion",
    "maximize",
    "prediction",
)
NEEDS_IMAGE = ("featuremaps", "gradcam", "saliency", "guided", "deconvnet", "occlusion", "prediction")
RUN_CHECKPOINTS = ("best.pt", "last.pt")
#: Pictures smaller than this (in pixels, the longer side) are enlarged by whole pixels.
MIN_SIDE = 256


def register(subparsers: SubCommands) -> None:
    """Add the ``insight`` sub-command."""
    p = subparsers.add_parser(
        "insight",
        help="draw what a network has learned (feature maps, filters, Grad-CAM, ...) as a PNG",
        description="Draw one insight view of a trained (or freshly initialised) design for one image.",
    )
    p.add_argument(
        "file",
        metavar="CHECKPOINT_OR_RUN",
        help="designer checkpoint (.pt), run folder, or project file (.json, untrained)",
    )
    p.add_argument("--method", "-m", required=True, choices=METHODS, help="what to draw")
    p.add_argument(
        "--image", metavar="PATH", help="input image (PNG, JPEG, ...); converted to the design's channels and size"
    )
    p.add_argument(
        "--node",
        help="node id (default: the first spatial layer for featuremaps, the first Conv2d for "
        "filters, the last spatial layer for gradcam, the class scores for the others)",
    )
    p.add_argument(
        "--class",
        dest="target",
        type=int,
        metavar="K",
        help="class to explain (default: the predicted one); for maximize with --node, the filter or unit",
    )
    p.add_argument("--patch", type=int, help="occlusion patch size in pixels (default: a seventh of the image)")
    p.add_argument("--stride", type=int, help="occlusion stride in pixels (default: half the patch)")
    p.add_argument("--steps", type=int, default=100, help="activation maximisation steps (100)")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="initialisation of a project file's untrained model, and the start of activation maximisation (0)",
    )
    p.add_argument("--scale", type=int, help=f"pixel repeat factor (default: enlarge to at least {MIN_SIDE} pixels)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="PNG file to write")
    p.set_defaults(run=cmd_insight)


@dataclass
class Loaded:
    """A model ready for insight: the module, its design and how images are normalised for it."""

    module: nn.Module
    graph: Graph
    mean: list[float]
    std: list[float]
    classes: list[str] = field(default_factory=list)


def cmd_insight(args: argparse.Namespace) -> int:
    """Run the ``insight`` sub-command; returns the exit code."""
    from ..compiler import CompileError
    from ..export.checkpoint import WeightsMismatchError
    from ..insight import InsightError

    if args.method in NEEDS_IMAGE and not args.image:
        return _fail(args.file, f"--method {args.method} needs --image PATH", EXIT_UNREADABLE)
    try:
        loaded = open_model(args.file, args.seed)
        x = read_image(args.image, loaded) if args.image else None
    except (CompileError, WeightsMismatchError) as exc:
        for d in exc.diagnostics:
            if d.is_error:
                print(f"{args.file}: {d}", file=sys.stderr)
        return EXIT_INVALID
    except (OSError, ValueError, ProjectError) as exc:
        return _fail(args.image if isinstance(exc, ImageError) else args.file, str(exc), EXIT_UNREADABLE)
    try:
        picture = draw(args, loaded, x)
    except InsightError as exc:
        return _fail(args.file, str(exc), EXIT_INVALID)
    from ..insight import write_png

    write_png(args.output, picture)
    print(f"{args.output}: {picture.shape[1]}x{picture.shape[0]} {args.method}")
    return EXIT_OK


def _fail(where: str, message: str, code: int) -> int:
    print(f"{where}: {message}", file=sys.stderr)
    return code


def draw(args: argparse.Namespace, loaded: Loaded, x: torch.Tensor | None) -> Any:
    """The picture for the parsed arguments, as ``(H, W, 3)`` uint8."""
    from ..insight import Options, compose, render

    grey = [(0.5 - m) / s for m, s in zip(loaded.mean, loaded.std)]
    # the ascent stays within the pixel range [0, 1] as the model sees it after normalisation
    bounds = (
        min(-m / s for m, s in zip(loaded.mean, loaded.std)),
        max((1 - m) / s for m, s in zip(loaded.mean, loaded.std)),
    )
    options = Options(
        target=args.target,
        patch=args.patch,
        stride=args.stride,
        fill=grey,
        steps=args.steps,
        seed=args.seed,
        bounds=bounds,
    )
    sample = x if x is not None else _blank(loaded.graph)
    view = render(
        args.method, loaded.module, sample, args.node, graph=loaded.graph, options=options, classes=loaded.classes
    )
    picture = compose(view)
    scale = args.scale or max(1, math.ceil(MIN_SIDE / max(picture.shape[:2])))
    return compose(view, scale)


def _blank(graph: Graph) -> Any:
    import torch

    return torch.zeros([int(v) for v in graph[graph.input_ids()[0]].params["shape"]])


def open_model(path: str, seed: int = 0) -> Loaded:
    """The model in a checkpoint, a run folder, or a project file (compiled untrained with ``seed``).

    Raises:
        ProjectError: an unreadable project, checkpoint or run folder.
        CompileError: the design has errors.
        WeightsMismatchError: the checkpoint's weights do not fit its design.
    """
    from ..compiler import compile_graph
    from ..export.checkpoint import is_checkpoint_file

    p = Path(path)
    if p.is_dir():
        found = [p / name for name in RUN_CHECKPOINTS if (p / name).is_file()]
        if not found:
            raise ProjectError(f"no checkpoint ({' or '.join(RUN_CHECKPOINTS)}) in run folder {path}")
        p = found[0]
    if not is_checkpoint_file(p):
        graph = load(p)
        channels = _channels(graph)
        return Loaded(compile_graph(graph, seed=seed), graph, [0.0] * channels, [1.0] * channels)
    return _from_checkpoint(p)


def _from_checkpoint(path: Path) -> Loaded:
    """The checkpoint's design with its weights, and the data statistics and classes a run stores beside them."""
    from ..compiler import compile_graph
    from ..export.checkpoint import load_weights, read_checkpoint

    ckpt = read_checkpoint(path)
    if ckpt.graph is None:
        raise ProjectError("the checkpoint holds weights only, no design; insight needs the design")
    module = compile_graph(ckpt.graph)
    load_weights(module, ckpt.state_dict, ckpt.graph)
    channels, meta = _channels(ckpt.graph), ckpt.extra
    mean = [float(v) for v in meta.get("mean") or [0.0] * channels]
    std = [float(v) for v in meta.get("std") or [1.0] * channels]
    return Loaded(module, ckpt.graph, mean, std, [str(c) for c in meta.get("classes") or []])


def _channels(graph: Graph) -> int:
    inputs = graph.input_ids()
    shape = graph[inputs[0]].params.get("shape") if inputs else None
    if not isinstance(shape, list) or len(shape) != 3:
        raise ProjectError(f"insight needs one image Input of shape [C, H, W]; the design has {shape}")
    return int(shape[0])


class ImageError(ValueError):
    """An image file that cannot be read or does not fit the design."""


def read_image(path: str, loaded: Loaded) -> torch.Tensor:
    """The image at ``path`` converted to the design's channels and size, normalised as in training."""
    import torch

    from ..insight import normalize
    from ..insight.images import read_image as read_pixels

    c, h, w = (int(v) for v in loaded.graph[loaded.graph.input_ids()[0]].params["shape"])
    try:
        pixels = read_pixels(path, c, (h, w))
    except ValueError as exc:
        raise ImageError(str(exc)) from None
    return normalize(torch.from_numpy(pixels), loaded.mean, loaded.std)
