"""A sweep: check the search space, open the study, and run trials until it holds enough, time is up or asked to stop.

Any number of workers may run the same sweep against one storage (an SQLite file on one machine, a PostgreSQL or
MySQL server across machines): each asks Optuna for the next trial, so they run disjoint trials of one study.
``--trials N`` is what the study should hold in all (finished, pruned, failed or running, stopped ones aside), so
running the same command again resumes a sweep: stopped trials continue from their checkpoints first.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.diagnostics import Diagnostic, DiagnosticsError
from ..model.graph import Graph
from ..training import distributed, runs
from ..training.config import TrainConfig, read_section
from .check import check_space
from .events import SweepCallback, SweepEnded, SweepEvent, SweepStarted, TrialEnded
from .ranks import Follower, Halt, announce
from .space import SECTION, SearchSpace, read_space
from .study import (
    OBJECTIVES,
    PRUNERS,
    StudySpec,
    SweepError,
    default_storage,
    make_sampler,
    objective_for,
    open_study,
    public_url,
)
from .trial import TrialRunner

if TYPE_CHECKING:
    import optuna

SWEEP_FILE = "sweep.json"


class SpaceError(DiagnosticsError):
    """The search space has problems (malformed entries, corners that break the design); no trial was run."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(diagnostics, f"the search space has {len(diagnostics)} problem(s)")


@dataclass(frozen=True)
class SweepOptions:
    """What ``python -m designer sweep`` takes besides the file."""

    trials: int = 10
    storage: str | None = None
    study: str | None = None
    timeout_s: float | None = None
    #: None: the task's headline metric (``val_acc`` for classification).
    objective: str | None = None
    direction: str | None = None
    pruner: str = "median"
    #: The sampler's seed; None takes the training section's.
    seed: int | None = None
    #: The sweep folder (default ``runs/<file stem>/sweep-<study>`` beside the project file).
    out: str | None = None


class Sweep:
    """Runs one worker of a sweep over ``graph``'s search space; ``stop()`` may be called from any thread."""

    def __init__(
        self,
        graph: Graph,
        options: SweepOptions,
        *,
        project_path: str | os.PathLike[str] | None = None,
        on_event: SweepCallback | None = None,
        config: TrainConfig | None = None,
    ) -> None:
        _check_options(options)
        self.graph, self.options, self.on_event = graph, options, on_event
        self.config = config if config is not None else read_section(graph, ignored=[])
        name = options.study or runs.slug(Path(project_path).stem if project_path else graph.name)
        root = runs.default_runs_root(project_path, graph.name)
        self.folder = Path(options.out) if options.out else root / f"sweep-{runs.slug(name)}"
        storage = options.storage or default_storage(self.folder)
        seed = options.seed if options.seed is not None else self.config.seed
        objective = objective_for(self.config.task, options.objective)
        self.spec = StudySpec(name, storage, objective, options.direction, options.pruner, seed)
        self._runner: TrialRunner | Follower | None = None
        self._stop = False

    def check(self) -> list[Diagnostic]:
        """The problems of the search space (empty: every corner gives a valid design)."""
        if SECTION not in self.graph.extra:
            return _no_space()
        return check_space(self.graph)

    def stop(self) -> None:
        """End after the current trial's current step; that trial is resumed by the next run of the sweep."""
        self._stop = True
        if self._runner is not None:
            self._runner.stop()

    def run(self) -> SweepEnded:
        """Run trials until the study holds ``trials``, the timeout passes or ``stop()``; raises ``SpaceError`` or
        ``SweepError`` before any trial when the space or the storage cannot be used. Under torchrun every rank
        calls it: rank 0 leads (``ranks``), the others train the trials it names and return its result."""
        problems = [d for d in self.check() if d.is_error]
        if problems:
            raise SpaceError(problems)
        space = read_space(self.graph, [])
        info = distributed.from_env()
        if not info.enabled:
            return self._lead(space, info)
        from ..training.setup import resolve_device

        with distributed.kept(info, resolve_device(self.config.device, info.local_rank)):
            if not info.is_main:
                follower = self._runner = Follower(self.graph, self.config, info)
                if self._stop:
                    follower.stop()
                return follower.run()
            try:
                ended = self._lead(space, info)
            except SweepError as exc:
                announce(Halt(error=(exc.code, exc.message, exc.hint)), info)
                raise
            except Exception as exc:  # the other ranks wait for a word: let them end with rank 0's error
                announce(Halt(error=("sweep.error", f"{type(exc).__name__}: {exc}", "")), info)
                raise
            announce(Halt(ended=ended), info)
            return ended

    def _lead(self, space: SearchSpace, info: distributed.DistInfo) -> SweepEnded:
        self.folder.mkdir(parents=True, exist_ok=True)
        study = open_study(self.spec)
        _recover_orphans(study)
        self._write_record()
        self._emit(
            SweepStarted(
                self.spec.name,
                public_url(self.spec.storage),
                str(self.folder),
                self.options.trials,
                _counted(study),
                self.spec.objective,
                self.spec.resolved_direction,
            )
        )
        send = (lambda plan: announce(plan, info)) if info.enabled else None
        runner = self._runner = TrialRunner(self.graph, self.config, space, self.spec, self.folder, self._emit, send)
        if self._stop:
            runner.stop()
        reason, ran = self._loop(study, runner)
        return self._end(study, reason, ran)

    def _loop(self, study: optuna.Study, runner: TrialRunner) -> tuple[str, int]:
        t0, ran, failures = time.monotonic(), 0, 0
        while True:
            if self._stop:
                return "stopped", ran
            if self.options.timeout_s is not None and time.monotonic() - t0 >= self.options.timeout_s:
                return "timeout", ran
            if _counted(study) >= self.options.trials:
                return "done", ran
            if failures >= max(3, self.options.trials):
                return "failing", ran
            trial = study.ask()
            # Seeded per trial number: the same seed and storage draw the same values, and workers draw apart.
            study.sampler = make_sampler(self.spec.seed, trial.number)
            ended = runner.run(study, trial)
            ran += 1
            failures += ended.state == "fail"
            # Only a stop ends a trial so; under torchrun it may have been asked on another rank.
            self._stop = self._stop or ended.state == "stopped"

    def _end(self, study: optuna.Study, reason: str, ran: int) -> SweepEnded:
        number = value = run_dir = None
        try:
            best = study.best_trial
            number, value, run_dir = best.number, best.value, best.user_attrs.get("run_dir")
        except ValueError:  # no complete trial yet
            pass
        event = SweepEnded(reason, ran, number, value, run_dir)
        self._emit(event)
        return event

    def _write_record(self) -> None:
        record: dict[str, Any] = {
            "study": self.spec.name,
            "storage": public_url(self.spec.storage),
            "objective": self.spec.objective,
            "direction": self.spec.resolved_direction,
            "pruner": self.spec.pruner,
            "seed": self.spec.seed,
            "trials": self.options.trials,
            "space": self.graph.extra.get(SECTION, {}),
        }
        runs.write_json(self.folder / SWEEP_FILE, record)

    def _emit(self, event: SweepEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)


