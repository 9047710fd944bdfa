"""What a sweep reports while it goes, beside the training events of the trial under way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..training.events import Event as TrainEvent


@dataclass(frozen=True)
class SweepStarted:
    """The study is open: where its trials go, how many the study should reach, and how many it holds already."""

    study: str
    storage: str
    folder: str
    trials: int
    existing: int
    objective: str
    direction: str


@dataclass(frozen=True)
class TrialStarted:
    """A trial begins with these values, in this run folder."""

    number: int
    values: dict[str, Any]
    run_dir: str
    resumed: bool = False


@dataclass(frozen=True)
class TrialEnded:
    """A trial ended: ``state`` is ``complete``, ``pruned``, ``fail`` or ``stopped`` (resumed later)."""

    number: int
    state: str
    value: float | None
    run_dir: str
    message: str = ""
    user_attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialProgress:
    """A training event of trial ``number`` (epochs for the curves and the progress bar)."""

    number: int
    event: TrainEvent


@dataclass(frozen=True)
class SweepEnded:
    """The sweep ended: ``reason`` is ``done`` (the study holds its trials), ``timeout``, ``stopped``, or
    ``failing`` (trials kept failing: see their messages)."""

    reason: str
    trials_run: int
    best_number: int | None
    best_value: float | None
    best_run_dir: str | None


@dataclass(frozen=True)
class SweepFailed:
    """The sweep could not start or its process died: ``code`` is stable (``search.invalid``, ``sweep.died``)."""

    code: str
    message: str


SweepEvent = SweepStarted | TrialStarted | TrialEnded | TrialProgress | SweepEnded | SweepFailed
SweepCallback = Callable[[SweepEvent], None]
