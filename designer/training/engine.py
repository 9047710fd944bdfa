"""The trainer: sets up a run of a design snapshot, reports it through events, and ends it cleanly whatever happens.

``Trainer.run()`` never raises for a training problem: every failure becomes a ``Failed`` event (and the return
value), the last good checkpoint stays on disk, and a stopped run resumes at the batch where it stopped.
"""

from __future__ import annotations

import threading
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from ..model.fileformat import dumps, load, loads
from ..model.graph import Graph
from . import distributed, runs
from .config import ConfigError, TrainConfig, read_section
from .data import Augment, DataError, load_data
from .events import Event, EventCallback, Failed, Finished, RunStarted
from .loaders import ResumableSampler, ShardSampler, auto_workers, make_loader
from .loop import TrainingLoop
from .setup import (
    TrainingError,
    build_model,
    check_classes,
    freeze,
    load_weights,
    make_loss,
    make_optimizer,
    make_scheduler,
    param_groups,
    resolve_device,
    resolve_precision,
)
from .state import restore_checkpoint

#: Settings that may change when a run is resumed; the others decide which samples each step sees.
RESUME_OVERRIDES = ("epochs", "device", "workers", "log_every", "precision")


class Trainer(TrainingLoop):
    """Trains a copy of ``graph`` taken at construction: editing the design afterwards does not touch the run.

    ``pause()``, ``resume()`` and ``stop()`` may be called from any thread; ``run()`` blocks until the run ends.
    """

    def __init__(
        self,
        graph: Graph,
        config: TrainConfig | None = None,
        *,
        run_dir: str | Path | None = None,
        runs_root: str | Path | None = None,
        on_event: EventCallback | None = None,
    ):
        self.project_json = dumps(graph)
        self.graph = loads(self.project_json)
        self.config = config if config is not None else read_section(self.graph)
        self.on_event = on_event
        self.dist = distributed.from_env()
        self.run_dir: Path | None = Path(run_dir) if run_dir else None
        self._runs_root = Path(runs_root) if runs_root else runs.default_runs_root(None, graph.name)
        self._resuming = False
        self._stop_flag, self._go = threading.Event(), threading.Event()
        self._go.set()
        self.callback_errors: list[BaseException] = []
        self.model: torch.nn.Module | None = None
        self._writer: runs.MetricsWriter | None = None
        self.epoch = self.batch_in_epoch = self.step = self.samples = 0
        self.best: float | None = None
        self._ep = [0.0, 0.0, 0.0]  # loss sum, correct, count over the epoch so far
        self._elapsed0 = 0.0

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
        trainer = cls(load(run_dir / runs.PROJECT), config.replace(**overrides), run_dir=run_dir, on_event=on_event)
        trainer._resuming = True
        return trainer

    # -- control, from any thread -----------------------------------------------------------------------------------

    def stop(self) -> None:
        """End after the current step, saving a checkpoint that ``from_run_dir`` resumes exactly."""
        self._stop_flag.set()
        self._go.set()

    def pause(self) -> None:
        self._go.clear()

    def resume(self) -> None:
        self._go.set()

    @property
    def paused(self) -> bool:
        return not self._go.is_set()

    # -- the run ------------------------------------------------------------------------------------------------------

    def run(self) -> Finished | Failed:
        """Train until done, stopped or failed; returns the last event."""
        prev_det = torch.are_deterministic_algorithms_enabled()
        try:
            self._setup()
            return self._train()
        except (TrainingError, DataError) as exc:
            return self._fail(exc.code, exc.message, exc.hint)
        except ConfigError as exc:
            return self._fail(exc.code, str(exc))
        except Exception as exc:  # a run must never take its caller (the designer window) down with it
            if _is_oom(exc):
                b = self.config.batch_size
                return self._fail(
                    "oom",
                    f"out of memory at batch size {b}",
                    f"try a smaller batch, e.g. --batch-size {max(1, b // 2)}",
                )
            return self._fail("error", f"{type(exc).__name__}: {exc}", details=traceback.format_exc())
        finally:
            torch.use_deterministic_algorithms(prev_det)
            self._teardown()

    def _setup(self) -> None:
        cfg = self.config
        cfg.check()
        self.device = resolve_device(cfg.device, self.dist.local_rank if self.dist.enabled else None)
        self.precision, self._amp = resolve_precision(cfg.precision, self.device)
        distributed.init(self.dist, self.device)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=self.device.type != "cpu")
        torch.manual_seed(cfg.seed)
        info = build_model(self.graph, cfg.seed)
        self.input_shape = info.input_shape
        self.bundle = load_data(
            cfg.data,
            info.input_shape,
            val_split=cfg.val_split,
            seed=cfg.seed,
            augment=Augment.from_dict(cfg.augment),
            samples=cfg.samples,
            download=cfg.download,
            normalize=cfg.normalize,
        )
        check_classes(info.outputs, info.output_id, self.bundle.classes, str(self.bundle.spec))
        notes = list(self.bundle.notes)
        if cfg.init_weights and not self._resuming:
            notes.append(load_weights(info.model, cfg.init_weights))
        self._prepare_model(info)
        self._prepare_loaders()
        self._prepare_optimizer(info.outputs)
        self._open_run_dir()
        self._emit(
            RunStarted(
                str(self.run_dir),
                str(self.device),
                self.precision,
                self.total_steps,
                self.step,
                self.steps_per_epoch,
                cfg.epochs,
                tuple(self.bundle.classes),
                len(self.bundle.train),
                len(self.bundle.val or ()),
                self.dist.world_size,
                tuple(notes),
            )
        )

    def _prepare_model(self, info: Any) -> None:
        self.model = model = info.model
        self.frozen = freeze(model, self.graph)
        model.to(self.device)
        cl = self.config.channels_last
        self.channels_last = info.has_conv and (self.device.type == "cuda" if cl is None else cl)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        mean = torch.tensor(self.bundle.mean, device=self.device).view(1, -1, 1, 1)
        std = torch.tensor(self.bundle.std, device=self.device).view(1, -1, 1, 1)
        # (x / 255 - mean) / std as one multiply-add on the device.
        self._scale, self._shift = 1.0 / (255.0 * std), -mean / std
        self.wrapped = distributed.wrap(model, self.dist, self.device)

    def _prepare_loaders(self) -> None:
        cfg, b = self.config, self.bundle
        self.workers = cfg.workers if cfg.workers >= 0 else auto_workers(b.train, self.device, bool(cfg.augment))
        self.sampler = ResumableSampler(b.train, self.dist, cfg.seed)
        self.train_loader = make_loader(
            b.train, cfg.batch_size, self.sampler, self.workers, self.device, cfg.seed, train=True
        )
        self.val_loader = (
            None
            if b.val is None
            else make_loader(
                b.val,
                cfg.batch_size * 2,
                ShardSampler(len(b.val), self.dist),
                self.workers,
                self.device,
                cfg.seed,
                train=False,
            )
        )
        self.steps_per_epoch = len(self.train_loader)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self.log_every = cfg.log_every or (1 if self.device.type == "cpu" else 10)

    def _prepare_optimizer(self, outputs: int) -> None:
        cfg = self.config
        self.optimizer = make_optimizer(param_groups(self.model, self.graph, cfg.lr, cfg.weight_decay), cfg)
        self.scheduler, self.per_step_schedule = make_scheduler(self.optimizer, cfg, self.steps_per_epoch)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.loss_fn, self.correct_fn = make_loss(outputs, cfg.label_smoothing)
        self._w_loss = torch.zeros((), device=self.device)
        self._w_correct = torch.zeros((), dtype=torch.long, device=self.device)
        self._w_n = 0
        self._bad_step = torch.full((), -1, dtype=torch.long, device=self.device)
        self.skipped = 0

    def _open_run_dir(self) -> None:
        if self._resuming:
            restore_checkpoint(self, self.run_dir / runs.LAST)
        elif self.dist.is_main:
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
            runs.write_json(self.run_dir / runs.CONFIG, self._record())
        if self.dist.is_main:
            self._writer = runs.MetricsWriter(
                self.run_dir / runs.METRICS, truncate_after_step=self.step if self._resuming else None
            )
            runs.write_status(self.run_dir, "running", epoch=self.epoch, step=self.step)

    def _record(self) -> dict[str, Any]:
        """The run's reproducibility record: settings as given and as resolved, the data, and versions."""
        resolved = {
            "device": str(self.device),
            "precision": self.precision,
            "channels_last": self.channels_last,
            "workers": self.workers,
            "log_every": self.log_every,
            "world_size": self.dist.world_size,
            "steps_per_epoch": self.steps_per_epoch,
            "frozen": self.frozen,
            "deterministic": self.config.deterministic,
        }
        return {
            "config": self.config.to_dict(),
            "resolved": resolved,
            "data": self.bundle.describe(),
            "versions": runs.versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }

    def _finish(self, status: str) -> Finished:
        if status == "stopped":
            self._save(best=False)
        if self.dist.is_main:
            runs.write_status(
                self.run_dir,
                status,
                epoch=self.epoch,
                step=self.step,
                best_val_accuracy=self.best,
                skipped_images=self.skipped,
            )
        event = Finished(str(self.run_dir), status, self.epoch, self.step, self.best, self.elapsed(), self.skipped)
        self._emit(event)
        return event

    def _fail(self, code: str, message: str, hint: str = "", details: str = "") -> Failed:
        last = self.run_dir / runs.LAST if self.run_dir else None
        checkpoint = str(last) if last is not None and last.exists() else None
        if self.dist.is_main and self.run_dir is not None and (self.run_dir / runs.CONFIG).exists():
            runs.write_status(
                self.run_dir,
                "failed",
                epoch=self.epoch,
                step=self.step,
                code=code,
                message=message,
                best_val_accuracy=self.best,
            )
        event = Failed(code, message, hint, self.step, str(self.run_dir) if self.run_dir else None, checkpoint, details)
        self._emit(event)
        return event

    def _teardown(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        # Dropping the loaders ends their worker processes now rather than at garbage collection.
        self.train_loader = self.val_loader = None
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

    def model_state_dict(self) -> dict[str, torch.Tensor]:
        """The trained weights (without any DistributedDataParallel wrapper)."""
        assert self.model is not None
        return self.model.state_dict()


def _is_oom(exc: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or "out of memory" in str(exc).lower()
