"""Data for segmentation and detection: the shapes dataset's masks and boxes, from the same seed as its images.

Targets are tensors (see ``designer.training.tasks``): a class id per pixel ``[H, W]`` int64 (0 the background, 255
ignored), or boxes ``[K, 5]`` float32 rows ``(label, x1, y1, x2, y2)`` in input pixels, padded with label -1 rows.
Augmentations move a mask or the boxes with the image (torchvision transforms v2 with ``tv_tensors``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from . import detection_data
from .data import (
    Augment,
    DataBundle,
    DataError,
    DataSpec,
    build_augment,
    channel_stats,
    parse_spec,
    split_indices,
)
from .datasets import Stacked, TensorImages
from .segmentation import IGNORE_INDEX
from .shapes import SHAPE_CLASSES, ShapeTargets, make_scenes, make_shape_targets

#: The built-in dataset of several shapes per image (segmentation and detection only).
SCENES = "shapes-scenes"
#: Segmentation data read from files: ``masks:PATH`` (images/ and same-named PNG masks/) and ``voc:ROOT`` (whose
#: detection boxes ``detection_data`` reads).
FILE_KINDS = ("masks", "voc")
#: The class name of pixels no object covers (class 0 of every segmentation dataset here).
BACKGROUND = "background"


def parse_task_spec(text: str) -> DataSpec:
    """A ``--data`` value for segmentation or detection: ``shapes-scenes[:N]`` besides what ``parse_spec`` reads."""
    kind, _, root = text.partition(":")
    kind = kind.strip().lower().replace("_", "-")
    files = detection_data.parse_kind(kind, root)  # voc, coco
    if files is not None:
        return files
    if kind in FILE_KINDS:
        if not root.strip():
            raise DataError("data.bad_spec", f"dataset {kind!r} needs a folder: {kind}:PATH")
        return DataSpec(kind, root)
    if kind != SCENES:
        return parse_spec(text)
    root = root.strip()
    if root and not (root.isdigit() and 2 <= int(root) <= len(SHAPE_CLASSES)):
        raise DataError(
            "data.bad_spec",
            f"{SCENES}:{root}: the built-in dataset has 2 to {len(SHAPE_CLASSES)} classes",
            f"use {SCENES} (all ten) or {SCENES}:N for its first N classes",
        )
    return DataSpec(SCENES, root)


#: A random transform of an image and its target together.
PairTransform = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class TargetImages(TensorImages):
    """Images held in memory as uint8 ``(N, C, H, W)`` with one target tensor per image (a mask or boxes)."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, transform: PairTransform | None = None):
        super().__init__(images, targets)
        self.pair_transform = transform

    def __getitem__(self, i: int) -> Any:
        img, target = self.images[i], self.labels[i]
        return self.pair_transform(img, target) if self.pair_transform else (img, target)

    def __getitems__(self, indices: Sequence[int]) -> Any:
        if self.pair_transform is None:
            idx = torch.as_tensor(indices, dtype=torch.long)
            return Stacked(self.images[idx], self.labels[idx])
        pairs = [self[i] for i in indices]
        return Stacked(torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs]))


def pair_augment(aug: Augment, size: tuple[int, int], channels: int, task: str) -> PairTransform | None:
    """The v2 pipeline of ``aug`` applied to an image and its mask (nearest-neighbour) or boxes alike."""
    ops = build_augment(aug, size, channels)
    if ops is None:
        return None
    return (
        (lambda img, t: _moved_mask(ops, img, t))
        if task == "segmentation"
        else (lambda img, t: _moved_boxes(ops, img, t))
    )


