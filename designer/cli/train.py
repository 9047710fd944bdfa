"""``python -m designer train FILE``: headless training with a progress bar; also runs under ``torchrun``.

Settings come from the project's ``training`` section, then the flags given here override them. torch and tqdm are
imported only when the command runs (the parser is built for every sub-command).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..training.config import OPTIMIZERS, PRECISIONS, SCHEDULES, ConfigError
from ..training.events import (
    CheckpointSaved,
    EpochEnded,
    Event,
    Failed,
    Finished,
    Note,
    Paused,
    Resumed,
    RunStarted,
    StepEnded,
    format_duration,
    to_json,
    unhandled,
)
from .common import EXIT_OK, SubCommands, exit_for

if TYPE_CHECKING:
    from tqdm import tqdm

    from ..training.engine import Trainer

#: Stopped by the user (130, as for SIGINT); a failed run exits 1 or 2 as ``common.exit_for`` says.
EXIT_INTERRUPTED = 130


def register(sub: SubCommands) -> None:
    """Add the ``train`` sub-command."""
    p = sub.add_parser(
        "train",
        help="train a design (also under torchrun for several GPUs or machines)",
        description="Train FILE. Settings default to the project's 'training' section; flags override.",
    )
    p.add_argument("file", nargs="?", help="project file (omit with --resume)")
    p.add_argument("--data", help="shapes | mnist:ROOT | fashion-mnist:ROOT | cifar10:ROOT | folder:PATH")
    p.add_argument("--samples", type=int, help="samples drawn for the shapes dataset")
    p.add_argument("--val-split", type=float, help="share of the data held out for validation (0.1)")
    p.add_argument("--augment", help="comma list: crop,resized_crop,hflip,vflip,rotation=15,color_jitter=0.2,affine")
    p.add_argument("--normalize", choices=("auto", "imagenet", "none"))
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="per process under torchrun")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--momentum", type=float)
    p.add_argument("--nesterov", action="store_true", default=None)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--schedule", choices=SCHEDULES)
    p.add_argument("--step-size", type=int, help="epochs between drops of the step schedule")
    p.add_argument("--gamma", type=float, help="factor of each drop of the step schedule")
    p.add_argument("--label-smoothing", type=float)
    p.add_argument(
        "--warmup-epochs", type=float, help="epochs (0.1 is a tenth of one) over which the lr rises linearly from 0"
    )
    p.add_argument("--clip-grad-norm", type=float, help="scale the gradients down to this total norm (0: off)")
    _add_run_flags(p)
    p.set_defaults(run=cmd_train)


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    """The flags about where and how the run goes, rather than what it learns."""
    p.add_argument("--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    p.add_argument("--precision", choices=PRECISIONS, help="auto is bf16/fp16 on CUDA, fp32 elsewhere")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile the model (default: on for CUDA, off on the CPU)",
    )
    p.add_argument("--workers", type=int, help="DataLoader workers (-1 picks for the device)")
    p.add_argument("--seed", type=int)
    p.add_argument("--deterministic", action="store_true", default=None, help="deterministic algorithms")
    p.add_argument("--download", action="store_true", default=None, help="let torchvision download the dataset")
    p.add_argument("--init-weights", help="checkpoint or torchvision state_dict to start from")
    p.add_argument("--log-every", type=int, help="steps between progress reports")
    p.add_argument("--out", help="run folder to create (default: runs/<file stem>/<time> beside FILE)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.add_argument(
        "--save-config", action="store_true", help="write the resulting settings into FILE's 'training' section"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json-events", action="store_true", help="print every event as one JSON line on stdout")


_FLAG_FIELDS = (
    "data",
    "samples",
    "val_split",
    "normalize",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "momentum",
    "nesterov",
    "weight_decay",
    "schedule",
    "step_size",
    "gamma",
    "label_smoothing",
    "warmup_epochs",
    "clip_grad_norm",
    "device",
    "precision",
    "channels_last",
    "compile",
    "workers",
    "seed",
    "deterministic",
    "download",
    "init_weights",
    "log_every",
)


def parse_augment(text: str) -> dict[str, Any]:
    """``"hflip,rotation=15"`` -> ``{"hflip": True, "rotation": 15.0}``."""
    out: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, _, value = item.partition("=")
        out[name.strip().replace("-", "_")] = float(value) if value else True
    return out


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags (None = not given)."""
    values = {k: getattr(args, k) for k in _FLAG_FIELDS if getattr(args, k) is not None}
    if args.augment is not None:
        values["augment"] = parse_augment(args.augment)
    return values


