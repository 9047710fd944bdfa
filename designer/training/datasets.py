"""The datasets training reads: images in memory (``TensorImages``) or in files (``FileImages``), each sample a
``uint8`` image ``(C, H, W)`` and its target; ``Broken`` for a file that cannot be read, and ``collate``, which stacks
a batch and sets the broken samples aside; ``preview_grid``, a picture of samples as training draws them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import torch
from torch.utils.data import Dataset

if TYPE_CHECKING:
    from .detection_data import BoxFiles


@dataclass(frozen=True)
class Broken:
    """A sample that could not be read; the loader skips it and the engine counts it."""

    path: str
    reason: str


#: A random transform of one uint8 ``(C, H, W)`` image (the augmentation pipeline).
Transform = Callable[[torch.Tensor], torch.Tensor]


class TensorImages(Dataset[tuple[torch.Tensor, int]]):
    """Images held in memory as one uint8 tensor ``(N, C, H, W)`` with int64 labels."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Transform | None = None):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = self.images[i]
        return (self.transform(img) if self.transform else img), int(self.labels[i])

    def __getitems__(self, indices: Sequence[int]) -> Any:
        # Without augmentation a batch is one indexing op instead of B item reads and a stack.
        if self.transform is not None:
            return [self[i] for i in indices]
        idx = torch.as_tensor(indices, dtype=torch.long)
        return Stacked(self.images[idx], self.labels[idx])


@dataclass
class Stacked:
    """A whole batch read at once (images and targets already stacked), which ``collate`` passes through."""

    images: torch.Tensor
    labels: torch.Tensor


class FileImages(Dataset[tuple[torch.Tensor, int] | Broken]):
    """Image files read with PIL, converted to the design's channels and size; unreadable files become ``Broken``."""

    def __init__(
        self, samples: list[tuple[str, int]], channels: int, size: tuple[int, int], transform: Transform | None = None
    ):
        self.samples, self.channels, self.size, self.transform = samples, channels, size, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int] | Broken:
        from PIL import Image
        from torchvision.transforms.v2 import functional as F

        path, label = self.samples[i]
        try:
            with Image.open(path) as im:
                im = im.convert("L" if self.channels == 1 else "RGB")
                img = F.pil_to_tensor(im)
        except (OSError, ValueError, SyntaxError) as exc:  # PIL raises all three for truncated or foreign files
            return Broken(path, str(exc) or type(exc).__name__)
        img = F.resize(img, list(self.size), antialias=True)
        return (self.transform(img) if self.transform else img), label


def collate(batch: Any) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Stack samples into ``(images uint8, targets, paths of skipped broken files)``: int64 labels, or the stacked
    per-image target tensors of segmentation and detection."""
    if isinstance(batch, Stacked):
        return batch.images, batch.labels, []
    broken = [s.path for s in batch if isinstance(s, Broken)]
    good = [s for s in batch if not isinstance(s, Broken)]
    if not good:
        return torch.empty(0, dtype=torch.uint8), torch.empty(0, dtype=torch.long), broken
    targets = [s[1] for s in good]
    if isinstance(targets[0], torch.Tensor):  # a mask or boxes per image (segmentation, detection)
        return torch.stack([s[0] for s in good]), torch.stack(targets), broken
    return torch.stack([s[0] for s in good]), torch.tensor(targets, dtype=torch.long), broken


#: The datasets ``load_data`` makes, and the detection files of ``detection_data`` (a string: it imports this module).
ImageDataset = Union[TensorImages, FileImages, "BoxFiles"]


def preview_grid(dataset: ImageDataset, n: int = 16, cols: int = 0, seed: int = 0, scale: int = 0) -> np.ndarray:
    """A grid of ``n`` samples as drawn (augmented if the dataset augments): an ``(H, W, 3)`` uint8 array.

    ``scale`` repeats pixels so small images stay visible; 0 picks one that makes each tile at least 64 pixels.
    """
    picks = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n].tolist()
    with torch.random.fork_rng(devices=[]):  # the transforms draw from the global generator; leave the caller's alone
        torch.manual_seed(seed)
        tiles = [s[0] for s in (dataset[i] for i in picks) if not isinstance(s, Broken)]
    if not tiles:
        return np.zeros((8, 8, 3), dtype=np.uint8)
    cols = cols or int(np.ceil(np.sqrt(len(tiles))))
    rows = -(-len(tiles) // cols)
    c, h, w = tiles[0].shape
    scale = scale or max(1, -(-64 // max(h, w)))
    grid = torch.full((3, rows * (h + 2), cols * (w + 2)), 255, dtype=torch.uint8)
    for k, t in enumerate(tiles):
        r, q = divmod(k, cols)
        grid[:, r * (h + 2) + 1 : r * (h + 2) + 1 + h, q * (w + 2) + 1 : q * (w + 2) + 1 + w] = t.expand(3, -1, -1)
    img = grid.permute(1, 2, 0).numpy()
    return np.ascontiguousarray(img.repeat(scale, axis=0).repeat(scale, axis=1))
