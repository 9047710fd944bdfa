"""The trainer: sets up a run of a design snapshot, reports it through events, and ends it cleanly whatever happens.

``Trainer.run()`` never raises for a training problem: every failure becomes a ``Failed`` event (and the return
value), the last good checkpoint stays on disk, and a stopped run resumes at the batch where it stopped.

The trainer owns the run's ``RunState`` and hands it, with the ``Session`` it set up, to a ``TrainingLoop``.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..model.fileformat import dumps, load, loads
from ..model.graph import Graph
from . import distributed, runs
from .config import ConfigError, TrainConfig, detection_head, detection_kind, read_section
from .control import RunControl
from .data import Augment, DataBundle, DataError, load_data
from .events import Event, EventCallback, Failed, Finished, RunStarted
from .loop import Ending, TrainingLoop
from .outputs import RunOutputs
from .session import Placement, Session, open_session
from .setup import (
    ModelInfo,
    TrainingError,
    build_model,
    check_classes,
    load_weights,
    resolve_device,
    resolve_precision,
)
from .state import CheckpointContents, InferenceInfo, RunState, restore_checkpoint

#: Settings that may change when a run is resumed; the others decide which samples each step sees.
RESUME_OVERRIDES = ("epochs", "device", "workers", "log_every", "precision")


class Trainer:
    """Trains a copy of ``graph`` taken at construction: editing the design afterwards does not touch the run.

    ``pause()``, ``resume()`` and ``stop()`` may be called from any thread; ``run()`` blocks until the run ends.
    ``state`` is where the run stands; ``session`` (None until the run is set up) holds what it trains with.

    Args:
        resuming: continue the run already in ``run_dir`` from its last checkpoint (``from_run_dir`` sets it).
        data_cache: reuse the data an earlier run of the same process loaded with the same settings (a sweep).
    """

    def __init__(
        self,
        graph: Graph,
        config: TrainConfig | None = None,
        *,
        run_dir: str | Path | None = None,
        runs_root: str | Path | None = None,
        on_event: EventCallback | None = None,
        resuming: bool = False,
        data_cache: DataCache | None = None,
    ):
        if resuming and not run_dir:
            raise ValueError("resuming needs the run_dir of the run to continue")
        self.project_json = dumps(graph)
        self.graph = loads(self.project_json)
        self.config = config if config is not None else read_section(self.graph)
        self.on_event = on_event
        self.dist = distributed.from_env()
        self.run_dir: Path | None = Path(run_dir) if run_dir else None
        self.resuming = resuming
        self.state = RunState()
        self.session: Session | None = None
        self.bundle: DataBundle | None = None
        self.callback_errors: list[BaseException] = []
        self._data_cache = data_cache
        self._runs_root = Path(runs_root) if runs_root else runs.default_runs_root(None, graph.name)
        self._control = RunControl()
        self._loop: TrainingLoop | None = None
        self._outputs: RunOutputs | None = None

    @classmethod
    def from_run_dir(cls, run_dir: str | Path, *, on_event: EventCallback | None = None, **overrides: Any) -> Trainer:
        """Continue the run in ``run_dir`` from its last checkpoint; ``epochs`` may be raised to train longer."""
        run_dir = Path(run_dir)
        if not (run_dir / runs.LAST).exists():
            raise TrainingError("resume.no_checkpoint", f"{run_dir} has no {runs.LAST} to resume from")
        bad = sorted(k for k, v in overrides.items() if v is not None and k not in RESUME_OVERRIDES)
        if bad:
            raise TrainingError(
                "resume.bad_override",
                f"{bad[0]} cannot change when resuming",
                "start a new run (with --init-weights to keep the weights)",
            )
        config = TrainConfig.from_dict(runs.read_json(run_dir / runs.CONFIG)["config"], ignored=[])
        graph = load(run_dir / runs.PROJECT)
        return cls(graph, config.replace(**overrides), run_dir=run_dir, on_event=on_event, resuming=True)

    # -- control, from any thread -----------------------------------------------------------------------------------

    def stop(self) -> None:
        """End after the current step, saving a checkpoint that ``from_run_dir`` resumes exactly."""
        self._control.stop()

    def pause(self) -> None:
        """Wait after the current step, with a checkpoint saved, until ``resume()`` or ``stop()``."""
        self._control.pause()

    def resume(self) -> None:
        """Go on after ``pause()``."""
        self._control.resume()

    @property
    def paused(self) -> bool:
        """True between ``pause()`` and the next ``resume()`` or ``stop()``."""
        return self._control.paused

    @property
    def stop_requested(self) -> bool:
        """True once ``stop()`` was called (a second request is the CLI's cue to abort at once)."""
        return self._control.stop_requested

    @property
    def model(self) -> nn.Module | None:
        """The model being trained (None until the run is set up)."""
        return self.session.model if self.session is not None else None

    def model_state_dict(self) -> dict[str, torch.Tensor]:
        """The trained weights (without any DistributedDataParallel wrapper)."""
        if self.session is None:
            raise RuntimeError("the run has not been set up yet: call run() first")
        return self.session.model.state_dict()

    # -- the run ------------------------------------------------------------------------------------------------------

    def run(self) -> Finished | Failed:
        """Train until done, stopped or failed; returns the last event."""
        prev_det = torch.are_deterministic_algorithms_enabled()
        try:
            return self._train()
        except (TrainingError, DataError) as exc:
            return self._fail(exc.code, exc.message, exc.hint)
        except ConfigError as exc:
            return self._fail(exc.code, str(exc))
        except OSError as exc:  # a full disk or a read-only run folder: one line, not three chained tracebacks
            return self._fail(*self._io_problem(exc))
        except Exception as exc:  # a run must never take its caller (the designer window) down with it
            if _is_oom(exc):
                b = self.config.batch_size
                return self._fail(
                    "oom",
                    f"out of memory at batch size {b}",
                    f"try a smaller batch, e.g. --batch-size {max(1, b // 2)}",
                )
            if "DataLoader worker" in str(exc):  # killed by the system (out of memory) or by a signal
                return self._fail(
                    "data.worker_died",
                    f"a data-loading worker process died: {' '.join(str(exc).split())}",
                    "train with fewer workers (--workers 0 loads in the main process)",
                )
            return self._fail("error", f"{type(exc).__name__}: {exc}", details=traceback.format_exc())
        finally:
            if torch.are_deterministic_algorithms_enabled() != prev_det:  # the call imports torch._dynamo (1.7 s)
                torch.use_deterministic_algorithms(prev_det)
            self._teardown()

    def _train(self) -> Finished:
        loop = self._loop = self._setup()
        ending = loop.run()
        return self._finish(ending, loop.elapsed())

    def _setup(self) -> TrainingLoop:
        cfg = self.config
        cfg.check()
        where = self._place()
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=where.device.type != "cpu")
        torch.manual_seed(cfg.seed)
        generated = cfg.samples if cfg.data.partition(":")[0] in ("shapes", "shapes-scenes") else 0
        info = build_model(self.graph, cfg.seed, cfg.batch_size, generated, cfg.to_dict())
        bundle = self.bundle = self._load_data(info)
        notes = list(bundle.notes)
        if cfg.init_weights and not self.resuming:
            notes.append(load_weights(info.model, cfg.init_weights))
        session, loaders = open_session(self.graph, cfg, info, bundle, where)
        self.session = session
        outputs = self._outputs = self._open_run_dir(session, bundle, info)
        self._emit(
            RunStarted(
                run_dir=str(self.run_dir),
                device=str(session.device),
                precision=session.precision,
                total_steps=session.total_steps,
                start_step=self.state.step,
                steps_per_epoch=session.steps_per_epoch,
                epochs=cfg.epochs,
                classes=tuple(bundle.classes),
                train_samples=len(bundle.train),
                val_samples=bundle.val_samples,
                world_size=self.dist.world_size,
                notes=tuple(notes),
            )
        )
        return TrainingLoop(session, loaders, self.state, self._control, outputs)

    def _place(self) -> Placement:
        """Resolve the device and precision, and join the process group under torchrun."""
        device = resolve_device(self.config.device, self.dist.local_rank if self.dist.enabled else None)
        precision, amp = resolve_precision(self.config.precision, device)
        distributed.init(self.dist, device)
        return Placement(self.dist, device, precision, amp)

    def _load_data(self, info: ModelInfo) -> DataBundle:
        cfg = self.config
        if self._data_cache is not None:
            bundle = self._data_cache.load(cfg, info.input_shape)
        else:
            bundle = load_run_data(cfg, info.input_shape)
        boxes = detection_head(cfg)[1]
        head = detection_kind(cfg)
        check_classes(info.outputs, info.output_id, bundle.classes, str(bundle.spec), cfg.task, boxes, head)
        return bundle

    def _open_run_dir(self, session: Session, bundle: DataBundle, info: ModelInfo) -> RunOutputs:
        """Restore the state of a resumed run, or make the folder of a new one; then open its outputs."""
        inference = InferenceInfo(tuple(bundle.classes), bundle.mean, bundle.std, info.input_shape)
        contents = CheckpointContents(self.graph, self.config, inference, session.trainables)
        if self.resuming:
            self.state = restore_checkpoint(self._folder() / runs.LAST, session.trainables, self.config)
        elif self.dist.is_main:
            self._create_run_dir(session, bundle)
        folder = self._folder() if self.dist.is_main else None
        truncate = self.state.step if self.resuming else None
        outputs = RunOutputs(folder, self._emit, contents, truncate, session.task.metric_names)
        outputs.status("running", epoch=self.state.epoch, step=self.state.step)
        return outputs

    def _create_run_dir(self, session: Session, bundle: DataBundle) -> None:
        if self.run_dir is None:
            self.run_dir = runs.new_run_dir(self._runs_root)
        elif (self.run_dir / runs.LAST).exists():
            raise TrainingError(
                "run.exists",
                f"{self.run_dir} already holds a run",
                "resume it with --resume, or choose another --out",
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / runs.PROJECT).write_text(self.project_json, encoding="utf-8")
        runs.write_json(self.run_dir / runs.CONFIG, _record(self.config, session, bundle))

    def _folder(self) -> Path:
        if self.run_dir is None:
            raise TrainingError("run.no_folder", "this run has no folder to read or write")
        return self.run_dir

    def _finish(self, ending: Ending, elapsed_s: float) -> Finished:
        st = self.state
        if self._outputs is not None:
            self._outputs.status(
                ending,
                epoch=st.epoch,
                step=st.step,
                best_val_accuracy=st.best_accuracy,
                skipped_images=st.skipped_images,
            )
        event = Finished(str(self.run_dir), ending, st.epoch, st.step, st.best_accuracy, elapsed_s, st.skipped_images)
        self._emit(event)
        return event

    def _io_problem(self, exc: OSError) -> tuple[str, str, str]:
        """(code, message, hint) for an OSError: the run folder cannot be written, or a file cannot be read."""
        what = exc.strerror or str(exc)
        name = os.fspath(exc.filename) if exc.filename else ""
        folder = str(self.run_dir) if self.run_dir else ""
        if folder and os.path.abspath(name).startswith(os.path.abspath(folder)):
            return (
                "io.write_failed",
                f"cannot write the run folder {folder}: {what} ({os.path.basename(name)})",
                "free some space or choose another folder (--out), then resume",
            )
        return "io.error", f"{what}: {name}" if name else what, "check that the file exists and can be read"

    def _fail(self, code: str, message: str, hint: str = "", details: str = "") -> Failed:
        last = self.run_dir / runs.LAST if self.run_dir else None
        checkpoint = str(last) if last is not None and last.exists() else None
        if self.dist.is_main and self.run_dir is not None and (self.run_dir / runs.CONFIG).exists():
            try:
                runs.write_status(
                    self.run_dir,
                    "failed",
                    epoch=self.state.epoch,
                    step=self.state.step,
                    code=code,
                    message=message,
                    best_val_accuracy=self.state.best_accuracy,
                )
            except OSError:  # the folder refuses even this small write: the event still says why
                pass
        run_dir = str(self.run_dir) if self.run_dir else None
        event = Failed(code, message, hint, self.state.step, run_dir, checkpoint, details)
        self._emit(event)
        return event

    def _teardown(self) -> None:
        if self._outputs is not None:
            self._outputs.close()
            self._outputs = None
        # Dropping the loop drops its loaders, which ends their worker processes now rather than at garbage collection.
        self._loop = None
        if self.dist.enabled:
            distributed.shutdown()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _emit(self, event: Event) -> None:
        if not self.dist.is_main or self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception as exc:  # a broken listener must not end the run it listens to
            self.callback_errors.append(exc)


