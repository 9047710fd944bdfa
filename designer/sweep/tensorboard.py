"""TensorBoard scalars of a run, written when the ``tensorboard`` package is installed (it is not a dependency).

The tags are the ones Lightning users know: ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc`` and ``lr``, per
epoch at the global step, in ``<run folder>/tensorboard``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..training.events import EpochEnded, Event

FOLDER = "tensorboard"


def open_writer(run_dir: str | Path) -> Any | None:
    """A ``SummaryWriter`` for the run, or None when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch's module imports tensorboard, which is optional
        return None
    return SummaryWriter(log_dir=str(Path(run_dir) / FOLDER))


class ScalarLogger:
    """Writes each epoch's metrics to TensorBoard; does nothing without tensorboard."""

    def __init__(self, run_dir: str | Path) -> None:
        self.writer = open_writer(run_dir)

    def __call__(self, event: Event) -> None:
        if self.writer is None or not isinstance(event, EpochEnded):
            return
        scalars = {
            "train/loss": event.train_loss,
            "train/acc": event.train_accuracy,
            "val/loss": event.val_loss,
            "val/acc": event.val_accuracy,
            "lr": event.lr,
        }
        for tag, value in scalars.items():
            if value is not None:
                self.writer.add_scalar(tag, value, event.step)
        self.writer.flush()

    def close(self) -> None:
        """Close the event file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
