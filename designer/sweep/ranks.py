"""A sweep under ``torchrun``: rank 0 draws each trial and tells Optuna; every rank trains it in one process group.

Rank 0 runs the sweep as a single process would, and before each trial trains it sends the trial's values to the
other ranks (``torch.distributed`` ``broadcast_object_list`` over the group the engine trains in, kept up across
trials). The other ranks never open the storage: they wait for rank 0's word, train the trial it names with
DistributedDataParallel, and end when rank 0 ends, with its result (or its error), so every rank exits alike.
Each loop turn of rank 0 sends exactly one message: a ``Plan``, ``None`` for a trial that ended before training
(a corner the validator refused), or the final ``Halt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.graph import Graph
from ..training import distributed
from ..training.config import TrainConfig
from .events import SweepEnded
from .space import apply
from .study import SweepError

if TYPE_CHECKING:
    from ..training.engine import DataCache, Trainer


@dataclass(frozen=True)
class Plan:
    """Rank 0's word before a trial trains: its values and run folder, and whether it continues a stopped one."""

    number: int
    values: dict[str, Any]
    run_dir: str
    resumed: bool


@dataclass(frozen=True)
class Halt:
    """Rank 0's last word: how the sweep ended, or the error (``SweepError``'s code, message, hint) it ended with."""

    ended: SweepEnded | None = None
    error: tuple[str, str, str] | None = None


def announce(message: Plan | Halt | None, info: distributed.DistInfo) -> None:
    """Send rank 0's word to the other ranks (nothing to do when alone)."""
    distributed.broadcast(message, info)


class Follower:
    """A rank other than 0: trains the trials rank 0 names until it says the sweep ended."""

    def __init__(self, graph: Graph, config: TrainConfig, info: distributed.DistInfo) -> None:
        self.graph, self.config, self.info = graph, config, info
        self.trainer: Trainer | None = None
        self.stopping = False
        self._data: DataCache | None = None

    def stop(self) -> None:
        """Stop the trial under way after its step; the ranks agree on the step, so rank 0 sees it stopped."""
        self.stopping = True
        if self.trainer is not None:
            self.trainer.stop()

    def run(self) -> SweepEnded:
        """Train rank 0's trials; returns rank 0's end, or raises its ``SweepError``."""
        while True:
            message = distributed.broadcast(None, self.info)
            if isinstance(message, Halt):
                if message.error is not None:
                    raise SweepError(*message.error)
                if message.ended is None:
                    raise AssertionError("rank 0 sent an empty Halt")
                return message.ended
            if isinstance(message, Plan):
                self._train(message)

    def _train(self, plan: Plan) -> None:
        from ..training.engine import DataCache, Trainer

        if plan.resumed:
            trainer = Trainer.from_run_dir(plan.run_dir)
        else:
            design, config = apply(self.graph, plan.values, self.config)
            self._data = self._data or DataCache()
            trainer = Trainer(design, config, run_dir=Path(plan.run_dir), data_cache=self._data)
        self.trainer = trainer
        if self.stopping:
            trainer.stop()
        try:
            trainer.run()  # its events and failures are rank 0's to report
        finally:
            self.trainer = None
