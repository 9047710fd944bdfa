"""What a run writes while it goes: events for the listener, ``metrics.csv`` rows (and TensorBoard scalars when
tensorboard is installed), ``status.json`` and checkpoints.

Under torchrun only rank 0 writes; the other ranks get a ``RunOutputs`` without a folder, which writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import runs
from .events import CheckpointSaved, Event
from .state import CheckpointContents, RunState, save_checkpoint
from .tensorboard import ScalarLogger


class RunOutputs:
    """The files of one run folder (``folder`` None: this process writes none) and the event listener.

    Args:
        folder: the run folder, or None on the ranks that write nothing.
        emit: hands an event to the listener (the trainer's, which shields the run from a broken listener).
        contents: what every checkpoint of the run holds besides its state.
        truncate_after_step: on resume, the step of the checkpoint; later ``metrics.csv`` rows are dropped.
        metric_names: the task's validation metrics, ``metrics.csv`` columns after the common ones.
    """

    def __init__(
        self,
        folder: Path | None,
        emit: Callable[[Event], None],
        contents: CheckpointContents,
        truncate_after_step: int | None = None,
        metric_names: tuple[str, ...] = (),
    ) -> None:
        self.folder = folder
        self.emit = emit
        self.contents = contents
        self._metrics: runs.MetricsWriter | None = None
        self._scalars: ScalarLogger | None = None
        if folder is not None:
            self._metrics = runs.MetricsWriter(
                folder / runs.METRICS, truncate_after_step=truncate_after_step, extra=metric_names
            )
            self._scalars = ScalarLogger(folder)

    def row(self, kind: str, state: RunState, elapsed_s: float, **values: Any) -> None:
        """Append a ``step`` row (averages since the last one) or an ``epoch`` row to ``metrics.csv``."""
        if self._metrics is None:
            return
        # A step row belongs to the epoch under way, an epoch row to the one that just ended.
        epoch = state.epoch + (kind == "step")
        position = {"kind": kind, "epoch": epoch, "step": state.step, "samples": state.samples}
        self._metrics.write({**position, "elapsed_s": elapsed_s, **values})
        if kind == "epoch" and self._scalars is not None:
            self._scalars.epoch(values, state.step)

    def status(self, status: str, **fields: Any) -> None:
        """Record how the run stands in ``status.json``."""
        if self.folder is not None:
            runs.write_status(self.folder, status, **fields)

    def checkpoint(self, state: RunState, best: bool) -> None:
        """Save ``last.pt`` (and copy it to ``best.pt`` when ``best``), then say so with ``CheckpointSaved`` events."""
        if self.folder is None:
            return
        best_path = self.folder / runs.BEST
        last = save_checkpoint(self.folder / runs.LAST, state, self.contents, best_copy=best_path if best else None)
        self.emit(CheckpointSaved(str(last), "last", state.epoch, state.step))
        if best:
            self.emit(CheckpointSaved(str(best_path), "best", state.epoch, state.step))

    def close(self) -> None:
        """Close ``metrics.csv`` and the TensorBoard events; nothing is written after this."""
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
        if self._scalars is not None:
            self._scalars.close()
            self._scalars = None