def _moved_mask(ops: Callable[..., Any], img: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision import tv_tensors

    out, moved = ops(img, tv_tensors.Mask(mask))
    return out, moved.as_subclass(torch.Tensor)


def _moved_boxes(ops: Callable[..., Any], img: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision import tv_tensors
    from torchvision.transforms.v2 import functional as F

    h, w = img.shape[-2:]
    boxes = tv_tensors.BoundingBoxes(rows[:, 1:], format="XYXY", canvas_size=(h, w))
    out, moved = ops(img, boxes)
    moved = F.clamp_bounding_boxes(moved).as_subclass(torch.Tensor)
    rows = torch.cat([rows[:, :1], moved], dim=1)
    gone = (rows[:, 0] < 0) | (moved[:, 2] <= moved[:, 0]) | (moved[:, 3] <= moved[:, 1])  # padding, or pushed out
    rows[gone] = torch.tensor([-1.0, 0.0, 0.0, 0.0, 0.0])
    return out, rows


def padded_boxes(boxes: np.ndarray, labels: np.ndarray) -> torch.Tensor:
    """``(N, K, 5)`` rows ``(label, x1, y1, x2, y2)`` from ``(N, K', 4)`` boxes and ``(N, K')`` labels (-1: none):
    each image's boxes first, K the most any image has."""
    order = np.argsort(labels < 0, axis=1, kind="stable")  # real boxes before the empty slots, in their order
    labels = np.take_along_axis(labels, order, axis=1)
    boxes = np.take_along_axis(boxes, order[..., None], axis=1)
    k = max(1, int((labels >= 0).sum(axis=1).max(initial=0)))
    rows = np.concatenate([labels[:, :k, None].astype(np.float32), boxes[:, :k]], axis=2)
    rows[labels[:, :k] < 0] = (-1, 0, 0, 0, 0)
    return torch.from_numpy(np.ascontiguousarray(rows))


def load_task_data(
    task: str,
    spec: DataSpec | str,
    input_shape: Sequence[int],
    *,
    val_split: float = 0.1,
    augment: Augment | None = None,
    seed: int = 0,
    samples: int = 10_000,
    normalize: str = "auto",
) -> DataBundle:
    """Images with the targets of ``task`` (``segmentation`` or ``detection``) for a design whose Input is
    ``input_shape`` = ``(C, H, W)``.

    Raises:
        DataError: the dataset is unknown for the task, or cannot feed the design.
    """
    spec = parse_task_spec(spec) if isinstance(spec, str) else spec
    if len(input_shape) != 3:
        raise DataError("data.input_rank", f"the design's Input has shape {list(input_shape)}; {task} needs images")
    channels, size = int(input_shape[0]), (int(input_shape[1]), int(input_shape[2]))
    aug = pair_augment(augment or Augment(), size, channels, task)
    if task == "detection" and spec.kind in detection_data.KINDS:
        return detection_data.load_box_files(spec, channels, size, val_split, seed, normalize, aug)
    if task == "segmentation" and spec.kind in FILE_KINDS:
        from .mask_data import mask_bundle

        return mask_bundle(spec, channels, size, aug, val_split, seed, normalize)
    if spec.kind not in ("shapes", SCENES):
        raise DataError(
            "data.task_mismatch",
            f"dataset {spec} has no {'masks' if task == 'segmentation' else 'boxes'} for {task}",
            f"use shapes or {SCENES} (built in)" + (", masks:PATH or voc:ROOT" if task == "segmentation" else ""),
        )
    if channels not in (1, 3):
        raise DataError("data.channels_mismatch", f"the shapes datasets have 1 or 3 channels, not {channels}")
    k = int(spec.root) if spec.root else len(SHAPE_CLASSES)
    drawn = _draw(spec.kind, samples, size, channels, seed, k)
    images = torch.from_numpy(drawn.images)
    if task == "segmentation":
        targets, classes = torch.from_numpy(drawn.masks).long(), [BACKGROUND, *SHAPE_CLASSES[:k]]
    else:
        targets, classes = padded_boxes(drawn.boxes, drawn.box_labels), list(SHAPE_CLASSES[:k])
    train_idx, val_idx = split_indices(len(images), val_split, seed)
    mean, std = channel_stats(images[train_idx[:2000]], normalize)
    train = TargetImages(images[train_idx], targets[train_idx], aug)
    val = TargetImages(images[val_idx], targets[val_idx]) if len(val_idx) else None
    return DataBundle(train, val, classes, mean, std, spec, [])


def _draw(kind: str, n: int, size: tuple[int, int], channels: int, seed: int, classes: int) -> ShapeTargets:
    if kind == SCENES:
        return make_scenes(n, size, channels, seed, classes)
    return make_shape_targets(n, size, channels, seed, classes)


__all__ = ["BACKGROUND", "IGNORE_INDEX", "SCENES", "TargetImages", "load_task_data", "parse_task_spec"]
