"""``python -m designer predict CHECKPOINT_OR_RUN --image PATH [-o OUT.png] [--mask PNG | --boxes TXT] [--top K]``.

What a trained model says about one image, for the task its project trains: classification prints the top classes
with their probabilities; segmentation draws the predicted mask over the image (beside the true mask with
``--mask``, printing pixel accuracy and the IoU of each class); detection decodes the grid head with NMS, prints each
box and draws them labelled with class and score (beside the true boxes with ``--boxes``). The model comes from a
checkpoint, a run folder or a project file (untrained), as for ``insight``. Exit codes: 0 done, 1 the design cannot
be compiled, 2 an unreadable model or image, or a missing option. torch is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING

from ..model.fileformat import ProjectError
from .common import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, SubCommands
from .insight import MIN_SIDE, Loaded, open_model

if TYPE_CHECKING:
    import numpy as np

    from ..insight.prediction import Prediction

#: Kept here as well as in ``designer.insight.prediction`` so that building the parser does not import torch.
TASKS = ("classification", "segmentation", "detection")


def register(subparsers: SubCommands) -> None:
    """Add the ``predict`` sub-command."""
    p = subparsers.add_parser(
        "predict",
        help="run a trained model on one image: top classes, or the predicted mask drawn over it",
        description="Run a trained (or freshly initialised) design on one image and show what it predicts.",
    )
    p.add_argument("file", metavar="CHECKPOINT_OR_RUN", help="designer checkpoint (.pt), run folder, or project file")
    p.add_argument("--image", required=True, metavar="PATH", help="input image; converted to the design's input")
    p.add_argument("-o", "--output", metavar="OUT", help="PNG to write (needed for segmentation)")
    p.add_argument("--mask", metavar="PATH", help="the true mask (PNG of class ids) to draw beside the prediction")
    p.add_argument(
        "--boxes",
        metavar="PATH",
        help="the true boxes to draw beside the detections: a text file, one 'CLASS X1 Y1 X2 Y2' a line (class id "
        "or name, corners in the image's pixels)",
    )
    p.add_argument("--top", type=int, default=5, metavar="K", help="classes to print for classification (5)")
    p.add_argument(
        "--threshold", type=float, default=0.25, metavar="T", help="lowest score of a box drawn for detection (0.25)"
    )
    p.add_argument("--task", choices=TASKS, help="the design's task (default: its training section's)")
    p.add_argument("--seed", type=int, default=0, help="initialisation of a project file's untrained model (0)")
    p.set_defaults(run=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> int:
    """Run the ``predict`` sub-command; returns the exit code."""
    from ..compiler import CompileError
    from ..export.checkpoint import WeightsMismatchError
    from ..insight import InsightError

    try:
        loaded = open_model(args.file, args.seed)
    except (CompileError, WeightsMismatchError) as exc:
        for d in exc.diagnostics:
            if d.is_error:
                print(f"{args.file}: {d}", file=sys.stderr)
        return EXIT_INVALID
    except (OSError, ValueError, ProjectError) as exc:
        return _fail(args.file, str(exc))
    c, h, w = (int(v) for v in loaded.graph[loaded.graph.input_ids()[0]].params["shape"])
    try:
        pixels = _read_pixels(args.image, c, (h, w))
        truth = _read_mask(args.mask, (h, w)) if args.mask else None
        if args.boxes:
            if args.mask or (args.task or _section_task(loaded)) != "detection":
                return _fail(args.file, "--boxes are the true boxes of a detection design, drawn without --mask")
            truth = _read_boxes(args.boxes, args.image, (h, w), loaded.classes)
    except ValueError as exc:
        where = args.mask if "mask" in str(exc) else args.boxes if "boxes" in str(exc) else args.image
        return _fail(where, str(exc))
    try:
        found = _predict(args, loaded, pixels, truth)
    except InsightError as exc:
        return _fail(args.file, str(exc), EXIT_INVALID)
    except ValueError as exc:  # the training section names no task predict knows
        return _fail(args.file, str(exc))
    for line in found.lines:
        print(line)
    if found.task != "classification" and not args.output:
        return _fail(args.file, f"{found.task} draws a picture: give -o OUT.png")
    if args.output:
        from ..insight.images import write_png

        write_png(args.output, found.picture)
        print(f"{args.output}: {found.title}")
    return EXIT_OK


def _section_task(loaded: Loaded) -> str:
    from ..training.config import ConfigError, read_section

    try:
        return read_section(loaded.graph).task
    except ConfigError:
        return ""


def _fail(where: str, message: str, code: int = EXIT_UNREADABLE) -> int:
    print(f"{where}: {message}", file=sys.stderr)
    return code


def _read_pixels(path: str, channels: int, size: tuple[int, int]) -> np.ndarray:
    from ..insight.images import read_image

    return read_image(path, channels, size)


def _read_mask(path: str, size: tuple[int, int]) -> np.ndarray:
    """A PNG of class ids (grey or palette) at the design's size, resized by nearest neighbour."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P", "I", "I;16"):
                raise ValueError(f"mask {path} is {im.mode}; a mask holds one class id per pixel (grey or palette)")
            im = im.resize((size[1], size[0]), Image.Resampling.NEAREST)
            return np.asarray(im).astype(np.int64)
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"cannot read mask {path}: {exc}") from None


def _read_boxes(path: str, image: str, size: tuple[int, int], classes: list[str]) -> np.ndarray:
    """Rows (class, x1, y1, x2, y2) from a text file, the corners scaled from the image's pixels to the design's."""
    import numpy as np
    from PIL import Image

    with Image.open(image) as im:
        scale = [size[1] / im.width, size[0] / im.height] * 2
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise ValueError(f"cannot read boxes {path}: {exc.strerror or exc}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        fields = line.split("#")[0].replace(",", " ").split()
        row = _box_row(fields, classes) if fields else []
        if row is None:
            raise ValueError(f"boxes line {number}: expected 'CLASS X1 Y1 X2 Y2' (class id or name), got {line!r}")
        if row:
            rows.append([row[0], *(v * k for v, k in zip(row[1:], scale, strict=True))])
    return np.asarray(rows, dtype=np.float32).reshape(-1, 5)


def _box_row(fields: list[str], classes: list[str]) -> list[float] | None:
    """(class id, x1, y1, x2, y2) of one line's fields, or None if they are not a class and four numbers."""
    if len(fields) != 5:
        return None
    name = fields[0]
    label = classes.index(name) if name in classes else int(name) if name.isdigit() else None
    try:
        corners = [float(v) for v in fields[1:]]
    except ValueError:
        return None
    return None if label is None else [float(label), *corners]


def _predict(args: argparse.Namespace, loaded: Loaded, pixels: np.ndarray, truth: np.ndarray | None) -> Prediction:
    """The prediction drawn on the image as read (not as normalised), enlarged to at least ``MIN_SIDE`` pixels."""
    import numpy as np
    import torch

    from ..insight import normalize
    from ..insight.prediction import predict

    x = normalize(torch.from_numpy(pixels), loaded.mean, loaded.std)
    rgb = pixels if pixels.shape[0] == 3 else pixels[:1].repeat(3, 0)
    scale = max(1, math.ceil(MIN_SIDE / max(pixels.shape[1:])))
    return predict(
        loaded.module,
        x,
        graph=loaded.graph,
        classes=loaded.classes or None,
        base=np.ascontiguousarray(rgb.transpose(1, 2, 0)),
        truth=truth,
        task=args.task,
        threshold=args.threshold,
        top=args.top,
        scale=scale,
    )
