"""Detection data from files: PASCAL VOC (``voc:ROOT``) and COCO-format JSON boxes (``coco:DIR``).

Each image is read with PIL, converted to the design's channels and resized to its Input size; its boxes are
``tv_tensors.BoundingBoxes`` resized with it (torchvision transforms v2) and returned as the tasks' padded rows
``(label, x1, y1, x2, y2)`` in input pixels, label -1 for padding, K the most boxes any image has.

VOC: ``torchvision.datasets.VOCDetection`` reads ``ROOT/VOCdevkit/VOC2012`` (``voc:ROOT`` or ``voc:ROOT:2007``);
its 1-based inclusive pixel corners become xyxy (``xmin - 1, ymin - 1, xmax, ymax``), and objects marked
``difficult`` are left out, as VOC's evaluation leaves them out. COCO: ``DIR/instances.json`` (``images``,
``annotations`` with ``bbox`` = x, y, w, h, ``categories``) and the images under ``DIR`` or ``DIR/images``; crowd
annotations are left out, and the categories, by id, become classes 0..C-1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from .data import Broken, DataBundle, DataError, DataSpec, channel_stats, split_indices

KINDS = ("voc", "coco")
VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
#: The padded row of "no box".
PAD_ROW = (-1.0, 0.0, 0.0, 0.0, 0.0)

#: An image and its padded rows moved together (the tasks' pair augmentation); None: no augmentation.
PairTransform = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class BoxedImage:
    """One image file and its boxes in the file's pixels: ``rows`` ``[(label, x1, y1, x2, y2), ...]``."""

    path: str
    rows: tuple[tuple[float, float, float, float, float], ...]


class BoxFiles(Dataset[tuple[torch.Tensor, torch.Tensor] | Broken]):
    """Image files with their boxes, read at the design's channels and size; unreadable files become ``Broken``."""

    def __init__(
        self, samples: list[BoxedImage], channels: int, size: tuple[int, int], k: int, transform: PairTransform | None
    ):
        self.samples, self.channels, self.size, self.k, self.transform = samples, channels, size, k, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor] | Broken:
        from PIL import Image
        from torchvision import tv_tensors
        from torchvision.transforms.v2 import functional as F

        sample = self.samples[i]
        try:
            with Image.open(sample.path) as im:
                img = F.pil_to_tensor(im.convert("L" if self.channels == 1 else "RGB"))
        except (OSError, ValueError, SyntaxError) as exc:  # PIL raises all three for truncated or foreign files
            return Broken(sample.path, str(exc) or type(exc).__name__)
        rows = torch.tensor(sample.rows, dtype=torch.float32).reshape(-1, 5)
        boxes = tv_tensors.BoundingBoxes(rows[:, 1:], format="XYXY", canvas_size=tuple(img.shape[-2:]))
        img, boxes = F.resize(img, list(self.size), antialias=True), F.resize(boxes, list(self.size))
        padded = torch.tensor([PAD_ROW] * self.k)
        padded[: len(rows)] = torch.cat([rows[:, :1], boxes.as_subclass(torch.Tensor)], dim=1)
        return self.transform(img, padded) if self.transform else (img, padded)


def parse_kind(kind: str, root: str) -> DataSpec | None:
    """A ``voc:ROOT[:YEAR]`` or ``coco:DIR`` spec, None for another kind."""
    if kind not in KINDS:
        return None
    if not root:
        raise DataError("data.bad_spec", f"dataset {kind!r} needs a folder: {kind}:PATH")
    return DataSpec(kind, root)


def voc_samples(root: str) -> tuple[list[BoxedImage], list[str]]:
    """The images of a VOC ``trainval`` set with their non-difficult boxes, and the 20 class names."""
    from torchvision.datasets import VOCDetection

    folder, _, year = root.rpartition(":")
    if not year.isdigit():  # no year given (a colon may belong to the path)
        folder, year = root, ""
    try:
        ds = VOCDetection(folder, year=year or "2012", image_set="trainval", download=False)
    except (RuntimeError, ValueError, OSError) as exc:
        raise DataError(
            "data.missing",
            f"no PASCAL VOC {year or '2012'} under {folder}: {exc}",
            "give the folder that holds VOCdevkit/VOC2012 (or voc:ROOT:2007 for VOCdevkit/VOC2007)",
        ) from None
    samples = []
    for path, target in zip(ds.images, ds.targets, strict=True):
        annotation = ds.parse_voc_xml(_xml_root(target))["annotation"]
        objects = annotation.get("object", [])
        rows = tuple(_voc_row(o) for o in (objects if isinstance(objects, list) else [objects]) if _kept(o))
        samples.append(BoxedImage(path, rows))
    return samples, list(VOC_CLASSES)


def _xml_root(path: str) -> Any:
    import xml.etree.ElementTree as ET

    return ET.parse(path).getroot()


def _kept(obj: dict[str, Any]) -> bool:
    return str(obj.get("difficult", "0")) != "1" and obj.get("name") in VOC_CLASSES


def _voc_row(obj: dict[str, Any]) -> tuple[float, float, float, float, float]:
    box = obj["bndbox"]
    x1, y1, x2, y2 = (float(box[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
    return (float(VOC_CLASSES.index(obj["name"])), x1 - 1, y1 - 1, x2, y2)


def coco_samples(root: str) -> tuple[list[BoxedImage], list[str]]:
    """The images of ``root/instances.json`` with their non-crowd boxes, and the category names by id."""
    folder = Path(root)
    path = folder / "instances.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        categories = sorted(data["categories"], key=lambda c: c["id"])
        label = {c["id"]: i for i, c in enumerate(categories)}
        rows: dict[Any, list[tuple[float, float, float, float, float]]] = {im["id"]: [] for im in data["images"]}
        for a in data["annotations"]:
            if not a.get("iscrowd", 0):
                x, y, w, h = (float(v) for v in a["bbox"])
                rows[a["image_id"]].append((float(label[a["category_id"]]), x, y, x + w, y + h))
        images = folder / "images" if (folder / "images").is_dir() else folder
        samples = [BoxedImage(str(images / im["file_name"]), tuple(rows[im["id"]])) for im in data["images"]]
        return samples, [str(c["name"]) for c in categories]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            "data.bad_annotations",
            f"cannot read COCO boxes from {path}: {type(exc).__name__}: {exc}",
            "give a folder with instances.json (images, annotations, categories) and its images",
        ) from None


def load_box_files(
    spec: DataSpec,
    channels: int,
    size: tuple[int, int],
    val_split: float,
    seed: int,
    normalize: str,
    augment: PairTransform | None,
) -> DataBundle:
    """The VOC or COCO images of ``spec`` split into training and validation, with padded box rows."""
    samples, classes = voc_samples(spec.root) if spec.kind == "voc" else coco_samples(spec.root)
    if not samples:
        raise DataError("data.empty", f"{spec} holds no images")
    k = max(1, max(len(s.rows) for s in samples))
    train_idx, val_idx = split_indices(len(samples), val_split, seed)
    train = BoxFiles([samples[i] for i in train_idx.tolist()], channels, size, k, augment)
    val = BoxFiles([samples[i] for i in val_idx.tolist()], channels, size, k, None) if len(val_idx) else None
    # photographs: ImageNet's statistics for "auto", as the image folders use
    mean, std = channel_stats(torch.empty(0, channels), "imagenet" if normalize == "auto" else normalize)
    notes = [f"images converted to {'grayscale' if channels == 1 else 'RGB'} and resized to {size} with their boxes"]
    return DataBundle(train, val, classes, mean, std, spec, notes)
