"""Fast R-CNN's proposals and their targets: a fixed grid of boxes, jittered truth, IoU labels, fg/bg sampling, deltas.

The paper (Girshick, 2015) took about 2,000 selective-search proposals per image. This teaching stand-in needs no
image analysis:

- at evaluation, every image gets the same ``grid_proposals``: sliding windows of two sizes (3/16 and 5/16 of the
  shorter side: 12 and 20 pixels on the 64x64 scenes) in three aspect ratios (1:2, 1:1, 2:1), a step of 40 % of the
  size apart. Built without the truth, so the mAP measured on them is what the network finds (on the shapes scenes
  99.5 % of the objects have a grid box at IoU >= 0.5: the recall that bounds the figure);
- in training, each image's ground-truth boxes, ``JITTERS`` randomly shifted and scaled copies of each, and the grid
  are labelled by their best IoU with the truth (``torchvision.ops.box_iou``): the object's class (1-based) at
  IoU >= 0.5, the background (0) below, and ``rois`` of them are sampled with at most a quarter foreground (the
  paper's 25 %), the rest background.

Regression targets are R-CNN's deltas (tx, ty, tw, th) of a proposal to its matched box, divided by
``DELTA_STD`` = (0.1, 0.1, 0.2, 0.2) as torchvision's Faster R-CNN (its ``BoxCoder`` weights 10, 10, 5, 5) does.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchvision.ops import box_iou

#: Sliding-window sides as fractions of the image's shorter side, width:height ratios, and the step per side.
GRID_SIZES, GRID_RATIOS, GRID_STEP = (0.1875, 0.3125), (0.5, 1.0, 2.0), 0.4
#: A proposal is an object's (foreground) at this IoU with it or more, background below.
FG_IOU = 0.5
#: The most of a training image's sampled RoIs that are foreground.
FG_FRACTION = 0.25
#: Jittered copies of each true box among the training candidates; shift (of the side) and log-scale ranges.
JITTERS, JITTER_SHIFT, JITTER_SCALE = 8, 0.25, 0.3
DELTA_STD = (0.1, 0.1, 0.2, 0.2)
#: Widest log-scale a decoded delta may apply (torchvision's ``log(1000 / 16)``), so exp() cannot overflow.
MAX_LOG_SCALE = math.log(1000.0 / 16)


def grid_proposals(image_size: tuple[int, int], device: torch.device | None = None) -> Tensor:
    """The fixed proposals of every image ``[P, 4]`` (x1, y1, x2, y2 in input pixels), inside the image."""
    h, w = image_size
    side = min(h, w)
    boxes = []
    for fraction in GRID_SIZES:
        size = fraction * side
        for ratio in GRID_RATIOS:
            bw, bh = min(size * math.sqrt(ratio), w), min(size / math.sqrt(ratio), h)
            ys, xs = _starts(h - bh, GRID_STEP * size), _starts(w - bw, GRID_STEP * size)
            y, x = torch.meshgrid(ys, xs, indexing="ij")
            boxes.append(torch.stack([x, y, x + bw, y + bh], dim=-1).reshape(-1, 4))
    return torch.cat(boxes).to(device)


def _starts(span: float, step: float) -> Tensor:
    """Evenly spaced window starts from 0 to ``span``, at most ``step`` apart."""
    return torch.linspace(0.0, span, math.ceil(span / step) + 1 if span > 0 else 1)


def jitter(boxes: Tensor, copies: int, image_size: tuple[int, int]) -> Tensor:
    """``copies`` randomly shifted and scaled copies of each box ``[G * copies, 4]``, clipped to the image."""
    if not len(boxes):
        return boxes.new_zeros(0, 4)
    size = (boxes[:, 2:] - boxes[:, :2])[:, None].expand(-1, copies, 2)
    centre = (boxes[:, :2] + boxes[:, 2:])[:, None] / 2 + (torch.rand_like(size) * 2 - 1) * JITTER_SHIFT * size
    half = size * torch.exp((torch.rand_like(size) * 2 - 1) * JITTER_SCALE) / 2
    moved = torch.cat([centre - half, centre + half], dim=-1).reshape(-1, 4)
    return clip(moved, image_size)


def clip(boxes: Tensor, image_size: tuple[int, int]) -> Tensor:
    """Boxes ``[..., 4]`` clipped to the image."""
    h, w = image_size
    limit = boxes.new_tensor([w, h, w, h])
    return torch.minimum(boxes.clamp_min(0), limit)


def label_proposals(proposals: Tensor, boxes: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Each proposal's class (``label + 1`` of its best-overlapping true box at IoU >= 0.5, else 0, the background)
    and that box ``[P, 4]`` (zeros for an image without objects)."""
    if not len(boxes):
        return proposals.new_zeros(len(proposals), dtype=torch.long), torch.zeros_like(proposals)
    best, match = _best(box_iou(boxes, proposals))
    classes = torch.where(best >= FG_IOU, labels[match] + 1, 0)
    return classes, boxes[match]


