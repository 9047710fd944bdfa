"""Scale-out under ``torchrun``: read the rank from the environment, set up the process group, wrap the model.

``torchrun --nproc_per_node N -m designer train ...`` starts N copies of the same command; each trains on its shard
of every epoch (a ``DistributedSampler``), DistributedDataParallel averages the gradients, and only rank 0 reports
and writes files. Multi-node runs add torchrun's rendezvous flags; nothing here changes.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job; one process with rank 0 when not launched by torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True when the job has more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that reports and writes files."""
        return self.rank == 0


def from_env() -> DistInfo:
    """The job layout torchrun puts in ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    return DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def init(info: DistInfo, device: torch.device) -> None:
    """Join the process group (NCCL between GPUs, gloo on CPUs) unless already joined or alone."""
    import torch.distributed as dist

    if not info.enabled or dist.is_initialized():
        return
    if device.type == "cuda":
        import torch

        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


#: How many ``kept()`` blocks are open: while one is, a run's end leaves the process group up for the next run.
_kept = 0


@contextmanager
def kept(info: DistInfo, device: torch.device) -> Iterator[None]:
    """Join the process group for several runs in a row (a sweep's trials), and leave it once, at the end."""
    global _kept
    init(info, device)
    _kept += 1
    try:
        yield
    finally:
        _kept -= 1
        shutdown()


def broadcast(value: Any, info: DistInfo) -> Any:
    """Rank 0's ``value`` on every process (any picklable object); unchanged when alone."""
    if not info.enabled:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shutdown() -> None:
    """Leave the process group, all ranks together (unless a ``kept()`` block holds it for further runs)."""
    import torch.distributed as dist

    if _kept:
        return
    if dist.is_available() and dist.is_initialized():
        try:
            # A rank that tears down its gloo connections while a peer still writes its checkpoint can make that
            # peer abort ("terminate called without an active exception"); meet first, then leave.
            dist.barrier()
        finally:
            # The runs' models (fx GraphModules, freed only by the cycle collector) trained inside the group. Left to
            # interpreter shutdown, they aborted a rank at exit ("terminate called without an active exception"): 8
            # of 28 two-rank sweeps on a loaded CPU; collected here, before the group ends, none of 14 did.
            gc.collect()
            dist.destroy_process_group()


def wrap(model: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """The model as DistributedDataParallel when there are several processes, else unchanged."""
    if not info.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def all_sum(values: list[float], info: DistInfo, device: torch.device) -> list[float]:
    """Sum numbers over all processes (loss sums and counts); unchanged when alone."""
    if not info.enabled:
        return values
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def all_gather(value: Any, info: DistInfo) -> list[Any]:
    """Every process's ``value`` (any picklable object), in rank order; ``[value]`` when alone."""
    if not info.enabled:
        return [value]
    import torch.distributed as dist

    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, value)
    return out


def all_sum_tensor(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a tensor over all processes (a meter's sums, a confusion matrix); unchanged when alone."""
    if not info.enabled:
        return t
    import torch.distributed as dist

    t = t.clone()
    dist.all_reduce(t)
    return t


def any_true(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every process when it is true on any: a stop asked on one rank stops all of them at the same step."""
    return all_sum([1.0 if flag else 0.0], info, device)[0] > 0
