"""What a model predicts for one image, drawn for the task its project trains (issue 16): the top classes, the mask
over the image (beside the true mask when given, scored as validation scores it), or the decoded boxes.

One function serves ``python -m designer predict`` and the insight dock's live "Prediction" view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..model.graph import Graph
from ..training.config import TrainConfig, detection_head, detection_kind, read_section
from ..training.detection_metrics import Detections
from . import images
from .overlays import draw_boxes, draw_mask, enlarge, side_by_side
from .probe import InsightError, as_batch, first_output, prepared

TASKS = ("classification", "segmentation", "detection")


@dataclass(frozen=True)
class Prediction:
    """The picture (``(H, W, 3)`` uint8), a one-line title, and the findings one per line (classes, scores, boxes)."""

    task: str
    picture: np.ndarray
    title: str
    lines: list[str]


def predict(
    module: nn.Module,
    x: Any,
    *,
    graph: Graph | None = None,
    classes: Sequence[str] | None = None,
    base: np.ndarray | None = None,
    truth: np.ndarray | None = None,
    task: str | None = None,
    threshold: float = 0.25,
    top: int = 5,
    scale: int = 1,
) -> Prediction:
    """Run ``module`` on the sample ``x`` (model input space) and draw what it predicts.

    ``task`` defaults to the design's training section (classification without one); ``base`` is the picture to draw
    on (``(H, W, 3)`` uint8, or floats in [0, 1]; default: ``x`` stretched over its range); ``truth`` the sample's
    target drawn beside the prediction: a mask of class ids (scored as validation scores it) or box rows
    ``(label, x1, y1, x2, y2)`` padded with label -1; ``threshold`` the lowest score of a box drawn; ``scale``
    enlarges small images first.
    """
    config = read_section(graph) if graph is not None else TrainConfig()
    task = task or config.task
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    xb = as_batch(x, module)
    roi = task == "detection" and detection_kind(config) == "roi"
    with prepared(module), torch.inference_mode():
        # Fast R-CNN's design takes its proposals too: the task gives it the grid and decodes what it scores
        out = roi_detections(module, xb) if roi else first_output(module(xb))[0].float().cpu()
    if base is None:
        base = images.display(xb[0].cpu())
    picture = enlarge(base if base.dtype == np.uint8 else images.to_uint8(base), scale)
    if task == "classification" and isinstance(out, torch.Tensor):
        return _classes(out, picture, classes, top)
    if task == "segmentation" and isinstance(out, torch.Tensor):
        return _mask(out, picture, tuple(xb.shape[-2:]), classes, truth)
    found = _boxes(out, picture, config, tuple(xb.shape[-2:]), classes, threshold, scale)
    if truth is None:
        return found
    rows = np.asarray(truth, dtype=np.float32).reshape(-1, 5)
    rows = rows[rows[:, 0] >= 0]
    n = out.classes if isinstance(out, RoIFound) else out.shape[0] - 5 * detection_head(config)[1]
    names = _names(classes, n)
    labels = [int(k) for k in rows[:, 0]]
    truth_panel = draw_boxes(picture, rows[:, 1:], labels, names, scale=scale)
    title = f"true boxes ({len(rows)}) | predicted: {found.title}"
    return Prediction("detection", side_by_side([truth_panel, found.picture]), title, found.lines)


@dataclass(frozen=True)
class RoIFound:
    """What a Fast R-CNN design finds in one image (decoded with NMS on the grid proposals) and its class count."""

    found: Detections
    classes: int


def roi_detections(module: nn.Module, xb: torch.Tensor) -> RoIFound:
    """A Fast R-CNN design run on the first image of ``xb`` with the grid proposals, decoded per class with NMS."""
    from ..training.roi_detection import RoIDetectionTask, decode

    size = (int(xb.shape[-2]), int(xb.shape[-1]))
    out = RoIDetectionTask(classes=0, image_size=size).on_grid(module, xb[:1])
    found = decode(out, size)[0]
    return RoIFound(Detections(found.boxes.cpu(), found.scores.cpu(), found.labels.cpu()), out.scores.shape[1] - 1)


def _names(classes: Sequence[str] | None, n: int) -> list[str]:
    return list(classes) if classes is not None and len(classes) == n else [str(k) for k in range(n)]


def _classes(out: torch.Tensor, picture: np.ndarray, classes: Sequence[str] | None, top: int) -> Prediction:
    """The top classes; a single logit is a two-class sigmoid."""
    flat = out.reshape(-1)
    probs = torch.cat([1 - flat.sigmoid(), flat.sigmoid()]) if flat.numel() == 1 else flat.softmax(0)
    names = _names(classes, len(probs))
    best = probs.topk(min(max(1, top), len(probs)))
    found = list(zip(best.values.tolist(), best.indices.tolist(), strict=True))
    lines = [f"{names[k]}\t{p:.4f}" for p, k in found]
    return Prediction("classification", picture, f"predicted {names[found[0][1]]} ({found[0][0]:.0%})", lines)


def _mask(
    out: torch.Tensor,
    picture: np.ndarray,
    size: tuple[int, ...],
    classes: Sequence[str] | None,
    truth: np.ndarray | None,
) -> Prediction:
    """The argmax mask over the image (the true mask beside it, and the scores of the prediction against it)."""
    if out.ndim != 3 or tuple(out.shape[1:]) != size:
        raise InsightError(
            None,
            f"a segmentation design outputs [classes, H, W] at the input's size {list(size)}; "
            f"this one outputs {list(out.shape)}",
            "insight.not_segmentation",
        )
    n = out.shape[0]
    panels = [picture, draw_mask(picture, out.argmax(0).numpy(), n)]
    lines: list[str] = []
    title = "image | predicted mask"
    if truth is not None:
        from ..training.segmentation import ConfusionMeter

        panels.insert(1, draw_mask(picture, truth, n))
        meter = ConfusionMeter(n, _names(classes, n))
        meter.update(out[None], torch.as_tensor(np.asarray(truth), dtype=torch.long)[None])
        scores = meter.compute()
        lines = [f"{k.removeprefix('val_')}\t{v:.4f}" for k, v in scores.items()]
        title = f"image | true mask | predicted mask (pixel accuracy {scores['val_pixel_acc']:.0%}, "
        title += f"mean IoU {scores['val_miou']:.2f})"
    return Prediction("segmentation", side_by_side(panels), title, lines)


def _boxes(
    out: Any,
    picture: np.ndarray,
    config: TrainConfig,
    size: tuple[int, ...],
    classes: Sequence[str] | None,
    threshold: float,
    scale: int,
) -> Prediction:
    """The head decoded (per-class NMS), the boxes scoring at least ``threshold`` drawn and listed."""
    from ..training.detection import DetectionTask

    if isinstance(out, RoIFound):
        found, n = out.found, out.classes
    else:
        grid, boxes = detection_head(config)
        n = out.shape[0] - 5 * boxes if out.ndim == 3 else 0
        if n < 1 or tuple(out.shape[1:]) != (grid, grid):
            raise InsightError(
                None,
                f"a detection design outputs [{boxes}*5 + classes, {grid}, {grid}] (its training section's grid "
                f"and boxes); this one outputs {list(out.shape)}",
                "insight.not_detection",
            )
        task = DetectionTask(classes=n, image_size=(int(size[0]), int(size[1])), grid=grid, boxes=boxes)
        found = task.predict(out[None])[0]
    keep = found.scores >= threshold
    names = _names(classes, n)
    b, s, k = found.boxes[keep], found.scores[keep].tolist(), found.labels[keep].tolist()
    lines = [
        f"{names[label]}\t{score:.4f}\t" + " ".join(f"{v:.1f}" for v in box)
        for box, score, label in zip(b.tolist(), s, k, strict=True)
    ]
    title = f"{len(k)} box{'es' if len(k) != 1 else ''} scoring >= {threshold:g}"
    return Prediction("detection", draw_boxes(picture, b.numpy(), k, names, s, scale=scale), title, lines)
