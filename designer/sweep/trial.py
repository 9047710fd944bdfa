"""One trial: draw its values, write its design as an ordinary run folder, train it, feed the pruner, tell Optuna.

A trial's folder is a run folder like any other (``project.json`` with the trial's values and settings,
``config.json``, ``metrics.csv``, checkpoints), plus ``trial.json`` naming the study, the trial and its values, so
insight, export and resume work on it as on any run.
"""

from __future__ import annotations

import json
import os
import platform
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..analysis.validate import analyze
from ..model.graph import Graph
from ..training import runs
from ..training.config import ConfigError, TrainConfig
from ..training.events import EpochEnded, Event, Failed
from .events import SweepEvent, TrialEnded, TrialProgress, TrialStarted
from .ranks import Plan
from .space import Dimension, SearchSpace, apply
from .study import StudySpec, epoch_value, public_url

if TYPE_CHECKING:
    import optuna

    from ..training.engine import DataCache, Trainer

TRIAL_FILE = "trial.json"


def suggest(trial: optuna.Trial, dim: Dimension) -> Any:
    """The trial's value for one dimension (a choice of lists or objects travels through Optuna as JSON text)."""
    if dim.kind == "int":
        step = int(dim.step) if dim.step else 1
        return trial.suggest_int(dim.key, int(dim.low), int(dim.high), step=step, log=dim.log)
    if dim.kind == "float":
        return trial.suggest_float(dim.key, dim.low, dim.high, step=dim.step, log=dim.log)
    if all(v is None or isinstance(v, (bool, int, float, str)) for v in dim.choices):
        return trial.suggest_categorical(dim.key, list(dim.choices))
    return json.loads(trial.suggest_categorical(dim.key, [json.dumps(v) for v in dim.choices]))


def trial_dir(folder: Path, number: int) -> Path:
    """Where trial ``number`` of a sweep writes."""
    return folder / f"trial-{number:04d}"


