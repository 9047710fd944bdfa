"""Sweep overhead per trial: a sweep of N trials against N plain training runs of the same designs and settings.

Run: ``python bench/bench_sweep.py [--trials N] [--samples S] [--epochs E]``. The sweep runs first (SQLite storage,
median pruner off so every trial trains fully); then each trial's design and settings are trained again with
``designer.training.api.train`` in the same process. The overhead is (sweep time - plain time) / plain time, with
the storage set-up counted in the sweep. The target is at most 5 %. Not a test: it prints the numbers.
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
from designer.sweep.events import TrialStarted
from designer.sweep.runner import Sweep, SweepOptions
from designer.sweep.space import apply
from designer.training.api import Finished, train

TARGET = 0.05


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
    graph = load_template("small_cnn")
    graph.extra["training"] = dict(samples=args.samples, epochs=args.epochs, device="cpu", workers=0, batch_size=64)
    graph.extra["search"] = {"lr": {"float": [1e-4, 1e-2], "log": True}, "conv1.out_channels": {"int": [8, 16]}}
    with tempfile.TemporaryDirectory() as tmp:
        # Warm up: torch's first import and the first run's one-time costs belong to neither side.
        design, config = apply(graph, {"lr": 1e-3, "conv1.out_channels": 8})
        train(design, config.replace(epochs=1), run_dir=Path(tmp) / "warm-up")
        started: list[TrialStarted] = []
        options = SweepOptions(trials=args.trials, pruner="none", out=str(Path(tmp) / "sweep"))
        sweep = Sweep(graph, options, on_event=lambda e: started.append(e) if isinstance(e, TrialStarted) else None)
        t0 = time.perf_counter()
        ended = sweep.run()
        swept = time.perf_counter() - t0
        if ended.best_number is None:
            print(f"the sweep ended {ended.reason} without a complete trial")
            return 1
        t0 = time.perf_counter()
        for k, trial in enumerate(started):
            design, config = apply(graph, trial.values)
            result = train(design, config, run_dir=Path(tmp) / f"plain-{k}")
            if not isinstance(result, Finished):
                print(f"plain run {k} failed: {result.message}")
                return 1
        plain = time.perf_counter() - t0
    overhead = (swept - plain) / plain
    per_trial = (swept - plain) / max(1, len(started))
    verdict = "meets" if overhead <= TARGET else "misses"
    print(f"sweep of {len(started)} trials: {swept:.2f} s; plain runs: {plain:.2f} s")
    print(f"overhead {overhead:+.1%} ({per_trial:+.2f} s per trial); {verdict} the target of {TARGET:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