def cmd_train(args: argparse.Namespace) -> int:
    """Train the project (or resume the run) named by ``args``; returns the exit code."""
    from ..model.fileformat import ProjectError, load, save
    from ..training import distributed
    from ..training.config import read_section, write_section
    from ..training.engine import Trainer
    from ..training.runs import default_runs_root
    from ..training.setup import TrainingError

    where = args.file or args.resume or "train"
    try:
        if args.resume:
            trainer = Trainer.from_run_dir(args.resume, **overrides(args))
        else:
            if not args.file:
                raise ConfigError("file", "give a project FILE, or --resume RUN_DIR")
            graph = load(args.file, error_handler=lambda d: print(f"{args.file}: {d}", file=sys.stderr))
            ignored: list[str] = []
            config = read_section(graph, ignored).replace(**overrides(args))
            for key in ignored:
                print(f"{args.file}: note: unknown training setting {key!r} ignored", file=sys.stderr)
            if args.save_config and distributed.from_env().is_main:
                write_section(graph, config)
                save(graph, args.file)
            trainer = Trainer(graph, config, run_dir=args.out, runs_root=default_runs_root(args.file, graph.name))
    except ProjectError:
        raise  # the main CLI reports unreadable files with exit code 2
    except (ConfigError, TrainingError, ValueError) as exc:
        print(f"{where}: error: {exc}", file=sys.stderr)
        return exit_for(str(getattr(exc, "code", "")))
    try:
        return _run(trainer, where, args)
    finally:
        if distributed.from_env().enabled:
            # Free the model (an fx GraphModule in reference cycles) now rather than in interpreter shutdown, which
            # can abort a torchrun process after its group has ended (distributed.shutdown says how often).
            del trainer
            gc.collect()


def _run(trainer: Trainer, where: str, args: argparse.Namespace) -> int:
    from ..training import distributed

    show = distributed.from_env().is_main
    reporter = _Reporter(where, quiet=args.quiet or not show, json_events=args.json_events)
    trainer.on_event = reporter
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, _interrupt_handler(trainer, reporter))
    try:
        result = trainer.run()
    finally:
        signal.signal(signal.SIGINT, previous)
        reporter.close()
    if isinstance(result, Failed):
        return exit_for(result.code)
    return EXIT_INTERRUPTED if result.status == "stopped" else EXIT_OK


def _interrupt_handler(trainer: Trainer, reporter: _Reporter) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        if trainer.stop_requested:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, the last checkpoint stays
        trainer.stop()
        reporter.say("stopping after this step and saving a checkpoint (Ctrl-C again to abort)")

    return handler


