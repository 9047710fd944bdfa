"""Where a run stands (``RunState``), and its checkpoints, written with ``designer.export.checkpoint``.

A checkpoint holds the weights and the design they belong to, plus under ``extra`` what a resume needs (the run's
state, optimiser, schedule, gradient scaler and random state) and what inference needs (``classes``, ``mean``,
``std``, ``input_shape``). Everything is tensors and plain data, so the file opens with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler

from ..export.checkpoint import CheckpointError, read_checkpoint
from ..export.checkpoint import save_checkpoint as write_checkpoint
from ..model.graph import Graph
from .config import TrainConfig
from .setup import TrainingError


@dataclass
class RunState:
    """Where a run stands: its position, progress and best score, which a checkpoint records and a resume restores.

    Not frozen: the trainer owns the one instance of a run and its loop advances it at every step.
    """

    epoch: int = 0
    batch_in_epoch: int = 0
    step: int = 0
    samples: int = 0
    #: Training seconds (pauses left out) as of the last checkpoint; a resumed run's clock goes on from here.
    elapsed_s: float = 0.0
    #: Best validation accuracy so far (training accuracy when there is no validation set).
    best_accuracy: float | None = None
    #: Loss sum, correct count and sample count of the epoch so far: a run stopped mid-epoch still reports the
    #: whole epoch's means once resumed.
    epoch_sums: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    skipped_images: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The state as plain data, under the keys a checkpoint's ``extra`` has always used."""
        return {
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "samples": self.samples,
            "elapsed_s": self.elapsed_s,
            "best_val_accuracy": self.best_accuracy,
            "epoch_sums": list(self.epoch_sums),
            "skipped_images": self.skipped_images,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        """Read what ``to_dict`` wrote (``skipped_images`` may be missing from older checkpoints)."""
        return cls(
            epoch=int(data["epoch"]),
            batch_in_epoch=int(data["batch_in_epoch"]),
            step=int(data["step"]),
            samples=int(data["samples"]),
            elapsed_s=float(data["elapsed_s"]),
            best_accuracy=data["best_val_accuracy"],
            epoch_sums=[float(v) for v in data["epoch_sums"]],
            skipped_images=int(data.get("skipped_images", 0)),
        )


@dataclass(frozen=True)
class Trainables:
    """What training changes besides the run's position: the weights, the optimiser, its schedule, the fp16 scaler."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: LRScheduler | None
    scaler: torch.amp.GradScaler


@dataclass(frozen=True)
class InferenceInfo:
    """What a checkpoint tells whoever runs the model later: class names, normalisation and the input shape."""

    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_shape: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready lists, as a checkpoint's ``extra`` holds them."""
        return {
            "classes": list(self.classes),
            "mean": list(self.mean),
            "std": list(self.std),
            "input_shape": list(self.input_shape),
        }


@dataclass(frozen=True)
class CheckpointContents:
    """What every checkpoint of one run holds besides its ``RunState``."""

    graph: Graph
    config: TrainConfig
    inference: InferenceInfo
    trainables: Trainables


def save_checkpoint(path: Path, state: RunState, contents: CheckpointContents, best_copy: Path | None = None) -> Path:
    """Write the run's state atomically (a crash mid-write keeps the previous checkpoint); copy it to ``best_copy``."""
    t = contents.trainables
    extra: dict[str, Any] = {
        **contents.inference.to_dict(),
        "config": contents.config.to_dict(),
        **state.to_dict(),
        "optimizer": t.optimizer.state_dict(),
        "scheduler": t.scheduler.state_dict() if t.scheduler is not None else None,
        "scaler": t.scaler.state_dict() if t.scaler.is_enabled() else None,
        "rng": torch.get_rng_state(),
    }
    write_checkpoint(path, contents.graph, t.model, extra)
    if best_copy is not None:
        tmp = best_copy.with_name(f".{best_copy.name}.tmp")
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, best_copy)
        except BaseException:  # a full disk left an orphan .best.pt.tmp (issue 13)
            tmp.unlink(missing_ok=True)
            raise
    return path


def restore_checkpoint(path: Path, trainables: Trainables, config: TrainConfig) -> RunState:
    """Put weights, optimiser, schedule and random state back where the checkpoint left them; return its state.

    Raises:
        TrainingError: the file is unreadable, holds no training state, or ``config`` stretches a one-cycle schedule.
    """
    try:
        ck = read_checkpoint(path)
    except CheckpointError as exc:
        raise TrainingError("resume.unreadable", f"cannot resume from {path}: {exc}") from None
    x = ck.extra
    if "optimizer" not in x:
        raise TrainingError("resume.unreadable", f"{path} holds weights but no training state to resume")
    trainables.model.load_state_dict(ck.state_dict)
    trainables.optimizer.load_state_dict(x["optimizer"])
    if trainables.scheduler is not None and x["scheduler"] is not None:
        _restore_schedule(trainables.scheduler, config, x)
    if x["scaler"] is not None and trainables.scaler.is_enabled():
        trainables.scaler.load_state_dict(x["scaler"])
    torch.set_rng_state(x["rng"])
    return RunState.from_dict(x)


def _restore_schedule(scheduler: LRScheduler, config: TrainConfig, extra: dict[str, Any]) -> None:
    if config.epochs != extra["config"]["epochs"] and config.schedule == "onecycle":
        raise TrainingError(
            "resume.bad_override",
            "a one-cycle schedule cannot be stretched to more epochs",
            "start a new run with --init-weights from this run's checkpoint",
        )
    scheduler.load_state_dict(extra["scheduler"])
    if isinstance(scheduler, CosineAnnealingLR):
        scheduler.T_max = config.epochs  # more epochs: the cosine continues down to the new end
