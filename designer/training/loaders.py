"""DataLoaders for a run: shuffled shards per epoch that can start part-way (resume), and sensible workers."""

from __future__ import annotations

import itertools
import os
import random
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from .data import Augment
from .datasets import ImageDataset, TensorImages, collate
from .device_augment import DeviceAugment
from .distributed import DistInfo


class ResumableSampler(Sampler[int]):
    """A ``DistributedSampler`` (seeded per epoch, one shard per rank) that can skip the samples already trained."""

    def __init__(self, dataset: ImageDataset, info: DistInfo, seed: int):
        self.base: DistributedSampler[int] = DistributedSampler(
            dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=seed
        )
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Shuffle for ``epoch`` and leave out its first ``skip`` samples (those a resumed run already trained)."""
        self.base.set_epoch(epoch)
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(iter(self.base), self.skip, None)

    def __len__(self) -> int:
        return len(self.base) - self.skip


class ShardSampler(Sampler[int]):
    """Every ``world``-th sample from ``rank``, in order: validation shards without padding, so counts are exact."""

    def __init__(self, n: int, info: DistInfo):
        self.indices = list(range(info.rank, n, info.world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def auto_workers(dataset: ImageDataset, device: torch.device, augmenting: bool) -> int:
    """Workers that keep the device fed without starving it of CPU.

    In-memory data without augmentation is one indexing op per batch: workers would only add copies. On the CPU the
    model itself needs the cores, so files get at most two readers, and none when the run is on a thread beside a
    GUI: forking there is unsafe and spawning costs seconds of start-up per loader. A GPU gets up to eight.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    in_memory = isinstance(dataset, TensorImages)
    if in_memory and not augmenting:
        return 0
    if device.type == "cpu":
        return 0 if in_memory or _on_side_thread() else min(2, cpus - 1)
    return min(8, max(1, cpus - 1))


def _on_side_thread() -> bool:
    return threading.current_thread() is not threading.main_thread()


def _seed_worker(worker_id: int) -> None:
    # torch seeds each worker itself; numpy and random need the same seed for augmentations that use them.
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


#: Devices on which an in-memory dataset is moved whole and batched there (the CPU gains nothing: it is there).
RESIDENT_DEVICES = ("cuda",)
#: The share of the device's free memory an in-memory dataset may take to stay on it.
RESIDENT_SHARE = 0.25


class DeviceBatches:
    """Batches of an in-memory dataset that lives on the device: one gather per batch, no DataLoader, no workers.

    The images (uint8) and targets are copied to the device once; each batch is an index into them in the sampler's
    order, so the batches, their order and a resumed epoch's skip are exactly the DataLoader's, without a host copy,
    a pinned buffer or a Python collate per step keeping the GPU waiting.
    """

    def __init__(
        self,
        dataset: TensorImages,
        batch_size: int,
        sampler: ResumableSampler | ShardSampler,
        device: torch.device,
        drop_last: bool,
        augment: DeviceAugment | None = None,
    ):
        self.images = dataset.images.to(device)
        self.labels = dataset.labels.to(device)
        self.batch_size, self.sampler, self.device, self.augment = batch_size, sampler, device, augment
        self.drop_last = drop_last

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, list[str]]]:
        order = torch.as_tensor(list(self.sampler), dtype=torch.long, device=self.device)
        sampler = self.sampler
        epoch, skipped = (sampler.base.epoch, sampler.skip) if isinstance(sampler, ResumableSampler) else (0, 0)
        for k in range(len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            images = self.images[idx]
            if self.augment is not None:  # drawn by the batch's place in its epoch: the same after a resume
                images = self.augment(images, epoch, skipped // self.batch_size + k)
            yield images, self.labels[idx], []


def resident(dataset: ImageDataset, device: torch.device, augment: Augment | None = None) -> bool:
    """Whether ``dataset`` is batched on ``device``: in memory, on a GPU, small beside the device's free memory, and
    either not augmented or augmented for classification (``DeviceAugment`` moves images, not masks or boxes)."""
    if device.type not in RESIDENT_DEVICES or not isinstance(dataset, TensorImages):
        return False
    augmented = dataset.transform is not None or (augment is not None and augment.active)
    if augmented and dataset.labels.ndim != 1:
        return False
    size = dataset.images.nbytes + dataset.labels.nbytes
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return size <= RESIDENT_SHARE * free
    return True


def make_loader(
    dataset: ImageDataset,
    batch_size: int,
    sampler: ResumableSampler | ShardSampler,
    workers: int,
    device: torch.device,
    seed: int,
    train: bool,
    augment: Augment | None = None,
) -> DataLoader[Any] | DeviceBatches:
    """A loader yielding ``(uint8 images, labels, broken paths)``: batches gathered on the device for an in-memory
    dataset on a GPU (``DeviceBatches``), else a DataLoader with persistent workers and pinned memory for CUDA."""
    # A training batch of one sample breaks BatchNorm; drop the ragged tail when there is a full batch.
    drop_last = train and len(sampler) >= batch_size
    if resident(dataset, device, augment if train else None):
        assert isinstance(dataset, TensorImages)
        on_device = DeviceAugment(augment, seed) if train and augment is not None and augment.active else None
        return DeviceBatches(dataset, batch_size, sampler, device, drop_last, on_device)
    extra: dict[str, Any] = {}
    if workers > 0:
        extra = {"persistent_workers": True, "worker_init_fn": _seed_worker, "prefetch_factor": 4}
        if _on_side_thread():
            # Forking a process that runs a GUI's threads can deadlock in the child; spawn starts clean.
            extra["multiprocessing_context"] = "spawn"
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
        drop_last=drop_last,
        generator=torch.Generator().manual_seed(seed),
        **extra,
    )
