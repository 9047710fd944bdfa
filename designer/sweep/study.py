"""Opening an Optuna study: the storage (an SQLite file by default, any database URL, or a journal file), the
seeded sampler and the pruner. Optuna is imported inside the functions: reading a design never needs it.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..training.config import HEADLINES, TASK_METRICS

if TYPE_CHECKING:
    import optuna

    from ..training.events import EpochEnded

#: ``--objective`` names: the epoch metric each reads (an ``EpochEnded`` field, else a key of its ``metrics``: the
#: tasks' validation metrics such as ``val_miou``) and the direction that is better.
OBJECTIVES: dict[str, tuple[str, str]] = {
    "val_acc": ("val_accuracy", "max"),
    "val_loss": ("val_loss", "min"),
    "train_acc": ("train_accuracy", "max"),
    "train_loss": ("train_loss", "min"),
    **{name: (name, "max") for names in TASK_METRICS.values() for name in names if name != "val_acc"},
}
PRUNERS = ("median", "halving", "none")
STORAGE_FILE = "study.db"
JOURNAL_PREFIX = "journal:"
#: Seconds an SQLite connection waits for another worker's write lock before giving up.
SQLITE_TIMEOUT_S = 60
#: Tries to open a database storage whose tables another worker may be creating at the same moment.
STORAGE_ATTEMPTS = 5


class SweepError(Exception):
    """A sweep that cannot start: ``code`` is stable (``sweep.storage``), the message says why for a person."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


@dataclass(frozen=True)
class StudySpec:
    """Which study to open, where, and how it samples and prunes."""

    name: str
    storage: str
    objective: str = HEADLINES["classification"]
    direction: str | None = None
    pruner: str = "median"
    seed: int = 0

    @property
    def metric(self) -> str:
        """The ``EpochEnded`` field the objective reads."""
        return OBJECTIVES[self.objective][0]

    @property
    def resolved_direction(self) -> str:
        """``max`` or ``min``: as given, else what suits the objective."""
        return self.direction or OBJECTIVES[self.objective][1]


def epoch_value(event: EpochEnded, metric: str) -> float | None:
    """The value of ``metric`` (an ``OBJECTIVES`` reading) in an epoch's event; None when the epoch has none."""
    if hasattr(event, metric):
        value: float | None = getattr(event, metric)
        return value
    return event.metrics.get(metric)


def objective_for(task: str, objective: str | None) -> str:
    """The ``--objective`` as given, else the task's headline (``val_acc``, ``val_miou``, ``val_map50``)."""
    return objective or HEADLINES[task]


def default_storage(folder: str | os.PathLike[str]) -> str:
    """The embedded default: an SQLite file in the sweep folder (nothing to start, one file to copy)."""
    return f"sqlite:///{Path(folder).resolve() / STORAGE_FILE}"


def public_url(url: str) -> str:
    """``url`` without a password, for files and tables that others read."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def make_storage(url: str) -> optuna.storages.BaseStorage:
    """An SQLite, PostgreSQL or MySQL URL as an RDB storage; ``journal:PATH`` as a journal file (for network file
    systems where SQLite's locks are unreliable)."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if url.startswith(JOURNAL_PREFIX):
        return JournalStorage(JournalFileBackend(url[len(JOURNAL_PREFIX) :]))
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Several workers on one SQLite file take turns to write; the default five seconds are too short a wait.
        kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    try:
        return _rdb_storage(url, kwargs)
    except ImportError as exc:
        raise SweepError(
            "sweep.storage", f"storage {public_url(url)}: {exc}", "install the database's driver"
        ) from None
    except Exception as exc:  # SQLAlchemy's errors: a bad URL, a server that does not answer
        raise SweepError(
            "sweep.storage",
            f"cannot open storage {public_url(url)}: {type(exc).__name__}: {str(exc).splitlines()[0]}",
            "check the URL (sqlite:///FILE, postgresql://USER:PASS@HOST/DB, mysql://..., journal:FILE)",
        ) from None


def _rdb_storage(url: str, engine_kwargs: dict[str, Any]) -> optuna.storages.RDBStorage:
    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(STORAGE_ATTEMPTS):
        try:
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
            if url.startswith("sqlite"):
                _write_ahead(storage)
            return storage
        except (IntegrityError, OperationalError):
            # Workers started together race to create the tables; the loser finds them made on its next try.
            if attempt == STORAGE_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _write_ahead(storage: optuna.storages.RDBStorage) -> None:
    """SQLite in write-ahead-log mode, synced at checkpoints: a trial's dozen small writes cost half the time, and
    readers (the Runs view) no longer wait for writers. Workers on one machine share it safely; on a network file
    system use ``journal:FILE`` or a database server instead."""
    from sqlalchemy import event

    def on_connect(connection: Any, record: Any) -> None:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

    event.listen(storage.engine, "connect", on_connect)
    storage.engine.dispose()  # the connections opened while creating the tables reopen with the pragmas


def make_sampler(seed: int, number: int = 0) -> optuna.samplers.BaseSampler:
    """TPE seeded per trial from ``(seed, number)``: rerunning reproduces the values, and workers draw apart."""
    import optuna

    # A hash rather than seed + number: studies with seeds 0 and 1 must not draw the same values shifted by one.
    trial_seed = int.from_bytes(hashlib.sha256(f"{seed}:{number}".encode()).digest()[:4], "little")
    return optuna.samplers.TPESampler(seed=trial_seed, n_startup_trials=5)


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """``median``: stop a trial whose epoch metric is worse than the median of earlier trials at that epoch;
    ``halving``: successive halving over epochs; ``none``."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    return optuna.pruners.NopPruner()


def open_study(spec: StudySpec) -> optuna.Study:
    """Create the study, or join it when another worker (or an earlier run) made it."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = make_storage(spec.storage)
    direction: Literal["maximize", "minimize"] = "maximize" if spec.resolved_direction == "max" else "minimize"
    try:
        study = optuna.create_study(
            study_name=spec.name,
            storage=storage,
            sampler=make_sampler(spec.seed),
            pruner=make_pruner(spec.pruner),
            direction=direction,
            load_if_exists=True,
        )
    except Exception as exc:  # SQLAlchemy or the journal: a storage that refuses to be written
        raise SweepError("sweep.storage", f"cannot open study {spec.name!r}: {exc}") from None
    if study.direction.name.lower() != direction:
        raise SweepError(
            "sweep.direction",
            f"study {spec.name!r} already exists and is to {study.direction.name.lower()}, not {direction}",
            "give the same --direction, or another --study name",
        )
    study.set_user_attr("objective", spec.objective)
    return study


def importances(study: optuna.Study) -> dict[str, float]:
    """How much each searched value explains the objective (Optuna's fANOVA); empty until enough trials ended."""
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2 or not any(t.params for t in complete):
        return {}
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError):  # all trials with the same values: nothing to explain
        return {}
