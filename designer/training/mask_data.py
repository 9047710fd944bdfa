"""Segmentation data from files: a folder of images with same-named PNG masks (``masks:PATH``), and Pascal VOC's
segmentation set from a local root (``voc:ROOT``, read by torchvision's ``VOCSegmentation``).

A mask's pixel values are class ids (a palette PNG's indices, as VOC stores them; 0 the background, 255 ignored).
Images are resized to the design's size with antialiasing, masks with nearest neighbours, so that no new class ids
appear at the borders; augmentation moves the mask with the image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data import IMAGE_SUFFIXES, Broken, DataBundle, DataError, DataSpec, FileImages, channel_stats, split_indices
from .segmentation import IGNORE_INDEX
from .task_data import PairTransform

#: Pascal VOC's 20 object classes after the background, in the order of its class ids.
VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip


class MaskFiles(FileImages):
    """Image files with their mask files: ``samples`` pairs the image path with its index into ``masks``."""

    def __init__(
        self,
        pairs: list[tuple[str, str]],
        channels: int,
        size: tuple[int, int],
        transform: PairTransform | None = None,
    ) -> None:
        super().__init__([(image, i) for i, (image, _) in enumerate(pairs)], channels, size)
        self.masks = [mask for _, mask in pairs]
        self.pair_transform = transform

    def __getitem__(self, i: int) -> Any:
        from torchvision.transforms.v2 import InterpolationMode
        from torchvision.transforms.v2 import functional as F

        image = super().__getitem__(i)
        if isinstance(image, Broken):
            return image
        try:
            mask = read_mask(self.masks[i])
        except (OSError, ValueError, SyntaxError) as exc:
            return Broken(self.masks[i], str(exc) or type(exc).__name__)
        # Nearest-neighbour resizing of uint8 ids (class ids fit a PNG's 8 bits; torch has no nearest for int64).
        mask = F.resize(mask[None].to(torch.uint8), list(self.size), interpolation=InterpolationMode.NEAREST)[0]
        mask = mask.long()
        img = image[0]
        return self.pair_transform(img, mask) if self.pair_transform else (img, mask)


def read_mask(path: str) -> torch.Tensor:
    """The class ids of a mask image ``[H, W]`` int64: a palette PNG's indices, or a greyscale image's values."""
    from PIL import Image

    with Image.open(path) as im:
        values = np.asarray(im if im.mode in ("P", "L", "I", "I;16") else im.convert("L"))
    return torch.from_numpy(values.astype(np.int64))


def folder_pairs(root: Path) -> list[tuple[str, str]]:
    """``(image, mask)`` paths of ``root/images/NAME.*`` and ``root/masks/NAME.png``; an image without a mask is an
    error that names it."""
    images, masks = root / "images", root / "masks"
    if not images.is_dir() or not masks.is_dir():
        raise DataError(
            "data.missing",
            f"{root} needs an images/ and a masks/ folder",
            "put each image in ROOT/images and its class-id PNG, of the same name, in ROOT/masks",
        )
    files = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError("data.empty", f"no image files under {images}")
    missing = [p for p in files if not (masks / f"{p.stem}.png").is_file()]
    if missing:
        raise DataError(
            "data.missing_mask",
            f"image {missing[0]} has no mask {masks / missing[0].stem}.png",
            "every image needs a PNG of the same name in masks/",
        )
    return [(str(p), str(masks / f"{p.stem}.png")) for p in files]


def folder_classes(root: Path, pairs: list[tuple[str, str]]) -> list[str]:
    """``root/classes.txt`` (one name a line, the background first), else ``background``, ``class1``... up to the
    largest id in the masks."""
    listed = root / "classes.txt"
    if listed.is_file():
        names = [line.strip() for line in listed.read_text(encoding="utf-8").splitlines() if line.strip()]
        if len(names) >= 2:
            return names
    top = max(int(m[m != IGNORE_INDEX].max(initial=0)) for m in (read_mask(mask).numpy() for _, mask in pairs))
    return ["background", *(f"class{k}" for k in range(1, max(top, 1) + 1))]


def voc_pairs(root: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Training and validation ``(image, mask)`` paths of VOC 2012's segmentation set under ``root``."""
    from torchvision.datasets import VOCSegmentation

    try:
        sets = [VOCSegmentation(root, year="2012", image_set=split, download=False) for split in ("train", "val")]
    except RuntimeError as exc:
        raise DataError(
            "data.missing", f"VOC 2012 not found under {root}: {exc}", "pass the folder that holds VOCdevkit"
        ) from None
    train, val = ([(str(i), str(m)) for i, m in zip(s.images, s.masks)] for s in sets)
    return train, val


def mask_bundle(
    spec: DataSpec,
    channels: int,
    size: tuple[int, int],
    aug: PairTransform | None,
    val_split: float,
    seed: int,
    normalize: str,
) -> DataBundle:
    """The bundle of a ``masks:PATH`` folder or a ``voc:ROOT``."""
    if channels not in (1, 3):
        raise DataError("data.channels_mismatch", f"image files give 1 or 3 channels, not {channels}")
    if spec.kind == "voc":
        train_p, val_p = voc_pairs(spec.root)
        classes = list(VOC_CLASSES)
    else:
        root = Path(spec.root)
        pairs = folder_pairs(root)
        classes = folder_classes(root, pairs)
        train_i, val_i = split_indices(len(pairs), val_split, seed)
        train_p, val_p = [pairs[i] for i in train_i], [pairs[i] for i in val_i]
    mean, std = channel_stats(torch.empty(0, channels), "imagenet" if normalize == "auto" else normalize)
    notes = [f"images converted to {'grayscale' if channels == 1 else 'RGB'} and resized to {size}, masks likewise"]
    val = MaskFiles(val_p, channels, size) if val_p else None
    return DataBundle(MaskFiles(train_p, channels, size, aug), val, classes, mean, std, spec, notes)