class _Reporter:
    """Turns events into a tqdm bar, one line per epoch, and messages on stderr."""

    def __init__(self, where: str, quiet: bool, json_events: bool):
        self.where, self.quiet, self.json_events = where, quiet, json_events
        self.bar: tqdm[Any] | None = None
        self.headline = "val_acc"  # the metric that picks the best checkpoint, as the epochs report it

    def __call__(self, event: Event) -> None:
        if self.json_events:
            print(json.dumps(to_json(event), default=str), flush=True)
        # One case per event class: mypy checks the match covers the whole Event union.
        match event:
            case RunStarted():
                self._on_run_started(event)
            case StepEnded():
                self._on_step_ended(event)
            case EpochEnded():
                self._on_epoch_ended(event)
            case Note():
                self._on_note(event)
            case Finished():
                self._on_finished(event)
            case Failed():
                self._on_failed(event)
            case CheckpointSaved() | Paused() | Resumed():
                pass  # the terminal has nothing to show for these
            case _:
                unhandled(event)

    def say(self, text: str, err: bool = True) -> None:
        """Print a line on stderr (or stdout) without breaking the progress bar."""
        if self.json_events and not err:
            return
        stream = sys.stderr if err else sys.stdout
        if self.bar is not None:
            self.bar.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)

    def _on_run_started(self, e: RunStarted) -> None:
        self.say(
            f"training on {e.device} ({e.precision}{f', {e.world_size} processes' if e.world_size > 1 else ''})"
            f": {e.train_samples} training / {e.val_samples} validation samples, {len(e.classes)} classes; "
            f"run folder {e.run_dir}",
            err=False,
        )
        for note in e.notes:
            self.say(f"{self.where}: note: {note}")
        if not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(
                total=e.total_steps,
                initial=e.start_step,
                unit="step",
                dynamic_ncols=True,
                file=sys.stderr,
                desc=f"epoch {e.start_step // max(1, e.steps_per_epoch) + 1}/{e.epochs}",
            )

    def _on_step_ended(self, e: StepEnded) -> None:
        if self.bar is not None:
            self.bar.update(e.step - self.bar.n)
            self.bar.set_postfix_str(
                f"loss {e.loss:.4f} acc {e.accuracy:.1%} {e.samples_per_s:,.0f} samples/s "
                f"ETA {format_duration(e.eta_s)}",
                refresh=False,
            )

    def _on_epoch_ended(self, e: EpochEnded) -> None:
        self.headline = e.headline
        val = f" | val loss {e.val_loss:.4f} acc {e.val_accuracy:.1%}" if e.val_loss is not None else ""
        if e.val_loss is not None and e.headline != "val_acc":  # segmentation, detection: the task's own metrics
            shown = {k: v for k, v in e.metrics.items() if "/" not in k}  # per-class values are in metrics.csv
            val = f" | val loss {e.val_loss:.4f} " + " ".join(
                f"{k.removeprefix('val_')} {v:.3f}" for k, v in shown.items()
            )
        self.say(
            f"epoch {e.epoch}/{e.epochs}: train loss {e.train_loss:.4f} acc {e.train_accuracy:.1%}{val} | "
            f"{e.samples_per_s:,.0f} samples/s, {format_duration(e.elapsed_s)} elapsed",
            err=False,
        )
        if self.bar is not None and e.epoch < e.epochs:
            self.bar.set_description(f"epoch {e.epoch + 1}/{e.epochs}", refresh=False)

    def _on_note(self, e: Note) -> None:
        self.say(f"{self.where}: note: {e.message}")

    def _on_finished(self, e: Finished) -> None:
        self.close()
        best = ""
        if e.best_val_accuracy is not None:
            best = (
                f", best validation accuracy {e.best_val_accuracy:.1%}"
                if self.headline == "val_acc"
                else f", best {self.headline.removeprefix('val_')} {e.best_val_accuracy:.3f}"
            )
        skipped = f", {e.skipped_images} unreadable image(s) skipped" if e.skipped_images else ""
        self.say(
            f"{e.status} after {e.epoch} epoch(s), {e.step} steps in {format_duration(e.elapsed_s)}{best}"
            f"{skipped}; run folder {e.run_dir}",
            err=False,
        )

    def _on_failed(self, e: Failed) -> None:
        self.close()
        hint = f" (hint: {e.hint})" if e.hint else ""
        self.say(f"{self.where}: error: {e.message}{hint}")
        if e.details and os.environ.get("CNN_DESIGNER_TRACEBACK"):  # one line for the user; the trace on request
            self.say(e.details.rstrip())
        if e.checkpoint:
            self.say(f"{self.where}: the last good checkpoint is {e.checkpoint}")

    def close(self) -> None:
        """Close the progress bar, if one is shown."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
