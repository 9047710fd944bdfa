"""Training data: the built-in shapes dataset, MNIST / Fashion-MNIST / CIFAR-10 from a local root, image folders.

Every dataset yields ``uint8`` image tensors ``(C, H, W)`` already sized and with the channels of the design's Input;
the engine turns a batch into floats and normalises it on the training device, which keeps host memory, worker
traffic and pinned copies four times smaller than float samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .datasets import Broken, FileImages, ImageDataset, TensorImages, Transform, collate, preview_grid
from .shapes import SHAPE_CLASSES, make_shapes

__all__ = [
    "SHAPE_CLASSES",
    "Augment",
    "Broken",
    "DataBundle",
    "DataError",
    "DataSpec",
    "FileImages",
    "TensorImages",
    "build_augment",
    "collate",
    "load_data",
    "make_shapes",
    "parse_spec",
    "preview_grid",
]

KINDS = ("shapes", "mnist", "fashion-mnist", "cifar10", "folder")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class DataError(Exception):
    """A dataset that cannot feed the design.

    ``code`` is stable (``data.channels_mismatch``); ``hint`` says what to do.
    """

    def __init__(self, code: str, message: str, hint: str = ""):
        super().__init__(message + (f" (hint: {hint})" if hint else ""))
        self.code, self.message, self.hint = code, message, hint


@dataclass(frozen=True)
class DataSpec:
    """A parsed ``--data`` value.

    One of ``shapes``, ``shapes:N`` (its first N classes), ``mnist:ROOT``, ``fashion-mnist:ROOT``, ``cifar10:ROOT``,
    ``folder:PATH``.
    """

    kind: str
    root: str = ""

    def __str__(self) -> str:
        return self.kind if not self.root else f"{self.kind}:{self.root}"

    @property
    def shape_classes(self) -> int:
        """Classes drawn by the built-in dataset: all ten, or the first N of ``shapes:N``."""
        return int(self.root) if self.root else len(SHAPE_CLASSES)


def parse_spec(text: str) -> DataSpec:
    """Read a ``--data`` value; raises ``DataError`` (``data.bad_spec``) for an unknown kind or a missing root."""
    kind, _, root = text.partition(":")
    kind = kind.strip().lower().replace("_", "-")
    kind = {"fashion": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10"}.get(kind, kind)
    if kind not in KINDS:
        raise DataError(
            "data.bad_spec",
            f"unknown dataset {text!r}",
            "use shapes, shapes:N, mnist:ROOT, fashion-mnist:ROOT, cifar10:ROOT or folder:PATH",
        )
    if kind != "shapes" and not root:
        raise DataError("data.bad_spec", f"dataset {kind!r} needs a folder: {kind}:PATH")
    root = root.strip() if kind == "shapes" else root
    if kind == "shapes" and root and not (root.isdigit() and 2 <= int(root) <= len(SHAPE_CLASSES)):
        raise DataError(
            "data.bad_spec",
            f"shapes:{root}: the built-in dataset has 2 to {len(SHAPE_CLASSES)} classes",
            "use shapes (all ten) or shapes:N for its first N classes, e.g. shapes:2",
        )
    return DataSpec(kind, root)


@dataclass(frozen=True)
class Augment:
    """Random transforms applied to training samples only (torchvision.transforms.v2), as chosen in the panel."""

    crop: bool = False
    resized_crop: bool = False
    hflip: bool = False
    vflip: bool = False
    rotation: float = 0.0
    color_jitter: float = 0.0
    affine: bool = False

    @property
    def active(self) -> bool:
        """True when any transform is on."""
        return any(getattr(self, f) for f in self.__dataclass_fields__)

    def to_dict(self) -> dict[str, Any]:
        """Only the transforms that are on, so a project file lists what it uses."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if getattr(self, k)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Augment:
        """Read what ``to_dict`` wrote; an unknown transform raises ``DataError`` (``data.bad_augment``)."""
        data = data or {}
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise DataError(
                "data.bad_augment",
                f"unknown augmentation {sorted(unknown)[0]!r}",
                "use " + ", ".join(cls.__dataclass_fields__),
            )
        for key, value in data.items():
            default = cls.__dataclass_fields__[key].default
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            else:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 360
            if not ok:
                want = "true or false" if isinstance(default, bool) else "a number from 0 to 360"
                raise DataError("data.bad_augment", f"augmentation {key!r} must be {want}, not {value!r}")
        return cls(**data)


