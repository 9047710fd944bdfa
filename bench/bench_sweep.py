"""Sweep overhead per trial: each trial of a sweep against a plain training run of the same design and settings.

Run: ``python bench/bench_sweep.py [--trials N] [--samples S] [--epochs E]``. The sweep runs with SQLite storage and
no pruner (every trial trains fully); when a trial ends, its design and settings are trained again with
``designer.training.api.train`` in the same process, right there, so both sides see the same machine load. The
time of those plain runs is taken out of the sweep's. The per-trial overhead is (sweep time - plain time) / plain
time over the trials; the start-up (opening the storage, creating its tables and the study: once per worker) is
printed apart, as are the imports of Optuna and SQLAlchemy, which a worker pays once as it pays torch's. The target
is at most 5 %. Not a test: it prints the numbers.
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


class _Interleaved:
    """Trains each ended trial's values again as a plain run and keeps the times apart from the sweep's."""

    def __init__(self, graph: Graph, folder: Path) -> None:
        self.graph, self.folder = graph, folder
        self.plain: list[float] = []
        self.swept: list[float] = []
        self.values: dict[int, dict[str, object]] = {}
        self.started_at: float | None = None
        self._mark = 0.0
        self.failed = ""

    def __call__(self, event: SweepEvent) -> None:
        if isinstance(event, SweepStarted):
            self.started_at = self._mark = time.perf_counter()
        if isinstance(event, TrialStarted):
            self.values[event.number] = event.values
        if not isinstance(event, TrialEnded):
            return
        t0 = time.perf_counter()
        self.swept.append(t0 - self._mark)
        design, config = apply(self.graph, self.values[event.number])
        result = train(design, config, run_dir=self.folder / f"plain-{event.number}")
        self._mark = time.perf_counter()
        self.plain.append(self._mark - t0)
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
        t0 = time.perf_counter()
        ended = sweep.run()
        total = time.perf_counter() - t0
    if plain.failed or ended.best_number is None or plain.started_at is None:
        print(plain.failed or f"the sweep ended {ended.reason} without a complete trial")
        return 1
    startup, n = plain.started_at - t0, len(plain.plain)
    swept = total - startup - sum(plain.plain)  # the trials, and the sweep's end after the last one
    overhead = (swept - sum(plain.plain)) / sum(plain.plain)
    ratios = sorted(s / p for s, p in zip(plain.swept, plain.plain, strict=True))
    verdict = "meets" if overhead <= TARGET else "misses"
    print(f"once per worker: optuna and sqlalchemy imports {imports:.2f} s, storage and study start-up {startup:.2f} s")
    print(f"{n} trials: {swept / n:.2f} s per trial in the sweep, {sum(plain.plain) / n:.2f} s per plain run")
    print(f"each trial, sweep / plain: {', '.join(f'{r:.3f}' for r in ratios)} (median {ratios[n // 2]:.3f})")
    print(
        f"overhead per trial {overhead:+.1%} ({(swept - sum(plain.plain)) / n:+.3f} s); {verdict} the target of "
        f"{TARGET:.0%}. The sweep generates the dataset once (a plain run: {data_s:.2f} s each), which offsets "
        "part of the storage round trips"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