def _best(iou: Tensor) -> tuple[Tensor, Tensor]:
    """``iou.max(dim=0)`` of a ``[G, P]`` matrix, row by row: a torch reduction starts its thread pool, which took
    15 ms a call on 2 busy cores (once per image and step), while G element-wise maxima take microseconds."""
    best, match = iou[0], torch.zeros(iou.shape[1], dtype=torch.long, device=iou.device)
    for g in range(1, len(iou)):
        better = iou[g] > best
        best, match = torch.where(better, iou[g], best), torch.where(better, g, match)
    return best, match


def sample_rois(
    boxes: Tensor, labels: Tensor, grid: Tensor, count: int, image_size: tuple[int, int]
) -> tuple[Tensor, Tensor, Tensor]:
    """One training image's ``count`` RoIs ``[count, 4]``, their classes and matched true boxes.

    Candidates are the true boxes, ``JITTERS`` jittered copies of each and the grid; at most ``FG_FRACTION`` of
    ``count`` are drawn from the foreground ones, the rest from the background (with repeats only when too few).
    """
    candidates = torch.cat([boxes, jitter(boxes, JITTERS, image_size), grid])
    classes, matched = label_proposals(candidates, boxes, labels)
    fg, bg = torch.nonzero(classes > 0).flatten(), torch.nonzero(classes == 0).flatten()
    fg = _draw(fg, min(len(fg), round(FG_FRACTION * count)))
    bg = _draw(bg, count - len(fg))
    keep = torch.cat([fg, bg, _draw(fg, count - len(fg) - len(bg))])  # all foreground: only when there is no ground
    return candidates[keep], classes[keep], matched[keep]


def _draw(index: Tensor, k: int) -> Tensor:
    """``k`` entries of ``index`` at random: without repeats when it has enough, with them when it has fewer."""
    if k <= 0 or not len(index):
        return index[:0]
    if len(index) >= k:
        return index[torch.randperm(len(index), device=index.device)[:k]]
    return index[torch.randint(len(index), (k,), device=index.device)]


def encode_deltas(proposals: Tensor, boxes: Tensor) -> Tensor:
    """The normalised deltas ``[R, 4]`` that move each proposal onto its box (R-CNN's tx, ty, tw, th / DELTA_STD)."""
    pw, ph, px, py = _centres(proposals)
    bw, bh, bx, by = _centres(boxes)
    pw, ph = pw.clamp_min(1e-6), ph.clamp_min(1e-6)
    deltas = torch.stack(
        [(bx - px) / pw, (by - py) / ph, torch.log(bw.clamp_min(1e-6) / pw), torch.log(bh.clamp_min(1e-6) / ph)],
        dim=-1,
    )
    return deltas / deltas.new_tensor(DELTA_STD)


def decode_deltas(proposals: Tensor, deltas: Tensor) -> Tensor:
    """Boxes ``[R, K, 4]`` from proposals ``[R, 4]`` and K normalised deltas each ``[R, K, 4]`` (encode's inverse)."""
    pw, ph, px, py = (v[:, None] for v in _centres(proposals))
    d = deltas * deltas.new_tensor(DELTA_STD)
    cx, cy = px + d[..., 0] * pw, py + d[..., 1] * ph
    half_w = torch.exp(d[..., 2].clamp_max(MAX_LOG_SCALE)) * pw / 2
    half_h = torch.exp(d[..., 3].clamp_max(MAX_LOG_SCALE)) * ph / 2
    return torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dim=-1)


def _centres(boxes: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return w, h, boxes[:, 0] + w / 2, boxes[:, 1] + h / 2
