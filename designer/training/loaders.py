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

from .data import ImageDataset, TensorImages, collate
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


def make_loader(
    dataset: ImageDataset,
    batch_size: int,
    sampler: ResumableSampler | ShardSampler,
    workers: int,
    device: torch.device,
    seed: int,
    train: bool,
) -> DataLoader[Any]:
    """A loader yielding ``(uint8 images, labels, broken paths)``; persistent workers, pinned memory for CUDA."""
    extra: dict[str, Any] = {}
    if workers > 0:
        extra = {"persistent_workers": True, "worker_init_fn": _seed_worker, "prefetch_factor": 4}
        if _on_side_thread():
            # Forking a process that runs a GUI's threads can deadlock in the child; spawn starts clean.
            extra["multiprocessing_context"] = "spawn"
    # A training batch of one sample breaks BatchNorm; drop the ragged tail when there is a full batch.
    drop_last = train and len(sampler) >= batch_size
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
