"""TensorBoard scalars of a run, written when the ``tensorboard`` package is installed (it is not a dependency).

Every run writes them, sweep trials included, beside ``metrics.csv`` in ``<run folder>/tensorboard``. The tags are
the ones Lightning users know: ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc`` and ``lr``, and the task's
own metrics the same way (``val/miou``, ``val/iou/<class>``, ``val/map50``), per epoch at the global step.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

FOLDER = "tensorboard"


def open_writer(run_dir: str | Path) -> Any | None:
    """A ``SummaryWriter`` for the run, or None when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch's module imports tensorboard, which is optional
        return None
    return SummaryWriter(log_dir=str(Path(run_dir) / FOLDER))


def tag(column: str) -> str | None:
    """The TensorBoard tag of a ``metrics.csv`` column (``val_miou`` -> ``val/miou``), None for the bookkeeping ones."""
    if column == "lr":
        return column
    split, _, name = column.partition("_")
    return f"{split}/{name}" if split in ("train", "val") and name else None


class ScalarLogger:
    """Writes each epoch's metrics to TensorBoard; does nothing without tensorboard."""

    def __init__(self, run_dir: str | Path) -> None:
        self.writer = open_writer(run_dir)

    def epoch(self, values: Mapping[str, Any], step: int) -> None:
        """One epoch row of ``metrics.csv`` (its numbers by column name) at the global ``step``."""
        if self.writer is None:
            return
        for column, value in values.items():
            name = tag(column)
            if name is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(name, value, step)
        self.writer.flush()

    def close(self) -> None:
        """Close the event file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
