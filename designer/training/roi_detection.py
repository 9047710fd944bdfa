"""Fast R-CNN (Girshick, 2015) as a teaching design: the training task of ``detection: {"head": "roi"}``.

The design takes the image and the proposals ``[R, 5]`` (batch index, x1, y1, x2, y2 in input pixels) and gives per
RoI the class scores ``[C + 1]`` (0 the background) and box deltas ``[4 * C]`` (a box per class, the paper's) or
``[4]`` (one for every class). The task's ``forward`` makes the proposals (``roi_proposals``: sampled around the truth
in training, the fixed grid in evaluation) and calls the model with them, so the engine's loop, validation and
metrics stay those of every task.

The loss is the paper's multi-task loss: cross-entropy over the sampled RoIs plus smooth L1 (transition at 1) on the
deltas of each foreground RoI's true class, divided by the number of RoIs (lambda = 1). Detection decodes each class's
box from its deltas, drops scores under 0.05 (torchvision's threshold) and keeps what ``torchvision.ops.batched_nms``
keeps per image and class at IoU 0.5; mAP is ``detection_metrics``', as for the grid head.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.ops import batched_nms

from .config import HEADLINES, ROI_DEFAULTS, TASK_METRICS
from .detection_metrics import Detections, Truth, gathered, map_metrics
from .roi_proposals import clip, decode_deltas, encode_deltas, grid_proposals, label_proposals, sample_rois

SCORE_THRESHOLD, NMS_IOU, MAX_DETECTIONS, PRE_NMS = 0.05, 0.5, 100, 1000


@dataclass(frozen=True)
class RoIBatch:
    """A batch's RoIs ``[R, 5]`` (batch index, x1, y1, x2, y2), their classes ``[R]`` (0 the background) and the
    normalised deltas to their matched true boxes ``[R, 4]``."""

    rois: Tensor
    classes: Tensor
    deltas: Tensor
    #: The RoIs of each image, which come in image order.
    counts: tuple[int, ...]

    @property
    def images(self) -> int:
        return len(self.counts)

    @property
    def image_index(self) -> Tensor:
        return self.rois[:, 0].long()


@dataclass(frozen=True)
class RoIOutput:
    """The model's two outputs for a batch's RoIs, with the RoIs themselves."""

    scores: Tensor
    deltas: Tensor
    batch: RoIBatch


def class_deltas(deltas: Tensor, classes: Tensor) -> Tensor:
    """Each RoI's deltas for its class ``[R, 4]``: the class's four of ``[R, 4 * C]``, or the only four of ``[R, 4]``
    (a background RoI, class 0, reads class 1's: the loss leaves it out)."""
    if deltas.shape[1] == 4:
        return deltas
    per_class = deltas.view(len(deltas), -1, 4)
    return per_class[torch.arange(len(deltas), device=deltas.device), (classes - 1).clamp_min(0)]


def fast_rcnn_loss(out: RoIOutput) -> Tensor:
    """Cross-entropy over the RoIs plus smooth L1 on the true class's deltas of the foreground RoIs, over R."""
    b = out.batch
    cls = nn.functional.cross_entropy(out.scores.float(), b.classes)
    pred = class_deltas(out.deltas.float(), b.classes)
    box = nn.functional.smooth_l1_loss(pred, b.deltas, beta=1.0, reduction="none").sum(dim=1)
    return cls + (box * (b.classes > 0)).sum() / len(b.classes)


def roi_hits(out: RoIOutput) -> Tensor:
    """Per image, the share of its RoIs classified right ``[N]``: the running score of the training curves."""
    b = out.batch
    right = (out.scores.argmax(dim=1) == b.classes).double()
    index = b.image_index
    hits = torch.zeros(b.images, dtype=right.dtype, device=right.device).index_add_(0, index, right)
    counts = torch.zeros_like(hits).index_add_(0, index, torch.ones_like(right))
    return hits / counts.clamp_min(1)


def decode(out: RoIOutput, image_size: tuple[int, int]) -> list[Detections]:
    """Each image's boxes (pixels, clipped), scores and labels (0-based classes) after per-class NMS.

    Each RoI gives a box per class; those scoring over ``SCORE_THRESHOLD`` (the best ``PRE_NMS`` of an image, so that
    an untrained model's near-uniform scores cost NMS no more) go through ``batched_nms`` per class.
    """
    b = out.batch
    probs = out.scores.float().softmax(dim=1)[:, 1:]
    r, c = probs.shape
    deltas = out.deltas.float().view(r, -1, 4).expand(r, c, 4)  # [R, 4] serves every class
    boxes = clip(decode_deltas(b.rois[:, 1:].float(), deltas), image_size)
    sized = (boxes[..., 2] - boxes[..., 0] > 1e-2) & (boxes[..., 3] - boxes[..., 1] > 1e-2)
    probs = torch.where(sized, probs, 0.0)
    found, start = [], 0
    for count in b.counts:
        scores, labels = probs[start : start + count].flatten(), torch.arange(c, device=probs.device).repeat(count)
        mine = boxes[start : start + count].reshape(-1, 4)
        start += count
        top = torch.topk(scores, min(PRE_NMS, len(scores))).indices
        top = top[scores[top] > SCORE_THRESHOLD]
        kept = top[batched_nms(mine[top], scores[top], labels[top], NMS_IOU)][:MAX_DETECTIONS]
        found.append(Detections(mine[kept], scores[kept], labels[kept]))
    return found


@dataclass
class RoIMeter:
    """Decodes each validation batch as it comes and computes mAP over them all at the end."""

    task: RoIDetectionTask
    found: list[Detections] = field(default_factory=list)
    truths: list[Truth] = field(default_factory=list)

    def update(self, out: RoIOutput, target: Tensor) -> None:
        self.found += decode(out, self.task.image_size)
        self.truths += [Truth.from_padded(rows) for rows in target]

    def gather(self, all_gather: Callable[[Any], list[Any]]) -> None:
        """Hold every process's detections and truths (see ``detection_metrics.gathered``)."""
        self.found, self.truths = gathered(all_gather, self.found, self.truths)

    def compute(self) -> dict[str, float]:
        return map_metrics(self.found, self.truths, self.task.classes)


@dataclass
class RoIDetectionTask:
    """Fast R-CNN's task: proposals made for the model, the multi-task loss, RoI accuracy, mAP on validation."""

    classes: int
    image_size: tuple[int, int]
    rois: int = ROI_DEFAULTS["rois"]
    name: str = "detection"
    headline: str = HEADLINES["detection"]
    metric_names: tuple[str, ...] = TASK_METRICS["detection"]

    def forward(self, model: nn.Module, x: Tensor, target: Tensor) -> RoIOutput:
        """The model's scores and deltas for the batch's proposals: sampled from ``target`` while the model trains,
        the fixed grid when it evaluates (the truth then only labels them, for the validation loss)."""
        grid = grid_proposals(self.image_size, x.device)
        parts = []
        for rows in target:
            truth = Truth.from_padded(rows)
            if model.training:
                parts.append(sample_rois(truth.boxes, truth.labels, grid, self.rois, self.image_size))
            else:
                parts.append((grid, *label_proposals(grid, truth.boxes, truth.labels)))
        return _run(model, x, parts)

    def loss(self, out: RoIOutput, target: Tensor) -> Tensor:
        return fast_rcnn_loss(out)

    def train_score(self, out: RoIOutput, target: Tensor) -> Tensor:
        with torch.no_grad():
            return roi_hits(out).sum()

    def meter(self) -> RoIMeter:
        return RoIMeter(self)

    def predict(self, model: nn.Module, x: Tensor) -> list[Detections]:
        """Boxes, scores and labels per image: the model on the grid proposals, decoded with NMS."""
        return decode(self.on_grid(model, x), self.image_size)

    def on_grid(self, model: nn.Module, x: Tensor) -> RoIOutput:
        """The model's outputs for every image's grid proposals (unlabelled: no truth is needed)."""
        grid = grid_proposals(self.image_size, x.device)
        unlabelled = (grid, grid.new_zeros(len(grid), dtype=torch.long), grid)
        return _run(model, x, [unlabelled] * len(x))


def _run(model: nn.Module, x: Tensor, parts: list[tuple[Tensor, Tensor, Tensor]]) -> RoIOutput:
    """The model on each image's (proposals, classes, matched boxes), the proposals as one ``[R, 5]`` batch."""
    boxes, classes, matched = (torch.cat(p) for p in zip(*parts, strict=True))
    counts = tuple(len(p[0]) for p in parts)
    index = torch.repeat_interleave(torch.arange(len(parts), device=x.device), torch.tensor(counts, device=x.device))
    rois = torch.cat([index[:, None].to(boxes.dtype), boxes], dim=1)
    scores, deltas = model(x, rois)
    return RoIOutput(scores, deltas, RoIBatch(rois, classes, encode_deltas(boxes, matched), counts))