def load_run_data(cfg: TrainConfig, input_shape: tuple[int, ...]) -> DataBundle:
    """The samples a run with ``cfg`` trains and validates on (the window loads the same ones to explain the model)."""
    if cfg.task != "classification":
        from .task_data import load_task_data

        augment = Augment.from_dict(cfg.augment)
        return load_task_data(
            cfg.task,
            cfg.data,
            input_shape,
            val_split=cfg.val_split,
            seed=cfg.seed,
            augment=augment,
            samples=cfg.samples,
            normalize=cfg.normalize,
        )
    return load_data(
        cfg.data,
        input_shape,
        val_split=cfg.val_split,
        seed=cfg.seed,
        augment=Augment.from_dict(cfg.augment),
        samples=cfg.samples,
        download=cfg.download,
        normalize=cfg.normalize,
    )


class DataCache:
    """The data the last run loaded, handed to the next run whose data settings and input shape are the same.

    A sweep's trials usually train on the same samples: generating the shapes dataset once instead of per trial
    saves each trial what a plain run spends on it. The datasets are read-only during a run, so runs one after
    another may share them; the cache keeps one bundle, so memory stays that of one run.
    """

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._bundle: DataBundle | None = None

    def load(self, cfg: TrainConfig, input_shape: tuple[int, ...]) -> DataBundle:
        """``load_run_data(cfg, input_shape)``, or the bundle it returned last time for the same arguments."""
        key = (cfg.task, cfg.data, tuple(input_shape), cfg.val_split, cfg.seed, cfg.augment, cfg.samples, cfg.normalize)
        if self._bundle is None or key != self._key:
            self._bundle = None  # free the old samples before drawing the new ones
            self._bundle, self._key = load_run_data(cfg, input_shape), key
        return self._bundle


def _record(config: TrainConfig, session: Session, bundle: DataBundle) -> dict[str, Any]:
    """The run's reproducibility record: settings as given and as resolved, the data, and versions."""
    resolved = {
        "device": str(session.device),
        "precision": session.precision,
        "channels_last": session.prep.channels_last,
        "compiled": session.compiled,
        "workers": session.workers,
        "data_on_device": session.data_on_device,
        "log_every": session.log_every,
        "world_size": session.dist.world_size,
        "steps_per_epoch": session.steps_per_epoch,
        "frozen": list(session.frozen),
        "deterministic": config.deterministic,
    }
    return {
        "config": config.to_dict(),
        "resolved": resolved,
        "data": bundle.describe(),
        "versions": runs.versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def _is_oom(exc: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or "out of memory" in str(exc).lower()
