"""What a run sets up before its first step (``Session``, ``Loaders``), built from the compiled design and its data.

Nothing here changes while the run trains: what does (the position, sums, best score) is the ``RunState``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..model.graph import Graph
from . import distributed
from .config import TrainConfig
from .data import Augment, DataBundle
from .distributed import DistInfo
from .loaders import DeviceBatches, ResumableSampler, ShardSampler, auto_workers, make_loader
from .setup import ModelInfo, freeze, make_optimizer, make_scheduler, param_groups
from .state import Trainables
from .tasks import Loss, Task, task_for


@dataclass(frozen=True)
class BatchPrep:
    """Turns a loader's uint8 images into the model's input: on the device, normalised, in its memory format."""

    device: torch.device
    scale: torch.Tensor
    shift: torch.Tensor
    channels_last: bool

    @classmethod
    def for_data(
        cls, mean: Sequence[float], std: Sequence[float], device: torch.device, channels_last: bool
    ) -> BatchPrep:
        """``(x / 255 - mean) / std`` folded into one multiply-add on the device."""
        m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        s = torch.tensor(std, device=device).view(1, -1, 1, 1)
        return cls(device, 1.0 / (255.0 * s), -m / s, channels_last)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        x = torch.addcmul(self.shift, x.float(), self.scale)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


@dataclass(frozen=True)
class Loaders:
    """The run's data loaders; dropping them ends their worker processes."""

    sampler: ResumableSampler
    train: DataLoader[Any] | DeviceBatches
    val: DataLoader[Any] | DeviceBatches | None


@dataclass(frozen=True)
class Session:
    """Everything a run set up before its first step: settings as resolved, the trainables, loss and batch shaping."""

    config: TrainConfig
    dist: DistInfo
    device: torch.device
    precision: str
    #: The autocast dtype, None in fp32.
    amp: torch.dtype | None
    trainables: Trainables
    #: The model as it trains: DistributedDataParallel around ``trainables.model`` under torchrun.
    wrapped: nn.Module
    frozen: tuple[str, ...]
    prep: BatchPrep
    #: The loss, training score and validation metrics of what the run learns.
    task: Task
    #: True when the schedule steps per batch (one-cycle) rather than per epoch.
    per_step_schedule: bool
    workers: int
    steps_per_epoch: int
    log_every: int
    val_samples: int
    #: True when the loop steps through a ``torch.compile`` of the model.
    compiled: bool = False
    #: The training data is held and batched on the device (``loaders.DeviceBatches``).
    data_on_device: bool = False

    @property
    def model(self) -> nn.Module:
        """The model being trained, without any DistributedDataParallel wrapper."""
        return self.trainables.model

    @property
    def loss_fn(self) -> Loss:
        """The task's loss of a batch."""
        return self.task.loss

    @property
    def total_steps(self) -> int:
        """Steps of the whole run, every epoch included."""
        return self.steps_per_epoch * self.config.epochs


@dataclass(frozen=True)
class Placement:
    """Where the run computes and in which precision, as resolved from the settings."""

    dist: DistInfo
    device: torch.device
    precision: str
    amp: torch.dtype | None


def open_session(
    graph: Graph, config: TrainConfig, info: ModelInfo, bundle: DataBundle, where: Placement
) -> tuple[Session, Loaders]:
    """Move the model to its device, freeze what the design freezes, and make the loaders, optimiser and loss."""
    model = info.model
    frozen = tuple(freeze(model, graph))
    model.to(where.device)
    cl = config.channels_last
    channels_last = info.has_conv and (where.device.type == "cuda" if cl is None else cl)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    wrapped = distributed.wrap(model, where.dist, where.device)
    compiled = config.compile if config.compile is not None else where.device.type == "cuda"
    if compiled:
        wrapped = compile_for_training(wrapped)
    workers = config.workers if config.workers >= 0 else auto_workers(bundle.train, where.device, bool(config.augment))
    loaders = make_loaders(config, bundle, where, workers)
    on_device = isinstance(loaders.train, DeviceBatches)
    steps_per_epoch = len(loaders.train)
    optimizer = make_optimizer(param_groups(model, graph, config.lr, config.weight_decay), config)
    scheduler, per_step = make_scheduler(optimizer, config, steps_per_epoch)
    scaler = torch.amp.GradScaler(where.device.type, enabled=where.precision == "fp16")
    session = Session(
        config=config,
        dist=where.dist,
        device=where.device,
        precision=where.precision,
        amp=where.amp,
        trainables=Trainables(model, optimizer, scheduler, scaler),
        wrapped=wrapped,
        frozen=frozen,
        prep=BatchPrep.for_data(bundle.mean, bundle.std, where.device, channels_last),
        task=task_for(config, len(bundle.classes), info.outputs, bundle.classes, _image_size(info.input_shape)),
        per_step_schedule=per_step,
        workers=0 if on_device else workers,
        steps_per_epoch=steps_per_epoch,
        log_every=config.log_every or (1 if where.device.type == "cpu" else 10),
        val_samples=bundle.val_samples,
        compiled=compiled,
        data_on_device=on_device,
    )
    return session, loaders


def compile_for_training(module: nn.Module) -> nn.Module:
    """``torch.compile`` the module the loop steps through; checkpoints keep saving the uncompiled model's weights."""
    compiled = torch.compile(module)
    assert isinstance(compiled, nn.Module)  # compiling a module gives a module (typed as any callable)
    return compiled


def make_loaders(config: TrainConfig, bundle: DataBundle, where: Placement, workers: int) -> Loaders:
    """A resumable shuffled training loader and an in-order validation loader (twice the batch: no gradients)."""
    sampler = ResumableSampler(bundle.train, where.dist, config.seed)
    augment = Augment.from_dict(config.augment)
    train = make_loader(
        bundle.train, config.batch_size, sampler, workers, where.device, config.seed, train=True, augment=augment
    )
    val = None
    if bundle.val is not None:
        shards = ShardSampler(bundle.val_samples, where.dist)
        val = make_loader(bundle.val, config.batch_size * 2, shards, workers, where.device, config.seed, train=False)
    return Loaders(sampler, train, val)


def _image_size(shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(H, W) of an image Input, None for any other."""
    return (int(shape[-2]), int(shape[-1])) if len(shape) == 3 else None