def build_augment(aug: Augment, size: tuple[int, int], channels: int) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The v2 pipeline for ``aug`` on uint8 ``(C, H, W)`` tensors of the design's size, or None when nothing is on."""
    if not aug.active:
        return None  # and torchvision, which takes seconds to import, is not needed for the built-in data
    from torchvision.transforms import v2

    ops: list[Any] = []
    if aug.resized_crop:
        ops.append(v2.RandomResizedCrop(size, scale=(0.6, 1.0), antialias=True))
    elif aug.crop:
        # Pad-and-crop, the CIFAR recipe: an eighth of the side, reflected so no black borders become a cue.
        ops.append(v2.RandomCrop(size, padding=max(1, min(size) // 8), padding_mode="reflect"))
    if aug.hflip:
        ops.append(v2.RandomHorizontalFlip())
    if aug.vflip:
        ops.append(v2.RandomVerticalFlip())
    if aug.rotation:
        ops.append(v2.RandomRotation(float(aug.rotation)))
    if aug.affine:
        ops.append(v2.RandomAffine(degrees=0, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5))
    if aug.color_jitter:
        s = float(aug.color_jitter)
        colour = channels == 3  # saturation and hue mean nothing for one channel
        ops.append(
            v2.ColorJitter(
                brightness=s, contrast=s, saturation=s if colour else None, hue=min(s, 0.5) / 2 if colour else None
            )
        )
    return v2.Compose(ops) if ops else None


@dataclass
class DataBundle:
    """Datasets ready for the design: train and validation views, class names and normalisation statistics."""

    train: ImageDataset
    val: ImageDataset | None
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    spec: DataSpec
    #: Things the user should know, e.g. that grayscale images were replicated to three channels.
    notes: list[str] = field(default_factory=list)

    @property
    def val_samples(self) -> int:
        """How many samples the validation view holds (0 without one)."""
        return len(self.val) if self.val is not None else 0

    def describe(self) -> dict[str, Any]:
        """What a run folder records about the data."""
        return {
            "data": str(self.spec),
            "classes": self.classes,
            "train_samples": len(self.train),
            "val_samples": self.val_samples,
            "mean": list(self.mean),
            "std": list(self.std),
            "notes": self.notes,
        }


def load_data(
    spec: DataSpec | str,
    input_shape: Sequence[int],
    *,
    val_split: float = 0.1,
    augment: Augment | None = None,
    seed: int = 0,
    samples: int = 10_000,
    download: bool = False,
    normalize: str = "auto",
) -> DataBundle:
    """Load a dataset sized and shaped for a design whose Input is ``input_shape`` = ``(C, H, W)``.

    Raises:
        DataError: the dataset is missing, empty, or its channels cannot feed the design.
    """
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    if len(input_shape) != 3:
        raise DataError(
            "data.input_rank",
            f"the design's Input has shape {list(input_shape)}; image datasets need [channels, height, width]",
            "set the Input shape to e.g. [1, 28, 28]",
        )
    channels, size = int(input_shape[0]), (int(input_shape[1]), int(input_shape[2]))
    aug = build_augment(augment or Augment(), size, channels)
    if spec.kind == "folder":
        return _folder_bundle(spec, channels, size, aug, val_split, seed, normalize)
    images, labels, classes, notes = _in_memory(spec, channels, size, seed, samples, download)
    if len(labels) == 0:
        raise DataError("data.empty", f"dataset {spec} has no samples")
    train_idx, val_idx = split_indices(len(labels), val_split, seed)
    mean, std = channel_stats(images[train_idx[:2000]], normalize)
    train = TensorImages(images[train_idx], labels[train_idx], aug)
    val = TensorImages(images[val_idx], labels[val_idx]) if len(val_idx) else None
    return DataBundle(train, val, classes, mean, std, spec, notes)


def _in_memory(
    spec: DataSpec, channels: int, size: tuple[int, int], seed: int, samples: int, download: bool
) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    if spec.kind == "shapes":
        if channels not in (1, 3):
            raise _channels_error(spec, "1 or 3", channels)
        k = spec.shape_classes
        drawn, drawn_labels = make_shapes(samples, size, channels, seed, classes=k)
        return torch.from_numpy(drawn), torch.from_numpy(drawn_labels), list(SHAPE_CLASSES[:k]), []
    images, labels, classes = _torchvision_set(spec, download)
    notes: list[str] = []
    if images.shape[1] != channels:
        if images.shape[1] == 1 and channels == 3:
            images = images.expand(-1, 3, -1, -1)
            notes.append(f"{spec.kind} is grayscale: each image is replicated to the design's 3 channels")
        else:
            raise _channels_error(spec, images.shape[1], channels)
    if tuple(images.shape[2:]) != size:
        from torchvision.transforms.v2 import functional as F

        notes.append(f"images resized from {tuple(images.shape[2:])} to the design's {size}")
        images = F.resize(images, list(size), antialias=True)
    return images.contiguous(), labels, classes, notes


def _channels_error(spec: DataSpec, has: Any, wants: int) -> DataError:
    return DataError(
        "data.channels_mismatch",
        f"dataset {spec.kind} has {has} channel(s); the design's Input expects {wants}",
        f"set the Input shape to [{has if isinstance(has, int) else 3}, H, W]",
    )


def _torchvision_set(spec: DataSpec, download: bool) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    from torchvision import datasets

    cls = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST, "cifar10": _local_cifar10()}[spec.kind]
    try:
        ds = cls(spec.root, train=True, download=download)
    except RuntimeError as exc:
        raise DataError(
            "data.missing",
            f"{spec.kind} not found under {spec.root}: {exc}",
            "pass the folder that holds it, or add --download when online",
        ) from None
    except OSError as exc:  # network errors during an asked-for download
        raise DataError("data.download_failed", f"could not download {spec.kind}: {exc}") from None
    data = torch.as_tensor(np.asarray(ds.data))
    images = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)
    return images.contiguous(), torch.as_tensor(ds.targets, dtype=torch.long), list(ds.classes)


def _local_cifar10() -> type[Any]:
    """CIFAR-10 that checks its batch files exist rather than their md5, so locally written batches load too."""
    from torchvision.datasets import CIFAR10

    class LocalCIFAR10(CIFAR10):  # type: ignore[misc]  # torchvision has no type hints: CIFAR10 is Any here
        train_list = [[name, None] for name, _ in CIFAR10.train_list]
        test_list = [[name, None] for name, _ in CIFAR10.test_list]
        meta = {**CIFAR10.meta, "md5": None}

    return LocalCIFAR10


def split_indices(n: int, val_split: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and validation indices by a seeded random split; the validation share is rounded but never takes
    the last training sample."""
    if not 0.0 <= val_split < 1.0:
        raise DataError("data.bad_split", f"validation split {val_split} is outside [0, 1)")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = min(int(round(n * val_split)), n - 1)
    return perm[n_val:], perm[:n_val]


def channel_stats(sample: torch.Tensor, normalize: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std for normalising (``auto``: of ``sample``; ``imagenet``; ``none``: 0 and 1)."""
    # [N, C, H, W] images, or an empty [0, C] for a folder: a folder of 1-channel images got 3 means (issue 13)
    channels = sample.shape[1] if sample.ndim in (2, 4) else 3
    if normalize == "none":
        return (0.0,) * channels, (1.0,) * channels
    if normalize == "imagenet":
        return IMAGENET_MEAN[:channels], IMAGENET_STD[:channels]
    x = sample.float().div_(255).transpose(0, 1).reshape(channels, -1)
    std = x.std(dim=1).clamp_min(1e-3)  # a constant channel must not divide by zero
    return tuple(round(v, 4) for v in x.mean(dim=1).tolist()), tuple(round(v, 4) for v in std.tolist())


def _folder_bundle(
    spec: DataSpec,
    channels: int,
    size: tuple[int, int],
    aug: Transform | None,
    val_split: float,
    seed: int,
    normalize: str,
) -> DataBundle:
    root = Path(spec.root)
    if channels not in (1, 3):
        raise _channels_error(spec, "1 or 3", channels)
    if (root / "train").is_dir() and (root / "val").is_dir():
        classes, train_s = _scan_folder(root / "train")
        _, val_s = _scan_folder(root / "val", classes)
    else:
        classes, all_s = _scan_folder(root)
        train_idx, val_idx = split_indices(len(all_s), val_split, seed)
        train_s, val_s = [all_s[i] for i in train_idx], [all_s[i] for i in val_idx]
    mean, std = channel_stats(torch.empty(0, channels), "imagenet" if normalize == "auto" else normalize)
    notes = [f"images converted to {'grayscale' if channels == 1 else 'RGB'} and resized to {size}"]
    val = FileImages(val_s, channels, size) if val_s else None
    return DataBundle(FileImages(train_s, channels, size, aug), val, classes, mean, std, spec, notes)


def _scan_folder(root: Path, classes: list[str] | None = None) -> tuple[list[str], list[tuple[str, int]]]:
    """ImageFolder's layout (one sub-folder per class, sorted names are the labels) without opening any image."""
    from torchvision.datasets.folder import find_classes

    if not root.is_dir():
        raise DataError("data.missing", f"image folder {root} does not exist")
    try:
        found, _ = find_classes(str(root))
    except FileNotFoundError:
        raise DataError(
            "data.empty",
            f"{root} has no class sub-folders",
            "put the images of each class in their own folder: ROOT/cat/*.png, ROOT/dog/*.png",
        ) from None
    classes = classes or found
    index = {c: i for i, c in enumerate(classes)}
    samples = [
        (str(p), index[c])
        for c in found
        if c in index
        for p in sorted((root / c).rglob("*"))
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    ]
    if not samples:
        raise DataError("data.empty", f"no image files under {root}")
    labelled = {label for _, label in samples}
    empty = [c for c in found if c in index and index[c] not in labelled]
    if empty:  # it would silently become a class that no sample has
        raise DataError(
            "data.empty_class",
            f"class folder {root / empty[0]} has no images",
            "add images to it or remove the folder",
        )
    return classes, samples
