"""``python -m designer sweep FILE --trials N``: search the project's ``search`` space with Optuna, one run per trial.

Run the same command on other machines with the same ``--storage`` (a PostgreSQL or MySQL URL) and ``--study``
to add workers; run it again to resume. Under ``torchrun`` each trial trains on all the processes (rank 0 draws it
and reports; designer/sweep/ranks.py). torch and Optuna are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from ..sweep.events import SweepEnded, SweepEvent, SweepStarted, TrialEnded, TrialProgress, TrialStarted
from ..sweep.study import OBJECTIVES, PRUNERS
from ..training.events import EpochEnded
from .common import EXIT_INVALID, EXIT_OK, SubCommands, exit_for, report

if TYPE_CHECKING:
    from ..sweep.runner import Sweep

#: Stopped by the user (130, as ``train``); a sweep in which no trial completed exits 1.
EXIT_INTERRUPTED = 130


def register(sub: SubCommands) -> None:
    """Add the ``sweep`` sub-command."""
    p = sub.add_parser(
        "sweep",
        help="search the project's 'search' space with Optuna (one run folder per trial)",
        description="Run trials of FILE's search space until the study holds N. Several workers may share a study; "
        "under torchrun, every process trains each trial.",
    )
    p.add_argument("file", help="project file with a 'search' section")
    p.add_argument("--trials", type=int, default=10, help="trials the study should hold in all (10)")
    p.add_argument("--storage", help="sqlite:///FILE, postgresql://..., mysql://..., journal:FILE (default: an "
                   "SQLite file in the sweep folder)")  # fmt: skip
    p.add_argument("--study", help="study name (default: the file's stem)")
    p.add_argument("--timeout", type=float, metavar="S", help="start no trial after S seconds")
    p.add_argument("--objective", choices=tuple(OBJECTIVES), help="default: the task's headline (val_acc, val_miou...)")
    p.add_argument("--direction", choices=("max", "min"), help="default: max for accuracies, min for losses")
    p.add_argument("--pruner", choices=PRUNERS, default="median", help="median, halving (successive) or none")
    p.add_argument("--seed", type=int, help="sampler seed (default: the training seed)")
    p.add_argument("--out", help="sweep folder (default: runs/<file stem>/sweep-<study> beside FILE)")
    p.add_argument("--check", action="store_true", help="check the search space and exit")
    p.add_argument("--quiet", action="store_true", help="one line per trial only")
    p.set_defaults(run=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run the sweep of ``args.file``; returns the exit code."""
    from ..sweep.runner import SpaceError, Sweep, SweepOptions
    from ..sweep.study import SweepError
    from ..training.config import ConfigError
    from .common import open_design

    graph, problems = open_design(args.file)
    report(args.file, problems)
    options = SweepOptions(
        args.trials, args.storage, args.study, args.timeout, args.objective, args.direction, args.pruner, args.seed,
        args.out,
    )  # fmt: skip
    try:
        sweep = Sweep(graph, options, project_path=args.file, on_event=_Printer(args.quiet))
        if args.check:
            found = sweep.check()
            report(args.file, found)
            return EXIT_INVALID if any(d.is_error for d in found) else EXIT_OK
        result = _run(sweep)
    except SpaceError as exc:
        report(args.file, exc.diagnostics)
        return EXIT_INVALID
    except SweepError as exc:
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        print(f"{args.file}: error: {exc.message}{hint}", file=sys.stderr)
        return exit_for(exc.code)
    except ConfigError as exc:
        print(f"{args.file}: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if result.reason == "stopped":
        return EXIT_INTERRUPTED
    return EXIT_OK if result.best_number is not None else EXIT_INVALID


def _run(sweep: Sweep) -> SweepEnded:
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, _interrupt_handler(sweep))
    try:
        return sweep.run()
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_handler(sweep: Sweep) -> Callable[[int, FrameType | None], None]:
    asked: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if asked:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now; the next sweep resumes from the last checkpoint
        asked.append(signum)
        sweep.stop()
        print("stopping the trial after this step; run the same command to resume (Ctrl-C again to abort)",
              file=sys.stderr, flush=True)  # fmt: skip

    return handler


class _Printer:
    """One line per trial and per epoch on stdout; the sweep's start and end."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, event: SweepEvent) -> None:
        match event:
            case SweepStarted():
                print(
                    f"study {event.study!r} ({event.objective}, {event.direction}) in {event.storage}: "
                    f"{event.existing} of {event.trials} trials there; trial folders under {event.folder}",
                    flush=True,
                )
            case TrialStarted():
                values = ", ".join(f"{k}={v}" for k, v in event.values.items())
                print(f"trial {event.number}{' (resumed)' if event.resumed else ''}: {values}", flush=True)
            case TrialProgress(event=EpochEnded() as e) if not self.quiet:
                val = f", val loss {e.val_loss:.4f} acc {e.val_accuracy:.1%}" if e.val_accuracy is not None else ""
                print(f"  trial {event.number} epoch {e.epoch}/{e.epochs}: train loss {e.train_loss:.4f}{val}")
            case TrialEnded():
                value = f" {event.value:.6g}" if event.value is not None else ""
                why = f" ({event.message})" if event.message and event.state != "complete" else ""
                print(f"trial {event.number} {event.state}{value}{why}; run folder {event.run_dir}", flush=True)
            case SweepEnded():
                best = (
                    f"best trial {event.best_number} ({event.best_value:.6g}): {event.best_run_dir}"
                    if event.best_number is not None
                    else "no trial completed"
                )
                print(f"sweep {event.reason} after {event.trials_run} trial(s) here; {best}", flush=True)
            case _:
                pass
