"""Run checkpoints, written with ``designer.export.checkpoint``: the weights and the design they belong to, plus under
``extra`` what a resume needs (optimiser, schedule, position, random state) and what inference needs (``classes``,
``mean``, ``std``, ``input_shape``).

Everything is tensors and plain data, so the file opens with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..export.checkpoint import CheckpointError, read_checkpoint
from ..export.checkpoint import save_checkpoint as write_checkpoint
from .setup import TrainingError

if TYPE_CHECKING:
    from .engine import Trainer


def save_checkpoint(t: Trainer, path: Path, best_copy: Path | None = None) -> Path:
    """Write the trainer's state atomically (a crash mid-write keeps the previous checkpoint)."""
    extra: dict[str, Any] = {
        "classes": list(t.bundle.classes),
        "mean": list(t.bundle.mean),
        "std": list(t.bundle.std),
        "input_shape": list(t.input_shape),
        "config": t.config.to_dict(),
        "epoch": t.epoch,
        "batch_in_epoch": t.batch_in_epoch,
        "step": t.step,
        "samples": t.samples,
        "elapsed_s": t.elapsed(),
        "best_val_accuracy": t.best,
        "epoch_sums": list(t._ep),
        "skipped_images": t.skipped,
        "optimizer": t.optimizer.state_dict(),
        "scheduler": t.scheduler.state_dict() if t.scheduler is not None else None,
        "scaler": t.scaler.state_dict() if t.scaler.is_enabled() else None,
        "rng": torch.get_rng_state(),
    }
    write_checkpoint(path, t.graph, t.model, extra)
    if best_copy is not None:
        tmp = best_copy.with_name(f".{best_copy.name}.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, best_copy)
    return path


def restore_checkpoint(t: Trainer, path: Path) -> None:
    """Put a trainer back where the checkpoint left it: weights, optimiser, schedule, position and random state."""
    try:
        ck = read_checkpoint(path)
    except CheckpointError as exc:
        raise TrainingError("resume.unreadable", f"cannot resume from {path}: {exc}") from None
    x = ck.extra
    if "optimizer" not in x:
        raise TrainingError("resume.unreadable", f"{path} holds weights but no training state to resume")
    t.model.load_state_dict(ck.state_dict)
    t.optimizer.load_state_dict(x["optimizer"])
    if t.scheduler is not None and x["scheduler"] is not None:
        _restore_schedule(t, x)
    if x["scaler"] is not None and t.scaler.is_enabled():
        t.scaler.load_state_dict(x["scaler"])
    t.epoch, t.batch_in_epoch, t.step = x["epoch"], x["batch_in_epoch"], x["step"]
    t.samples, t._elapsed0, t.best = x["samples"], x["elapsed_s"], x["best_val_accuracy"]
    t._ep = list(x["epoch_sums"])
    t.skipped = x.get("skipped_images", 0)
    torch.set_rng_state(x["rng"])


def _restore_schedule(t: Trainer, extra: dict[str, Any]) -> None:
    if t.config.epochs != extra["config"]["epochs"] and t.config.schedule == "onecycle":
        raise TrainingError(
            "resume.bad_override",
            "a one-cycle schedule cannot be stretched to more epochs",
            "start a new run with --init-weights from this run's checkpoint",
        )
    t.scheduler.load_state_dict(extra["scheduler"])
    if t.config.schedule == "cosine":
        t.scheduler.T_max = t.config.epochs  # more epochs: the cosine continues down to the new end
