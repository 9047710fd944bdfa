"""Predictions drawn over their image: class masks (segmentation) and labelled boxes (detection).

The drawing is torchvision's (``draw_segmentation_masks``, ``draw_bounding_boxes``); this module chooses colours that
stay the same for a class everywhere (class 0, the background, is left undrawn), enlarges small images first so box
labels stay readable, and lays a prediction beside its ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..palette import colour

#: Pixels of a mask that no class claims (the ignore index of the segmentation loss).
IGNORE = 255


def class_colour(k: int) -> tuple[int, int, int]:
    """The colour of foreground class ``k`` (k >= 1); class 1 takes the palette's first colour."""
    return colour(k - 1)


def _chw(base: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` floats in [0, 1] or uint8 as the uint8 ``(3, H, W)`` tensor torchvision draws on."""
    a = np.asarray(base)
    if a.dtype != np.uint8:
        a = (np.clip(np.nan_to_num(a, nan=1.0), 0, 1) * 255).round().astype(np.uint8)
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


def _hwc(img: torch.Tensor) -> np.ndarray:
    out: np.ndarray = img.permute(1, 2, 0).contiguous().numpy()
    return out


def enlarge(base: np.ndarray, factor: int) -> np.ndarray:
    """Repeat pixels ``factor`` times each way (boxes and masks drawn afterwards are scaled to match)."""
    return base if factor <= 1 else base.repeat(factor, axis=0).repeat(factor, axis=1)


def draw_mask(base: np.ndarray, mask: Any, classes: int, alpha: float = 0.5) -> np.ndarray:
    """Each foreground class of ``mask`` (``(h, w)`` class ids) tinted in its colour over ``base`` (``(H, W, 3)``).

    ``base`` may be ``mask`` enlarged by a whole factor; ignored pixels (255) and the background stay as they are.
    """
    img = _chw(base)
    m = torch.as_tensor(np.asarray(mask)).long()
    factor = img.shape[1] // m.shape[0]
    if factor > 1:
        m = m.repeat_interleave(factor, 0).repeat_interleave(factor, 1)
    present = [k for k in range(1, classes) if bool((m == k).any())]
    if not present:
        return _hwc(img)
    from torchvision.utils import draw_segmentation_masks

    masks = torch.stack([m == k for k in present])
    drawn = draw_segmentation_masks(img, masks, alpha=alpha, colors=[class_colour(k) for k in present])
    return _hwc(drawn)


def draw_boxes(
    base: np.ndarray,
    boxes: Any,
    labels: Sequence[int],
    names: Sequence[str],
    scores: Sequence[float] | None = None,
    scale: float = 1.0,
) -> np.ndarray:
    """Boxes ``(K, 4)`` (x1, y1, x2, y2 in input pixels) in their class colour, labelled with the class name (and
    score), over ``base`` enlarged ``scale`` times from the input."""
    img = _chw(base)
    b = torch.as_tensor(np.asarray(boxes, dtype=np.float32)).reshape(-1, 4) * scale
    if not len(b):
        return _hwc(img)
    from torchvision.utils import draw_bounding_boxes

    texts = [names[k] if 0 <= k < len(names) else str(k) for k in labels]
    if scores is not None:
        texts = [f"{t} {s:.2f}" for t, s in zip(texts, scores, strict=True)]
    colours = [class_colour(int(k) + 1) for k in labels]  # detection labels have no background class
    width = max(1, round(scale))
    return _hwc(draw_bounding_boxes(img, b, labels=texts, colors=colours, width=width))


def side_by_side(pictures: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Pictures of equal height in a row, with white gaps between them."""
    h = max(p.shape[0] for p in pictures)
    parts: list[np.ndarray] = []
    for k, p in enumerate(pictures):
        if k:
            parts.append(np.full((h, gap, 3), 255, dtype=np.uint8))
        pad = np.full((h - p.shape[0], p.shape[1], 3), 255, dtype=np.uint8)
        parts.append(np.concatenate([p, pad]) if len(pad) else p)
    return np.concatenate(parts, axis=1)
