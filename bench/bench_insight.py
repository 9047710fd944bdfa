"""Live insight during training: how much the insight dock's refreshes slow a real training run.

The issue's bound: feature maps and Grad-CAM refreshing during training slow it by under 5 %. One run per view trains
the Small CNN template on the built-in shapes dataset with the real engine (CPU, one report per step, the most
frequent the engine sends) on a Python thread, as the training panel does, while this thread runs the Qt event loop.
Its epochs alternate: in odd epochs the engine's events feed ``InsightDock.on_training_event`` (live Grad-CAM or
feature maps of ``conv2``), in even epochs they go nowhere. Neighbouring epochs see the same machine load, which a
loaded machine makes matter; the slowdown compares the median wall-clock durations of live and quiet epochs. Other
programs on a busy machine blur wall-clock time; the process's CPU time is not theirs, so the bench also prints the
CPU time live epochs cost on top of quiet ones: the slowdown training sees when it keeps every core busy.
``BENCH_EPOCHS`` and ``BENCH_SAMPLES`` change the amount of work.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BOUND = 0.05
EPOCHS = int(os.environ.get("BENCH_EPOCHS", "10"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "3000"))


def run(app: Any, method: str, runs_root: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]], Any]:
    """One training run whose odd epochs feed the dock: ((wall, cpu) seconds of live epochs, of quiet ones, dock)."""
    from designer.model import fileformat
    from designer.training.config import TrainConfig
    from designer.training.engine import Trainer

    graph = fileformat.load(ROOT / "templates" / "small_cnn.json")
    cfg = TrainConfig(
        data="shapes", samples=SAMPLES, epochs=EPOCHS, batch_size=64, workers=0, device="cpu", log_every=1, seed=0
    )
    holder: dict[str, Any] = {}
    dock = _dock(holder, method)
    marks: list[tuple[float, float]] = []

    def on_event(event: Any) -> None:
        if type(event).__name__ in ("RunStarted", "EpochEnded"):
            marks.append((time.perf_counter(), time.process_time()))
        if len(marks) % 2 == 0:  # after RunStarted and an even number of epochs: a live epoch
            dock.on_training_event(event)

    holder["t"] = trainer = Trainer(graph, cfg, runs_root=runs_root, on_event=on_event)
    thread = threading.Thread(target=trainer.run, name="training")
    thread.start()
    while thread.is_alive():
        app.processEvents()
        time.sleep(0.005)
    while not dock.idle:
        app.processEvents()
    if len(marks) != EPOCHS + 1:
        raise RuntimeError(f"training did not finish: {trainer.callback_errors}")
    durations = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(marks, marks[1:])]
    return durations[1::2], durations[0::2], dock


def _dock(holder: dict[str, Any], method: str) -> Any:
    """A dock showing ``method`` at ``conv2`` of the model ``holder["t"]`` trains, as the designer window wires it."""
    from designer.training.data import load_data
    from widgets.panels.insight_dock import InsightDock

    bundle = load_data("shapes", [1, 28, 28], samples=200)

    def model() -> Any:
        t = holder.get("t")
        return (t.model, t.graph) if t is not None and t.model is not None else None

    dock = InsightDock(model, lambda: bundle)
    dock.set_method(method)
    dock.set_node("conv2")
    return dock


def main() -> None:
    """Train once per live view and print the slowdowns."""
    import torch
    from PySide6.QtWidgets import QApplication

    print(
        f"# python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"{torch.get_num_threads()} torch threads, {platform.machine()}"
    )
    app = QApplication.instance() or QApplication([])
    steps = -(-int(SAMPLES * 0.9) // 64)
    print(
        f"Small CNN, shapes 1x28x28, {EPOCHS} epochs of {steps} steps of batch 64, one event per step; epochs "
        "alternate between live insight on and off"
    )
    with tempfile.TemporaryDirectory() as runs_root:
        for method in ("gradcam", "featuremaps"):
            live, quiet, dock = run(app, method, runs_root)
            wall = statistics.median(w for w, _ in live) / statistics.median(w for w, _ in quiet) - 1
            cpu = statistics.median(c for _, c in live) / statistics.median(c for _, c in quiet) - 1
            share = dock.throttle.spent / sum(w for w, _ in live)
            print(f"{method}: live epochs {_fmt(live)}; quiet epochs {_fmt(quiet)} (wall/CPU seconds)")
            print(
                f"{method}: slowdown {wall:+.1%} wall clock, {cpu:+.1%} CPU time (bound {BOUND:.0%}: "
                f"{'OK' if max(wall, cpu) < BOUND else 'OVER'}); {dock.throttle.refreshes} refreshes, their work "
                f"{share:.1%} of the live epochs' time"
            )


def _fmt(values: list[tuple[float, float]]) -> str:
    return " ".join(f"{w:.2f}/{c:.2f}" for w, c in values)


if __name__ == "__main__":
    main()