class TrialRunner:
    """Runs the trials of one study on this machine, one at a time; ``stop()`` ends the current one resumably."""

    def __init__(
        self,
        graph: Graph,
        config: TrainConfig,
        space: SearchSpace,
        spec: StudySpec,
        folder: Path,
        emit: Callable[[SweepEvent], None],
        announce: Callable[[Plan | None], None] | None = None,
    ) -> None:
        self.graph, self.config, self.space, self.spec = graph, config, space, spec
        self.folder, self.emit, self.announce = folder, emit, announce
        self._announced = False
        self.trainer: Trainer | None = None
        self.stopping = False
        self._data: DataCache | None = None
        self._recording: Pending | None = None

    def stop(self) -> None:
        """Stop the trial under way after its current step (with a checkpoint); it is resumed by the next sweep."""
        self.stopping = True
        if self.trainer is not None:
            self.trainer.stop()

    def run(self, study: optuna.Study, trial: optuna.Trial) -> TrialEnded:
        """Run ``trial`` to its end and tell ``study`` how it went; under torchrun, ``announce`` hears of it once:
        its ``Plan`` before it trains, or None when it ended without training."""
        self._announced = False
        try:
            return self._run(study, trial)
        finally:
            if not self._announced:
                self._announce(None)

    def _announce(self, plan: Plan | None) -> None:
        self._announced = True
        if self.announce is not None:
            self.announce(plan)

    def _run(self, study: optuna.Study, trial: optuna.Trial) -> TrialEnded:
        values = {d.key: suggest(trial, d) for d in self.space.dimensions}
        resume_dir = trial.user_attrs.get("resume_dir")
        run_dir = Path(resume_dir) if resume_dir else trial_dir(self.folder, trial.number)
        try:
            design, config = apply(self.graph, values, self.config)
        except ConfigError as exc:
            return self._tell(study, trial, "fail", None, run_dir, str(exc))
        analysis = analyze(design)
        if not analysis.ok:
            return self._tell(study, trial, "fail", None, run_dir, str(analysis.errors[0]))
        attrs = {
            "params": analysis.total_params,
            "mult_adds": analysis.total_mult_adds,
            "run_dir": str(run_dir),
            "host": platform.node(),
            "pid": os.getpid(),
        }
        run_dir.mkdir(parents=True, exist_ok=True)
        # Five storage round trips and a synced file: done beside the trial's set-up and first steps, not before.
        self._recording = Pending(lambda: self._record_start(trial, run_dir, values, attrs))
        resumed = bool(resume_dir) and (run_dir / runs.LAST).exists()
        self.emit(TrialStarted(trial.number, values, str(run_dir), resumed))
        self._announce(Plan(trial.number, values, str(run_dir), resumed))
        try:
            return self._train(study, trial, design, config, run_dir, resumed)
        finally:
            self.settle()

    def _train(
        self, study: optuna.Study, trial: optuna.Trial, design: Graph, config: TrainConfig, run_dir: Path, resumed: bool
    ) -> TrialEnded:
        from ..training.engine import DataCache, Trainer

        listener = _EpochListener(self, study, trial)
        if resumed:
            trainer = Trainer.from_run_dir(run_dir, on_event=listener)
        else:
            # Trials drawn over model and optimiser settings train on the same samples: generate them once.
            self._data = self._data or DataCache()
            trainer = Trainer(design, config, run_dir=run_dir, on_event=listener, data_cache=self._data)
        self.trainer = trainer
        if self.stopping:
            trainer.stop()
        try:
            result = trainer.run()
        finally:
            self.trainer = None
        if trainer.callback_errors:
            exc = trainer.callback_errors[0]
            return self._tell(study, trial, "fail", None, run_dir, f"{type(exc).__name__}: {exc}")
        if isinstance(result, Failed):
            # A diverging loss is an answer about these values, not a broken trial: the pruner's verdict.
            state = "pruned" if result.code == "loss.diverged" else "fail"
            return self._tell(study, trial, state, listener.best(), run_dir, result.message)
        if listener.pruned:
            return self._tell(study, trial, "pruned", listener.best(), run_dir, "pruned")
        if result.status == "stopped":
            return self._tell(study, trial, "stopped", None, run_dir, "stopped; the next sweep resumes it")
        value = listener.best()
        if value is None:
            message = f"the run reported no {self.spec.metric} (a validation split of 0 has no val_*)"
            return self._tell(study, trial, "fail", None, run_dir, message)
        return self._tell(study, trial, "complete", value, run_dir)

    def settle(self) -> None:
        """Wait for the trial's start record (user attributes, ``trial.json``); re-raises what writing it raised."""
        if self._recording is not None:
            recording, self._recording = self._recording, None
            recording.wait()

    def _record_start(self, trial: optuna.Trial, run_dir: Path, values: dict[str, Any], attrs: dict[str, Any]) -> None:
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        self._write_record(run_dir, trial.number, values, {"state": "running", **attrs})

    def _tell(
        self,
        study: optuna.Study,
        trial: optuna.Trial,
        state: str,
        value: float | None,
        run_dir: Path,
        message: str = "",
    ) -> TrialEnded:
        from optuna.trial import TrialState

        self.settle()
        if state == "complete":
            study.tell(trial, value)
        else:
            if state == "stopped":
                trial.set_user_attr("stopped", True)
            if message:
                trial.set_user_attr("message", message)
            study.tell(trial, state=TrialState.PRUNED if state == "pruned" else TrialState.FAIL)
        if state == "stopped":
            study.enqueue_trial(trial.params, user_attrs={"resume_dir": str(run_dir), "resume_of": trial.number})
        if run_dir.is_dir():
            extra = {"state": state, "value": value, "message": message, **trial.user_attrs}
            self._write_record(run_dir, trial.number, trial.params, extra)
        ended = TrialEnded(trial.number, state, value, str(run_dir), message, dict(trial.user_attrs))
        self.emit(ended)
        return ended

    def _write_record(self, run_dir: Path, number: int, values: dict[str, Any], extra: dict[str, Any]) -> None:
        record = {
            "study": self.spec.name,
            "storage": public_url(self.spec.storage),
            "number": number,
            "objective": self.spec.objective,
            "direction": self.spec.resolved_direction,
            "values": values,
            **extra,
        }
        runs.write_json(run_dir / TRIAL_FILE, record)


class Pending:
    """Work running on a thread of its own; ``wait()`` joins it and raises what it raised."""

    def __init__(self, work: Callable[[], None]) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), name="sweep-trial-record", daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # handed to the thread that waits
            self._error = exc

    def wait(self) -> None:
        """Block until the work is done; re-raise its exception, if any."""
        self._thread.join()
        if self._error is not None:
            raise self._error


class _EpochListener:
    """Forwards a trial's training events and reports each epoch to the pruner."""

    def __init__(self, runner: TrialRunner, study: optuna.Study, trial: optuna.Trial) -> None:
        self.runner, self.study, self.trial = runner, study, trial
        self.values: list[float] = []
        self.pruned = False

    def __call__(self, event: Event) -> None:
        self.runner.emit(TrialProgress(self.trial.number, event))
        if not isinstance(event, EpochEnded):
            return
        value = epoch_value(event, self.runner.spec.metric)
        if value is None:
            return
        self.values.append(value)
        self.runner.settle()  # one thread at a time writes the trial
        self.trial.report(value, event.epoch)
        if not self.pruned and self.trial.should_prune() and self.runner.trainer is not None:
            self.pruned = True
            self.runner.trainer.stop()

    def best(self) -> float | None:
        """The best epoch value of the objective so far (what ``best.pt`` holds for ``val_acc``)."""
        if not self.values:
            return None
        return max(self.values) if self.runner.spec.resolved_direction == "max" else min(self.values)
