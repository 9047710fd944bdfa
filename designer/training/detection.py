"""YOLO v1 style detection (Redmon et al., 2016): grid targets, the loss, decoding with NMS, and the training task.

The head is ``[N, B*5 + C, S, S]``: for each of the S x S cells, B boxes of (x, y, w, h, confidence) then C class
scores. x and y place the box centre inside its cell, w and h are relative to the image, all four and the confidence
through a sigmoid, the classes through a softmax (the paper's head is linear; squashing lets any convolution be the
head without exploding early losses). Targets are padded rows (label, x1, y1, x2, y2) in input pixels, label -1 for
padding (the tasks' contract); the first object whose centre falls in a cell is that cell's object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torchvision.ops import batched_nms

from .config import HEADLINES, TASK_METRICS
from .detection_metrics import Detections, Truth, gathered, map_metrics

LAMBDA_COORD, LAMBDA_NOOBJ = 5.0, 0.5
#: What ``decode`` keeps (and ``DetectionPredictor`` with it, which must find the same boxes): scores above this,
#: per-class NMS at this IoU, at most this many boxes an image.
SCORE_THRESHOLD, NMS_IOU, MAX_DETECTIONS = 0.01, 0.5, 100


@dataclass(frozen=True)
class GridTargets:
    """What each cell must predict: ``obj`` ``[N, S, S]`` bool, ``box`` ``[N, S, S, 4]`` (x, y in the cell, w, h of
    the image, all in [0, 1]) and ``cls`` ``[N, S, S]`` class ids (0 where no object)."""

    obj: Tensor
    box: Tensor
    cls: Tensor


def encode(target: Tensor, grid: int, image_size: tuple[int, int]) -> GridTargets:
    """Grid targets from padded boxes ``[N, K, 5]``: each object goes to the cell holding its centre."""
    n, k = target.shape[:2]
    h, w = image_size
    label = target[..., 0].long()
    x1, y1, x2, y2 = target[..., 1:5].float().unbind(-1)
    cx, cy = (x1 + x2) / (2 * w), (y1 + y2) / (2 * h)
    col = (cx * grid).floor().clamp(0, grid - 1)
    row = (cy * grid).floor().clamp(0, grid - 1)
    values = torch.stack([cx * grid - col, cy * grid - row, (x2 - x1) / w, (y2 - y1) / h], dim=-1)
    # padding rows go to a spare cell past the grid, dropped at the end: no boolean indexing, so no device sync
    cells = grid * grid
    index = torch.where(label >= 0, (row * grid + col).long(), cells)
    obj = torch.zeros(n, cells + 1, dtype=torch.bool, device=target.device)
    box = torch.zeros(n, cells + 1, 4, device=target.device)
    cls = torch.zeros(n, cells + 1, dtype=torch.long, device=target.device)
    for j in reversed(range(k)):  # the first object of a cell is written last, so it wins
        at = index[:, j : j + 1]
        obj.scatter_(1, at, (label[:, j : j + 1] >= 0))
        box.scatter_(1, at[..., None].expand(n, 1, 4), values[:, j : j + 1])
        cls.scatter_(1, at, label[:, j : j + 1].clamp_min(0))
    shape = (n, grid, grid)
    return GridTargets(obj[:, :cells].view(shape), box[:, :cells].view(*shape, 4), cls[:, :cells].view(shape))


@dataclass(frozen=True)
class HeadOutput:
    """The head read as boxes: ``box`` ``[N, S, S, B, 4]`` (x, y in the cell, w, h of the image), ``conf``
    ``[N, S, S, B]`` and ``probs`` ``[N, S, S, C]``, all after their activations."""

    box: Tensor
    conf: Tensor
    probs: Tensor

    @classmethod
    def read(cls, out: Tensor, boxes: int) -> HeadOutput:
        n, _, s, _ = out.shape
        cells = out.float().permute(0, 2, 3, 1)
        raw = cells[..., : boxes * 5].reshape(n, s, s, boxes, 5).sigmoid()
        return cls(raw[..., :4], raw[..., 4], cells[..., boxes * 5 :].softmax(-1))

    def corners(self) -> Tensor:
        """Boxes as image-relative corners ``[N, S, S, B, 4]`` (x1, y1, x2, y2 in units of the image)."""
        return cell_corners(self.box)


def cell_corners(box: Tensor) -> Tensor:
    """Image-relative corners of cell boxes ``[N, S, S, B, 4]`` given as (x, y in the cell, w, h of the image)."""
    s = box.shape[1]
    steps = torch.arange(s, device=box.device, dtype=box.dtype)
    cx = (box[..., 0] + steps[None, None, :, None]) / s
    cy = (box[..., 1] + steps[None, :, None, None]) / s
    half_w, half_h = box[..., 2] / 2, box[..., 3] / 2
    return torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dim=-1)


def paired_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of each box in ``a`` with the box at the same place in ``b`` (broadcast), xyxy.

    ``torchvision.ops.box_iou`` compares every box with every other (an M x M matrix); the loss needs only the M
    pairs of a predictor and its cell's target, so this is its element-wise form (a test checks it against box_iou).
    """
    lt, rb = torch.maximum(a[..., :2], b[..., :2]), torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp_min(0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp_min(0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp_min(0).prod(-1)
    return inter / (area_a + area_b - inter).clamp_min(1e-12)


def yolo_loss(out: Tensor, target: Tensor, boxes: int, image_size: tuple[int, int]) -> Tensor:
    """The YOLO v1 sum-squared loss over the batch, divided by the batch size.

    5 x (x, y, sqrt w, sqrt h errors) and (confidence - IoU)^2 for the predictor responsible for an object (the one
    of the cell's B with the highest IoU), 0.5 x confidence^2 for every other predictor, and the squared error of the
    class probabilities in cells that hold an object.
    """
    head = HeadOutput.read(out, boxes)
    t = encode(target, out.shape[-1], image_size)
    iou = paired_iou(head.corners(), cell_corners(t.box[..., None, :])).detach()
    resp = torch.nn.functional.one_hot(iou.argmax(-1), boxes).bool() & t.obj[..., None]
    pred, want = head.box, t.box[..., None, :]
    centre = (pred[..., :2] - want[..., :2]).square().sum(-1)
    size = (pred[..., 2:].clamp_min(1e-6).sqrt() - want[..., 2:].sqrt()).square().sum(-1)
    coord = LAMBDA_COORD * ((centre + size) * resp).sum()
    conf = ((head.conf - iou).square() * resp).sum() + LAMBDA_NOOBJ * (head.conf.square() * ~resp).sum()
    onehot = torch.nn.functional.one_hot(t.cls, head.probs.shape[-1]).float()
    cls = ((head.probs - onehot).square().sum(-1) * t.obj).sum()
    return (coord + conf + cls) / out.shape[0]


def decode(
    out: Tensor,
    boxes: int,
    image_size: tuple[int, int],
    score_threshold: float = SCORE_THRESHOLD,
    iou_threshold: float = NMS_IOU,
    max_detections: int = MAX_DETECTIONS,
) -> list[Detections]:
    """Each image's boxes (pixels, clipped to the image), scores and labels after per-class NMS.

    A predictor's score is its confidence times its cell's best class probability (the paper's class-specific
    confidence); boxes under ``score_threshold`` are dropped before ``torchvision.ops.batched_nms``.
    """
    n = out.shape[0]
    corners, scores, labels = candidates(out, boxes, image_size)
    image = torch.arange(n, device=out.device)[:, None].expand_as(scores)
    keep = scores > score_threshold
    flat_boxes, flat_scores, flat_labels, flat_image = corners[keep], scores[keep], labels[keep], image[keep]
    classes = out.shape[1] - 5 * boxes
    kept = batched_nms(flat_boxes, flat_scores, flat_image * classes + flat_labels, iou_threshold)
    found: list[Detections] = []
    for i in range(n):
        mine = kept[flat_image[kept] == i][:max_detections]  # batched_nms returns indices by descending score
        found.append(Detections(flat_boxes[mine], flat_scores[mine], flat_labels[mine]))
    return found


def candidates(out: Tensor, boxes: int, image_size: tuple[int, int]) -> tuple[Tensor, Tensor, Tensor]:
    """Every predictor's box in pixels, clipped to the image ``[N, S*S*B, 4]`` (x1, y1, x2, y2), score (its
    confidence times its cell's best class probability) ``[N, S*S*B]`` and label (that class) ``[N, S*S*B]``."""
    head = HeadOutput.read(out, boxes)
    n = out.shape[0]
    h, w = image_size
    prob, label = head.probs.max(-1)
    scores = (head.conf * prob[..., None]).reshape(n, -1)
    labels = label[..., None].expand_as(head.conf).reshape(n, -1)
    scale = torch.tensor([w, h, w, h], device=out.device, dtype=scores.dtype)
    corners = (head.corners().reshape(n, -1, 4) * scale).clamp_min(0)
    return torch.minimum(corners, scale), scores, labels


def cell_hits(out: Tensor, target: Tensor, boxes: int, image_size: tuple[int, int]) -> Tensor:
    """Per image, the share of its objects whose cell names the right class and has a box with IoU >= 0.5 ``[N]``
    (1 for an image without objects): a cheap running score for the training curves, not a metric."""
    head = HeadOutput.read(out, boxes)
    t = encode(target, out.shape[-1], image_size)
    iou = paired_iou(head.corners(), cell_corners(t.box[..., None, :])).amax(-1)
    hit = t.obj & (head.probs.argmax(-1) == t.cls) & (iou >= 0.5)
    objects = t.obj.flatten(1).sum(1)
    return torch.where(objects > 0, hit.flatten(1).sum(1) / objects.clamp_min(1), 1.0)


@dataclass
class DetectionMeter:
    """Keeps the validation outputs and targets (on their device, no sync) and computes mAP at the end.

    mAP does not add up over parts of the data: under torchrun every rank ``gather``s the others' outputs and
    targets first, so each computes the mAP of the whole validation set.
    """

    task: DetectionTask
    outs: list[Tensor] = field(default_factory=list)
    targets: list[Tensor] = field(default_factory=list)

    def update(self, out: Tensor, target: Tensor) -> None:
        self.outs.append(out.detach().float())
        self.targets.append(target.detach())

    def gather(self, all_gather: Callable[[Any], list[Any]]) -> None:
        """Hold every process's outputs and targets (see ``detection_metrics.gathered``)."""
        self.outs, self.targets = gathered(all_gather, self.outs, self.targets)

    def compute(self) -> dict[str, float]:
        task = self.task
        found = decode(torch.cat(self.outs), task.boxes, task.image_size) if self.outs else []
        truths = [Truth.from_padded(rows) for t in self.targets for rows in t]
        return map_metrics(found, truths, task.classes)


@dataclass(frozen=True)
class DetectionTask:
    """The detection task of the tasks' contract: YOLO v1 loss, a cell-level running score, mAP on validation."""

    classes: int
    image_size: tuple[int, int]
    grid: int = 4
    boxes: int = 2
    name: str = "detection"
    headline: str = HEADLINES["detection"]
    metric_names: tuple[str, ...] = TASK_METRICS["detection"]

    @property
    def head_shape(self) -> tuple[int, int, int]:
        """The head's output shape without the batch: ``[B*5 + C, S, S]``."""
        return (self.boxes * 5 + self.classes, self.grid, self.grid)

    def loss(self, out: Tensor, target: Tensor) -> Tensor:
        return yolo_loss(out, target, self.boxes, self.image_size)

    def train_score(self, out: Tensor, target: Tensor) -> Tensor:
        with torch.no_grad():
            return cell_hits(out, target, self.boxes, self.image_size).sum()

    def meter(self) -> DetectionMeter:
        return DetectionMeter(self)

    def predict(self, out: Tensor) -> list[Detections]:
        """Boxes, scores and labels per image from the head's output (decode and NMS)."""
        return decode(out, self.boxes, self.image_size)
