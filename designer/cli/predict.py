"""``python -m designer predict CHECKPOINT_OR_RUN --image PATH [-o out.png] [--mask TRUTH.png] [--top K]``.

What a trained model says about one image, for the task its project trains: classification prints the top classes
with their probabilities; segmentation draws the predicted mask over the image (beside the true mask with
``--mask``, printing pixel accuracy and the IoU of each class). The model comes from a checkpoint, a run folder or a
project file (untrained), as for ``insight``. Exit codes: 0 done, 1 the design cannot be compiled, 2 an unreadable
model or image, or a missing option. torch is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING, Any

from ..model.fileformat import ProjectError
from .common import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, SubCommands
from .insight import MIN_SIDE, Loaded, open_model

if TYPE_CHECKING:
    import numpy as np
    import torch

TASKS = ("classification", "segmentation")


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
    p.add_argument("--top", type=int, default=5, metavar="K", help="classes to print for classification (5)")
    p.add_argument("--task", choices=TASKS, help="the design's task (default: its training section's)")
    p.add_argument("--seed", type=int, default=0, help="initialisation of a project file's untrained model (0)")
    p.set_defaults(run=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> int:
    """Run the ``predict`` sub-command; returns the exit code."""
    from ..compiler import CompileError
    from ..export.checkpoint import WeightsMismatchError

    try:
        loaded = open_model(args.file, args.seed)
    except (CompileError, WeightsMismatchError) as exc:
        for d in exc.diagnostics:
            if d.is_error:
                print(f"{args.file}: {d}", file=sys.stderr)
        return EXIT_INVALID
    except (OSError, ValueError, ProjectError) as exc:
        return _fail(args.file, str(exc))
    task = args.task or str(loaded.graph.extra.get("training", {}).get("task", "classification"))
    if task not in TASKS:
        return _fail(args.file, f"predict draws {' and '.join(TASKS)} designs; this one trains for {task}")
    c, h, w = (int(v) for v in loaded.graph[loaded.graph.input_ids()[0]].params["shape"])
    try:
        pixels = _read_pixels(args.image, c, (h, w))
        truth = _read_mask(args.mask, (h, w)) if args.mask else None
    except ValueError as exc:
        return _fail(args.mask if "mask" in str(exc) else args.image, str(exc))
    scores = _run(loaded, pixels)
    if task == "classification":
        return _classes(args, loaded, scores, pixels)
    if not args.output:
        return _fail(args.file, "segmentation draws a picture: give -o OUT.png")
    return _segmentation(args, scores, pixels, truth)


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


def _run(loaded: Loaded, pixels: np.ndarray) -> torch.Tensor:
    """The model's first output for the image, in eval mode, as ``(classes, ...)``."""
    import torch

    from ..insight import normalize
    from ..insight.probe import first_output

    x = normalize(torch.from_numpy(pixels), loaded.mean, loaded.std)
    module = loaded.module.eval()
    with torch.inference_mode():
        out: torch.Tensor = first_output(module(x.unsqueeze(0)))[0].float()
    return out


def _names(loaded: Loaded, n: int) -> list[str]:
    return loaded.classes if len(loaded.classes) == n else [str(k) for k in range(n)]


def _classes(args: argparse.Namespace, loaded: Loaded, scores: torch.Tensor, pixels: np.ndarray) -> int:
    """Print the top classes; a single logit is a two-class sigmoid."""
    import torch

    flat = scores.reshape(-1)
    probs = torch.cat([1 - flat.sigmoid(), flat.sigmoid()]) if flat.numel() == 1 else flat.softmax(0)
    names = _names(loaded, len(probs))
    top = probs.topk(min(max(1, args.top), len(probs)))
    for p, k in zip(top.values.tolist(), top.indices.tolist(), strict=True):
        print(f"{names[k]}\t{p:.4f}")
    if args.output:
        from ..insight.images import write_png

        write_png(args.output, _enlarged(pixels_to_rgb(pixels))[0])
        print(f"{args.output}: the image as the design sees it")
    return EXIT_OK


def pixels_to_rgb(pixels: np.ndarray) -> np.ndarray:
    """uint8 ``(C, H, W)`` with one or three channels as ``(H, W, 3)`` uint8."""
    import numpy as np

    rgb = pixels if pixels.shape[0] == 3 else pixels[:1].repeat(3, 0)
    out: np.ndarray = np.ascontiguousarray(rgb.transpose(1, 2, 0))
    return out


def _enlarged(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    from ..insight.overlays import enlarge

    factor = max(1, math.ceil(MIN_SIDE / max(rgb.shape[:2])))
    return enlarge(rgb, factor), factor


def _segmentation(args: argparse.Namespace, scores: torch.Tensor, pixels: np.ndarray, truth: Any) -> int:
    """Draw the argmax mask over the image (and the true mask beside it), and score it against the truth."""
    from ..insight.images import write_png
    from ..insight.overlays import draw_mask, side_by_side

    if scores.ndim != 3 or tuple(scores.shape[1:]) != pixels.shape[1:]:
        shape = list(scores.shape)
        return _fail(
            args.file,
            f"a segmentation design outputs [classes, H, W] at the input's size {list(pixels.shape[1:])}; "
            f"this one outputs {shape}",
            EXIT_INVALID,
        )
    classes = scores.shape[0]
    pred = scores.argmax(0).numpy()
    base, _ = _enlarged(pixels_to_rgb(pixels))
    panels = [base, draw_mask(base, pred, classes)]
    if truth is not None:
        panels.insert(1, draw_mask(base, truth, classes))
        _print_scores(pred, truth, classes)
    write_png(args.output, side_by_side(panels))
    what = "image, true mask, predicted mask" if truth is not None else "image, predicted mask"
    print(f"{args.output}: {what}")
    return EXIT_OK


def _print_scores(pred: np.ndarray, truth: np.ndarray, classes: int) -> None:
    """Pixel accuracy and each class's IoU (pixels of 255 are ignored)."""
    known = truth != 255
    print(f"pixel accuracy\t{float((pred == truth)[known].mean()) if known.any() else math.nan:.4f}")
    for k in range(classes):
        p, t = (pred == k) & known, (truth == k) & known
        union = int((p | t).sum())
        if union:
            print(f"IoU class {k}\t{int((p & t).sum()) / union:.4f}")
