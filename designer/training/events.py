"""What a run reports while it goes: plain frozen dataclasses handed to one callback, for the GUI and the CLI alike.

The callback runs on the training thread (or rank 0's process); a GUI queues the events and draws them on its own
thread, a terminal prints them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn


@dataclass(frozen=True)
class RunStarted:
    """The run is set up: where it writes, what it trains on, and how many steps it will take."""

    run_dir: str
    device: str
    precision: str
    total_steps: int
    start_step: int
    steps_per_epoch: int
    epochs: int
    classes: tuple[str, ...]
    train_samples: int
    val_samples: int
    world_size: int = 1
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepEnded:
    """Training metrics averaged over the steps since the last report, with throughput and time left."""

    epoch: int
    step: int
    total_steps: int
    loss: float
    accuracy: float
    lr: float
    samples_per_s: float
    eta_s: float
    elapsed_s: float


@dataclass(frozen=True)
class EpochEnded:
    """One epoch done: training averages over the epoch and validation metrics (None without a validation set)."""

    epoch: int
    epochs: int
    step: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    samples_per_s: float
    eta_s: float
    elapsed_s: float
    skipped_images: int = 0
    #: The task's validation metrics (``val_acc``; ``val_pixel_acc``, ``val_miou`` and ``val_iou/<class>``; ...),
    #: empty without a validation set.
    metrics: dict[str, float] = field(default_factory=dict)
    #: The metric in ``metrics`` that picks the best checkpoint (``val_acc`` for classification).
    headline: str = "val_acc"


@dataclass(frozen=True)
class CheckpointSaved:
    """A checkpoint was written: ``kind`` is ``last`` or ``best``."""

    path: str
    kind: str
    epoch: int
    step: int


@dataclass(frozen=True)
class Paused:
    """The run waits for ``resume()``; its state is safe in the last checkpoint meanwhile."""

    step: int


@dataclass(frozen=True)
class Resumed:
    """The run goes on after a pause."""

    step: int


@dataclass(frozen=True)
class Note:
    """Something the user should know that does not stop the run (a skipped broken image, weights partly loaded)."""

    code: str
    message: str


@dataclass(frozen=True)
class Finished:
    """The run ended on purpose: ``status`` is ``completed`` (all epochs) or ``stopped`` (asked to stop)."""

    run_dir: str
    status: str
    epoch: int
    step: int
    best_val_accuracy: float | None
    elapsed_s: float
    skipped_images: int = 0


@dataclass(frozen=True)
class Failed:
    """The run stopped on an error; ``checkpoint`` is the last good one (None if none was written yet)."""

    code: str
    message: str
    hint: str = ""
    step: int | None = None
    run_dir: str | None = None
    checkpoint: str | None = None
    details: str = field(default="", repr=False)


Event = RunStarted | StepEnded | EpochEnded | CheckpointSaved | Paused | Resumed | Note | Finished | Failed
EventCallback = Callable[[Event], None]


def unhandled(event: NoReturn) -> NoReturn:
    """The ``case _`` of a ``match`` over the ``Event`` classes.

    mypy reports a call it can reach, so a class no case names (a new or renamed event) fails the type check; at run
    time it raises rather than dropping the event.
    """
    raise TypeError(f"no handler for event {event!r}")


def to_json(event: Event) -> dict[str, Any]:
    """The event as JSON-ready data with its kind under ``"event"``."""
    return {"event": type(event).__name__, **asdict(event)}


def format_duration(seconds: float | None) -> str:
    """``m:ss`` or ``h:mm:ss`` for an elapsed time or ETA in seconds; ``?`` when not known yet."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
