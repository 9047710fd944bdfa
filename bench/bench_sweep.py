"""Sweep overhead per trial: each trial of a sweep against a plain training run of the same design and settings.

Run: ``python bench/bench_sweep.py [--trials N] [--samples S] [--epochs E]``. The sweep runs with SQLite storage and
no pruner (every trial trains fully); when a trial ends, its design and settings are trained again with
``designer.training.api.train`` in the same process, right there, so both sides see the same machine load, and the
plain runs' time is taken out of the sweep's. The overhead is (sweep time - plain time) / plain time over the
trials, by the wall clock and by the process's CPU time (which other users of a shared machine leave unchanged;
the wall clock there varies by tens of percent from one run to the next). The start-up (opening the storage,
creating its tables and the study) and the imports of Optuna and SQLAlchemy are printed apart: a worker pays them
once, as it pays torch's import. The sweep's trials share the dataset the first one generated, where each plain run
generates its own; the last line says what that saves. The target is at most 5 %. Not a test: it prints the numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from designer.editing.templates import load_template
from designer.model.graph import Graph
from designer.sweep.events import SweepEvent, SweepStarted, TrialEnded, TrialStarted
from designer.sweep.runner import Sweep, SweepOptions
from designer.sweep.space import apply
from designer.training.api import Finished, train
from designer.training.engine import load_run_data

TARGET = 0.05


def _now() -> tuple[float, float]:
    """Wall-clock and process CPU seconds: the CPU time is what a shared machine's other load leaves unchanged."""
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _now()
    return wall - start[0], cpu - start[1]


class _Interleaved:
    """Trains each ended trial's values again as a plain run and keeps the times apart from the sweep's."""

    def __init__(self, graph: Graph, folder: Path) -> None:
        self.graph, self.folder = graph, folder
        self.plain: list[tuple[float, float]] = []
        self.swept: list[tuple[float, float]] = []
        self.values: dict[int, dict[str, object]] = {}
        self.started: tuple[float, float] | None = None
        self.mark = (0.0, 0.0)
        self.failed = ""

    def __call__(self, event: SweepEvent) -> None:
        if isinstance(event, SweepStarted):
            self.started = self.mark = _now()
        if isinstance(event, TrialStarted):
            self.values[event.number] = event.values
        if not isinstance(event, TrialEnded):
            return
        self.swept.append(_since(self.mark))
        t0 = _now()
        design, config = apply(self.graph, self.values[event.number])
        result = train(design, config, run_dir=self.folder / f"plain-{event.number}")
        self.plain.append(_since(t0))
        self.mark = _now()
        if not isinstance(result, Finished):
            self.failed = f"plain run of trial {event.number} failed: {result.message}"


def _graph(samples: int, epochs: int) -> Graph:
    graph = load_template("small_cnn")
    graph.extra["training"] = dict(samples=samples, epochs=epochs, device="cpu", workers=0, batch_size=64)
    graph.extra["search"] = {"lr": {"float": [1e-4, 1e-2], "log": True}, "conv1.out_channels": {"int": [8, 16]}}
    return graph


def _warm_up(graph: Graph, folder: Path) -> float:
    """torch's first run and the sweep libraries' imports belong to neither side; returns the imports' seconds."""
    design, config = apply(graph, {"lr": 1e-3, "conv1.out_channels": 8})
    train(design, config.replace(epochs=1), run_dir=folder / "warm-up")
    t0 = time.perf_counter()
    import optuna  # noqa: F401
    import sqlalchemy  # noqa: F401

    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    print(
        f"# python {platform.python_version()}, torch {torch.__version__}, {platform.machine()}, "
        f"{torch.get_num_threads()} threads, CPU"
    )
    graph = _graph(args.samples, args.epochs)
    with tempfile.TemporaryDirectory() as tmp:
        imports = _warm_up(graph, Path(tmp))
        t0 = time.perf_counter()
        load_run_data(apply(graph, {})[1], (1, 28, 28))
        data_s = time.perf_counter() - t0
        plain = _Interleaved(graph, Path(tmp))
        sweep = Sweep(
            graph, SweepOptions(trials=args.trials, pruner="none", out=str(Path(tmp) / "sweep")), on_event=plain
        )
        t0 = _now()
        ended = sweep.run()
        end = _since(t0)  # the sweep's end after its last trial is counted with the trials
    if plain.failed or ended.best_number is None or plain.started is None:
        print(plain.failed or f"the sweep ended {ended.reason} without a complete trial")
        return 1
    n = len(plain.plain)
    print(
        f"once per worker: optuna and sqlalchemy imports {imports:.2f} s, "
        f"storage and study start-up {plain.started[0] - t0[0]:.2f} s"
    )
    for k, clock in enumerate(("wall", "CPU")):
        swept = sum(s[k] for s in plain.swept) + (t0[k] + end[k] - plain.mark[k])
        base = sum(p[k] for p in plain.plain)
        overhead = (swept - base) / base
        verdict = "meets" if overhead <= TARGET else "misses"
        ratios = ", ".join(f"{s[k] / p[k]:.3f}" for s, p in zip(plain.swept, plain.plain, strict=True))
        print(
            f"{clock:>4}: {swept / n:.2f} s per trial in the sweep, {base / n:.2f} s per plain run (each: {ratios}); "
            f"overhead {overhead:+.1%} ({(swept - base) / n:+.3f} s per trial), {verdict} the target of {TARGET:.0%}"
        )
    print(f"a plain run generates its dataset ({data_s:.2f} s); the sweep's trials share the first one's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
