"""Training throughput: the engine against hand-written torch loops, the live panel against the engine, and on a GPU
the speed-up of mixed precision with channels_last.

Targets (from the issue): engine / hand-written loop >= 0.95; panel / engine >= 0.90; longest UI stall < 50 ms.

    .venv/bin/python bench/bench_train.py [--samples 6000] [--epochs 1] [--repeats 3] [--threads N] [--no-gui]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
import torch.nn.functional as F

from designer.analysis.validate import analyze
from designer.compiler import compile_graph
from designer.editing.templates import load_template
from designer.training.api import Event, Failed, Finished, RunStarted, TrainConfig, train
from designer.training.data import load_data

TMP = Path(tempfile.mkdtemp(prefix="bench_train_"))


def environment() -> str:
    import torchvision

    return (
        f"python {platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"{os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, {platform.machine()}"
    )


def input_shape(graph) -> tuple[int, ...]:
    return tuple(analyze(graph).shape(graph.input_ids()[0]))


class Clock:
    """Wall and CPU seconds of the thread that calls ``start``/``stop`` (CPU time is what other processes on a busy
    machine cannot inflate; with one torch thread and no workers all training work runs in that thread)."""

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.thread_time()

    def stop(self) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.thread_time() - self.cpu


def engine_rate(graph, cfg: TrainConfig, n_train: int) -> tuple[float, float]:
    """Samples/s (wall, CPU) of ``designer.training.api`` with events consumed and metrics.csv written.

    The clock runs from the run's first event to its last, on the training thread: setup is not training.
    """
    clock = Clock()

    def on_event(e: Event) -> None:
        if isinstance(e, RunStarted):
            clock.start()
        elif isinstance(e, (Finished, Failed)):
            clock.stop()

    result = train(graph, cfg, on_event=on_event, run_dir=Path(tempfile.mkdtemp(dir=TMP)))
    assert isinstance(result, Finished), result
    return n_train * cfg.epochs / clock.wall, n_train * cfg.epochs / clock.cpu


def loop_rate(graph, cfg: TrainConfig, device: torch.device, tight: bool) -> tuple[float, float]:
    """A hand-written loop on the same model, data and device: Adam, cross-entropy, the same normalisation.

    ``tight=False`` feeds it as most scripts do (``TensorDataset`` + ``DataLoader(shuffle=True)``); ``tight=True``
    slices a shuffled tensor directly, the fastest feeding there is.
    """
    b = load_data(cfg.data, input_shape(graph), val_split=0.0, samples=cfg.samples, seed=cfg.seed)
    images, labels = b.train.images, b.train.labels
    mean = torch.tensor(b.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(b.std, device=device).view(1, -1, 1, 1)
    model = compile_graph(graph, seed=cfg.seed).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    bs = cfg.batch_size
    steps = len(labels) // bs
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(images, labels), batch_size=bs, shuffle=True, drop_last=True
    )
    model.train()
    clock = Clock()
    clock.start()
    for _ in range(cfg.epochs):
        if tight:
            perm = torch.randperm(len(labels))
            batches = ((images[perm[k * bs : (k + 1) * bs]], labels[perm[k * bs : (k + 1) * bs]]) for k in range(steps))
        else:
            batches = iter(loader)
        for x, y in batches:
            x = (x.to(device).float() / 255 - mean) / std
            loss = F.cross_entropy(model(x), y.to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    clock.stop()
    return steps * bs * cfg.epochs / clock.wall, steps * bs * cfg.epochs / clock.cpu


def gui_run(graph, cfg: TrainConfig, n_train: int, probe_ms: int = 0) -> tuple[float, float, float]:
    """Samples/s with the panel live and drawing; with ``probe_ms``, also the UI's longest and 99th-percentile
    stall in ms, measured by a timer of that period (the probe itself takes the GIL, so rates come from runs
    without it)."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from widgets.panels.training_panel import TrainingPanel

    app = QApplication.instance() or QApplication([])
    panel = TrainingPanel(lambda: (graph, None), runs_root=Path(tempfile.mkdtemp(dir=TMP)))
    panel.resize(1280, 800)
    panel.show()
    panel.form.set_config(cfg)
    ticks: list[float] = []
    probe = QTimer(interval=max(1, probe_ms), timeout=lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    if probe_ms:  # measured from the first event: setting up (imports, data) is not training and happens once
        panel.run_started.connect(lambda d: probe.start())
    panel.run_finished.connect(lambda e: loop.quit())
    panel.start()
    loop.exec()
    probe.stop()
    result = panel.last_event
    panel.close()
    panel.deleteLater()
    app.processEvents()
    assert isinstance(result, Finished), result
    gaps = sorted((b - a) * 1000 - probe_ms for a, b in zip(ticks, ticks[1:]))
    p99 = gaps[int(0.99 * (len(gaps) - 1))] if gaps else float("nan")
    return n_train * cfg.epochs / result.elapsed_s, max(gaps, default=float("nan")), p99


def median_of(repeats: int, fn) -> float:
    return statistics.median(fn() for _ in range(repeats))


def verdict(value: float, target: float, higher: bool = True) -> str:
    ok = value >= target if higher else value <= target
    return f"{'meets' if ok else 'MISSES'} target {'>=' if higher else '<='} {target}"


def figures(graph, cfg: TrainConfig, device: torch.device, args: argparse.Namespace) -> None:
    n_train = len(load_data(cfg.data, input_shape(graph), val_split=0.0, samples=cfg.samples, seed=cfg.seed).train)
    n_train -= n_train % cfg.batch_size  # full batches only, as both sides train
    engine_rate(graph, cfg.replace(epochs=1, samples=max(cfg.batch_size * 4, 256)), cfg.batch_size * 4)  # warm-up
    runs: dict[str, list[tuple[float, float]]] = {"dataloader": [], "slicing": [], "engine": []}
    gui: list[float] = []
    for _ in range(args.repeats):  # interleaved, so drifting machine load hits every side alike
        runs["dataloader"].append(loop_rate(graph, cfg, device, tight=False))
        runs["slicing"].append(loop_rate(graph, cfg, device, tight=True))
        runs["engine"].append(engine_rate(graph, cfg, n_train))
        if not args.no_gui:
            gui.append(gui_run(graph, cfg, n_train)[0])
    med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in runs.items()}
    tag = f"[{device.type}]"
    for key, label in (
        ("dataloader", "hand-written loop, DataLoader feeding"),
        ("slicing", "hand-written loop, tensor slicing"),
        ("engine", "engine, events + metrics.csv"),
    ):
        spread = ", ".join(f"{w:,.0f}" for w, _ in runs[key])
        print(f"{tag} {label:40s} {med[key][0]:8,.0f} samples/s wall ({spread}); {med[key][1]:8,.0f} per CPU-s")
    for key in ("dataloader", "slicing"):
        wall, cpu = med["engine"][0] / med[key][0], med["engine"][1] / med[key][1]
        print(
            f"{tag} engine / {key} loop: wall {wall:.3f} ({verdict(wall, 0.95)}), CPU time {cpu:.3f} "
            f"({verdict(cpu, 0.95)})"
        )
    if not args.no_gui:
        gui_figures(graph, cfg, n_train, gui, med["engine"][0], tag)


