"""Detection metrics: average precision per class and its mean over classes, at one or several IoU thresholds.

AP is the all-point interpolated area under the precision-recall curve (PASCAL VOC 2010 onwards): precision is
replaced by the best precision at any higher recall, then summed over each step in recall. Detections are matched to
ground truth greedily in descending score order, each to the unmatched ground-truth box of its image and class with
the highest IoU (``torchvision.ops.box_iou``) at or above the threshold, as VOC and COCO match. mAP@0.5:0.95 is the
mean of the mAPs at the ten thresholds 0.50, 0.55, ..., 0.95 (COCO's primary metric, here with all-point AP).
Classes without ground truth are left out of the mean, as COCO leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torchvision.ops import box_iou

#: COCO's IoU thresholds 0.50:0.05:0.95.
COCO_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


@dataclass(frozen=True)
class Detections:
    """One image's predictions: ``boxes`` ``[M, 4]`` xyxy pixels, ``scores`` ``[M]``, ``labels`` ``[M]`` (int)."""

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor

    def cpu(self) -> Detections:
        """The same detections in host memory (to send to other processes)."""
        return Detections(self.boxes.cpu(), self.scores.cpu(), self.labels.cpu())


@dataclass(frozen=True)
class Truth:
    """One image's ground truth: ``boxes`` ``[G, 4]`` xyxy pixels and ``labels`` ``[G]`` (int)."""

    boxes: torch.Tensor
    labels: torch.Tensor

    def cpu(self) -> Truth:
        """The same truth in host memory (to send to other processes)."""
        return Truth(self.boxes.cpu(), self.labels.cpu())

    @classmethod
    def from_padded(cls, rows: torch.Tensor) -> Truth:
        """From one image's padded target ``[K, 5]`` rows (label, x1, y1, x2, y2); rows labelled -1 are padding."""
        keep = rows[:, 0] >= 0
        return cls(rows[keep, 1:5].float(), rows[keep, 0].long())


def average_precision(scores: np.ndarray, hits: np.ndarray, n_truth: int) -> float:
    """All-point interpolated AP of detections with ``scores`` whose ``hits`` say which matched a true box."""
    if n_truth == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(hits[order])
    precision = tp / np.arange(1, len(order) + 1)
    recall = tp / n_truth
    # envelope: the best precision at this recall or any higher one
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


def match(boxes: torch.Tensor, scores: torch.Tensor, truth: torch.Tensor, thresholds: tuple[float, ...]) -> np.ndarray:
    """Which detections (one image, one class) are true positives at each threshold: bool ``[T, D]``.

    In descending score order, each detection takes the unmatched true box with the highest IoU, if that IoU
    reaches the threshold.
    """
    hits = np.zeros((len(thresholds), len(boxes)), dtype=bool)
    if not len(boxes) or not len(truth):
        return hits
    iou = box_iou(boxes.float(), truth.float()).cpu().numpy()
    limits = np.asarray(thresholds)[:, None]
    taken = np.zeros((len(thresholds), len(truth)), dtype=bool)
    rows = np.arange(len(thresholds))
    for d in np.argsort(-scores.cpu().numpy(), kind="stable"):
        free = np.where(taken, -1.0, iou[d][None, :])  # [T, G]
        best = free.argmax(axis=1)
        ok = free[rows, best] >= limits[:, 0]
        hits[ok, d] = True
        taken[rows[ok], best[ok]] = True
    return hits


def class_aps(
    detections: list[Detections], truths: list[Truth], classes: int, thresholds: tuple[float, ...]
) -> np.ndarray:
    """AP per threshold and class, ``[T, classes]``; NaN for a class without ground truth."""
    scores: list[list[np.ndarray]] = [[] for _ in range(classes)]
    hits: list[list[np.ndarray]] = [[] for _ in range(classes)]
    n_truth = np.zeros(classes, dtype=np.int64)
    for det, truth in zip(detections, truths, strict=True):
        for c in range(classes):
            mine, theirs = det.labels == c, truth.labels == c
            n_truth[c] += int(theirs.sum())
            if bool(mine.any()):
                scores[c].append(det.scores[mine].cpu().numpy())
                hits[c].append(match(det.boxes[mine], det.scores[mine], truth.boxes[theirs], thresholds))
    out = np.full((len(thresholds), classes), np.nan)
    for c in range(classes):
        s = np.concatenate(scores[c]) if scores[c] else np.zeros(0)
        h = np.concatenate(hits[c], axis=1) if hits[c] else np.zeros((len(thresholds), 0), dtype=bool)
        for t in range(len(thresholds)):
            out[t, c] = average_precision(s, h[t], int(n_truth[c]))
    return out


def mean_average_precision(detections: list[Detections], truths: list[Truth], classes: int) -> dict[str, float]:
    """``map50`` (mAP at IoU 0.5) and ``map`` (mean over ``COCO_THRESHOLDS``); NaN when nothing has ground truth."""
    aps = class_aps(detections, truths, classes, COCO_THRESHOLDS)
    present = ~np.isnan(aps[0])
    if not present.any():
        return {"map50": float("nan"), "map": float("nan")}
    per_threshold = aps[:, present].mean(axis=1)
    return {"map50": float(per_threshold[0]), "map": float(per_threshold.mean())}


def gathered(
    all_gather: Callable[[Any], list[Any]], first: list[Any], second: list[Any]
) -> tuple[list[Any], list[Any]]:
    """Two lists of tensors (or of ``Detections``/``Truth``) joined over every process, in rank order: the meters'
    ``gather`` under torchrun (``all_gather`` sends one picklable value and returns every rank's)."""
    parts = all_gather(([x.cpu() for x in first], [y.cpu() for y in second]))
    return [x for xs, _ in parts for x in xs], [y for _, ys in parts for y in ys]


def map_metrics(found: list[Detections], truths: list[Truth], classes: int) -> dict[str, float]:
    """``val_map50`` and ``val_map`` of a validation set (NaN when it holds no image)."""
    if not found:
        return {"val_map50": float("nan"), "val_map": float("nan")}
    values = mean_average_precision(found, truths, classes)
    return {"val_map50": values["map50"], "val_map": values["map"]}
