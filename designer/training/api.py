"""Training a design: the public entry points over ``designer.training``.

Importing this module does not import torch (the panel's form and the CLI's parser use the config and events);
``train``, ``resume`` and ``Trainer`` load the engine when first used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.graph import Graph
from .config import HEADLINES, METRIC_LABELS, ConfigError, TrainConfig, read_section, write_section
from .events import (
    CheckpointSaved,
    EpochEnded,
    Event,
    EventCallback,
    Failed,
    Finished,
    Note,
    Paused,
    Resumed,
    RunStarted,
    StepEnded,
    to_json,
)
from .runs import RunInfo, default_runs_root, list_runs, metric_series, read_metrics

if TYPE_CHECKING:
    from .engine import Trainer

__all__ = [
    "CheckpointSaved",
    "ConfigError",
    "EpochEnded",
    "Event",
    "EventCallback",
    "Failed",
    "Finished",
    "Note",
    "Paused",
    "Resumed",
    "RunInfo",
    "RunStarted",
    "StepEnded",
    "TrainConfig",
    "Trainer",
    "default_runs_root",
    "list_runs",
    "metric_series",
    "HEADLINES",
    "METRIC_LABELS",
    "read_metrics",
    "read_section",
    "resume",
    "to_json",
    "train",
    "write_section",
]


def train(
    graph: Graph,
    config: TrainConfig | None = None,
    *,
    on_event: EventCallback | None = None,
    run_dir: str | Path | None = None,
    runs_root: str | Path | None = None,
) -> Finished | Failed:
    """Train a snapshot of ``graph`` (with its ``training`` section when ``config`` is None); returns the last event."""
    from .engine import Trainer

    return Trainer(graph, config, run_dir=run_dir, runs_root=runs_root, on_event=on_event).run()


def resume(run_dir: str | Path, *, on_event: EventCallback | None = None, **overrides: Any) -> Finished | Failed:
    """Continue a stopped or interrupted run from its last checkpoint."""
    from .engine import Trainer

    return Trainer.from_run_dir(run_dir, on_event=on_event, **overrides).run()


def __getattr__(name: str) -> Any:
    if name == "Trainer":
        from .engine import Trainer

        return Trainer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