def gui_figures(graph, cfg: TrainConfig, n_train: int, rates: list[float], engine: float, tag: str) -> None:
    g = statistics.median(rates)
    _, worst, p99 = gui_run(graph, cfg, n_train, probe_ms=5)
    idle = idle_stall(3.0)
    print(
        f"{tag} panel live (offscreen, 1280x800)          {g:8,.0f} samples/s wall "
        f"({', '.join(f'{r:,.0f}' for r in rates)})"
    )
    print(f"{tag} panel / engine = {g / engine:.3f} ({verdict(g / engine, 0.90)})")
    print(
        f"{tag} longest UI stall during training {worst:.1f} ms ({verdict(worst, 50, higher=False)}), "
        f"99th percentile {p99:.1f} ms (5 ms probe timer); with nothing running: longest {idle:.1f} ms"
    )


def idle_stall(seconds: float) -> float:
    """The longest gap of the same 5 ms probe in an idle event loop: what the machine alone adds."""
    from PySide6.QtCore import QEventLoop, QTimer

    ticks: list[float] = []
    probe = QTimer(interval=5, timeout=lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    probe.start()
    loop.exec()
    probe.stop()
    return max(((b - a) * 1000 - 5 for a, b in zip(ticks, ticks[1:])), default=float("nan"))


def amp_speedup(args: argparse.Namespace) -> None:
    graph = load_template("vgg_cifar")
    base = TrainConfig(
        data="shapes", samples=args.samples, val_split=0.0, epochs=args.epochs, batch_size=256, device="cuda", workers=0
    )
    n = args.samples - args.samples % 256
    engine_rate(graph, base.replace(samples=1024), 1024)  # warm-up: cuDNN autotuning, CUDA context
    fp32 = median_of(
        args.repeats, lambda: engine_rate(graph, base.replace(precision="fp32", channels_last=False), n)[0]
    )
    amp = median_of(args.repeats, lambda: engine_rate(graph, base.replace(precision="auto", channels_last=True), n)[0])
    print(
        f"[cuda] vgg_cifar 3x32x32, batch 256: fp32 {fp32:,.0f} samples/s, mixed precision + channels_last "
        f"{amp:,.0f} samples/s: speed-up {amp / fp32:.2f}x"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=20000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--no-gui", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(environment())
    graph = load_template("small_cnn")
    cfg = TrainConfig(
        data="shapes",
        samples=args.samples,
        val_split=0.0,
        epochs=args.epochs,
        batch_size=64,
        lr=1e-3,
        device="cpu",
        workers=0,
        precision="fp32",
    )
    print(
        f"small_cnn (1x28x28, 20k parameters) on {args.samples} shapes, batch 64, Adam, {args.epochs} epoch(s), "
        f"median of {args.repeats} interleaved runs"
    )
    figures(graph, cfg, torch.device("cpu"), args)
    if not torch.cuda.is_available():
        print("no GPU found: the GPU figures and the mixed-precision speed-up are skipped")
        return
    print(f"GPU: {torch.cuda.get_device_name()}")
    figures(graph, cfg.replace(device="cuda"), torch.device("cuda"), args)
    amp_speedup(args)


if __name__ == "__main__":
    main()