def _no_space() -> list[Diagnostic]:
    from ..model import diagnostics as dg

    hint = 'add e.g. "search": {"lr": {"float": [0.0001, 0.1], "log": true}} to the project (docs/sweeps.md)'
    return [dg.error("search.missing", "the project has no 'search' section: nothing to sweep over", None, hint)]


def _check_options(options: SweepOptions) -> None:
    if options.objective is not None and options.objective not in OBJECTIVES:
        raise SweepError("sweep.objective", f"objective {options.objective!r} is not one of {', '.join(OBJECTIVES)}")
    if options.direction not in (None, "max", "min"):
        raise SweepError("sweep.direction", f"direction {options.direction!r} is not max or min")
    if options.pruner not in PRUNERS:
        raise SweepError("sweep.pruner", f"pruner {options.pruner!r} is not one of {', '.join(PRUNERS)}")
    if options.trials < 1:
        raise SweepError("sweep.trials", f"--trials must be at least 1, not {options.trials}")


def _counted(study: optuna.Study) -> int:
    """Trials that count towards ``--trials``: all but the waiting ones and those stopped to be resumed."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    resumed = {t.user_attrs.get("resume_of") for t in trials}
    return sum(t.state != TrialState.WAITING and t.number not in resumed for t in trials)


def _recover_orphans(study: optuna.Study) -> None:
    """Trials left running by a worker of this machine that died (killed, power cut) become stopped and resumable."""
    from optuna.trial import TrialState

    host = platform.node()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") != host or not isinstance(pid, int) or _alive(pid):
            continue
        study.tell(t.number, state=TrialState.FAIL)
        if t.user_attrs.get("run_dir"):
            study.enqueue_trial(t.params, user_attrs={"resume_dir": t.user_attrs["run_dir"], "resume_of": t.number})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


__all__ = ["SWEEP_FILE", "SpaceError", "Sweep", "SweepEnded", "SweepOptions", "TrialEnded"]
