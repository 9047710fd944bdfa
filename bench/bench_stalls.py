"""The window never freezes: the longest UI-thread stall while opening the largest template, expanding and
collapsing its groups, Start, Stop, export and an insight view.

A 2 ms timer on the UI thread records the gap between its ticks while each action runs to its end; a gap is how long
the window could not repaint or take input. Baseline, measured in the same process: the same timer with nothing to
do. On a machine shared with other work a gap also counts time the thread waited for a core, so the UI thread's CPU
time between two ticks is recorded too: the longest of those ("busiest pass") is the stall a machine of our own
would show, and the figure held against the target. Target (issue 12): no stall above 100 ms. Run with and without
``--preload`` to see what preloading torch buys: without it, the first action that needs torch pays the import.

Also (issue 15, point 8): one parameter edit with revalidation on a 1,000-node design, until every view shows the new
analysis and the repaint ran; target 30 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_gui import generated
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QWidget

from designer.editing.templates import load_template
from widgets.main_window import MainWindow
from widgets.panels.dialogs import Dialogs

TARGET_S = 0.100
EDIT_TARGET_S = 0.030
#: How long the event loop runs on after an action is done, so its queued work is measured too.
SETTLE_S = 0.3
EDIT_NODES, EDIT_REPEATS = 1000, 15


class StallMonitor:
    """The longest gap between ticks of a fast UI-thread timer, while ``run_until`` waits for a condition."""

    def __init__(self) -> None:
        self.clock, self.timer, self.longest, self.last = QElapsedTimer(), QTimer(), 0, 0
        #: UI-thread CPU seconds of the last run's action: on a shared machine a stall also counts others' time.
        self.cpu = 0.0
        #: The most UI-thread CPU seconds between two ticks in the last run (the busiest event-loop pass).
        self.busiest = 0.0
        self._last_cpu = 0.0
        self.timer.setInterval(2)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now, cpu = self.clock.elapsed(), time.thread_time()
        self.longest, self.last = max(self.longest, now - self.last), now
        self.busiest, self._last_cpu = max(self.busiest, cpu - self._last_cpu), cpu

    def run_until(self, action: Callable[[], object], done: Callable[[], bool], timeout_s: float = 120.0) -> float:
        """Run ``action`` on the UI thread, spin the event loop until ``done()``; the longest stall, in seconds."""
        app = QApplication.instance()
        assert app is not None
        self.clock.start()
        self.longest = self.last = 0
        self.timer.start()
        app.processEvents()
        self.busiest, self._last_cpu = 0.0, time.thread_time()
        cpu = self._last_cpu
        action()
        self.cpu = time.thread_time() - cpu
        self._tick()  # the action itself counts as a stall
        deadline = time.perf_counter() + timeout_s
        while not done() and time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.001)
        settled = time.perf_counter() + SETTLE_S  # what the action left queued (repaints, deferred work) counts too
        while time.perf_counter() < settled:
            app.processEvents()
            time.sleep(0.001)
        self.timer.stop()
        return self.longest / 1000


class BenchDialogs(Dialogs):
    """Answers without a person: every save goes to the bench's folder."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def save_path(self, parent: QWidget, suggested: str, title: str, file_filter: str) -> str | None:
        return os.path.join(self.folder, os.path.basename(suggested))

    def error(self, parent: QWidget, title: str, text: str) -> None:
        print(f"  (error dialog: {title}: {text.splitlines()[0]})")


def measure(window: MainWindow, monitor: StallMonitor) -> list[tuple[str, float, float, float]]:
    """Each action, its longest stall, the UI thread's CPU time in the action itself and in the busiest pass."""
    results = []

    def run(name: str, action: Callable[[], object], done: Callable[[], bool]) -> None:
        results.append((name, monitor.run_until(action, done), monitor.cpu, monitor.busiest))

    resnet = load_template("resnet50")
    run("open the ResNet-50 template", lambda: window.files.show_graph(resnet), lambda: True)
    actions = window.menu_actions
    run("Expand All of ResNet-50", actions.expand_all.trigger, lambda: True)
    run("Collapse All of ResNet-50", actions.collapse_all.trigger, lambda: True)
    densenet = load_template("densenet121")  # the template with the most nodes (428)
    run("open the DenseNet-121 template", lambda: window.files.show_graph(densenet), lambda: True)
    run("Expand All of DenseNet-121", actions.expand_all.trigger, lambda: True)
    run("Collapse All of DenseNet-121", actions.collapse_all.trigger, lambda: True)
    window.files.show_graph(load_template("small_cnn"))
    panel = window.training_panel
    panel.form.samples.setValue(512)
    panel.form.epochs.setValue(50)
    run("Start training", panel.start_button.click, lambda: panel.trainer is not None)
    monitor.run_until(lambda: None, lambda: panel.curves.points("train_step", "loss") != [])
    run("Stop training", panel.stop, lambda: not panel.is_running)
    onnx = next(action for action in window.menu_actions.exports if "ONNX" in action.text())
    exports = window.files.exports
    run("export ONNX", onnx.trigger, lambda: not exports.busy)
    dock = _dock(window, "Insight").widget()
    shown: list[str] = []
    dock.view_shown.connect(shown.append)
    run("insight Grad-CAM", dock.refresh, lambda: bool(shown))
    return results


def edit_with_revalidation(window: MainWindow, local: bool = False) -> tuple[float, float]:
    """Median UI-thread CPU and wall seconds of one parameter edit on a generated 1,000-node design, until every
    view shows the new analysis and the pending repaints ran (as ``bench_gui`` times it for 500 nodes).

    The edit changes the width of a convolution halfway down, which breaks (then mends) the residual Add after it, so
    every other edit changes the shapes, texts and diagnostics of the half of the design below it. ``local``: the
    edit toggles that convolution's bias instead, whose effect stays in the node (its shape does not change).
    """
    app = QApplication.instance()
    assert app is not None
    window.files.show_graph(generated(EDIT_NODES))
    doc = window.document
    assert doc is not None
    conv = next(n.id for n in doc.graph.nodes[len(doc.graph) // 2 :] if n.type == "Conv2d")
    window.reveal_node(conv)
    app.processEvents()
    cpu, wall = [], []
    for k in range(EDIT_REPEATS):
        width = doc.graph[conv].params.get("out_channels", 16) + (1 if k % 2 else -1)
        start, start_cpu = time.perf_counter(), time.thread_time()
        if local:
            doc.set_param(conv, "bias", k % 2 == 1)
        else:
            doc.set_param(conv, "out_channels", width)
        doc.flush()
        app.processEvents()
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return statistics.median(cpu), statistics.median(wall)


def _dock(window: MainWindow, title: str) -> QDockWidget:
    return next(d for d in window.findChildren(QDockWidget) if d.windowTitle() == title)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preload", action="store_true", help="preload torch first, as the designer's main() does")
    args = parser.parse_args()
    print(
        f"python {platform.python_version()}, PySide6 {pyside_version}, {os.cpu_count()} CPUs, "
        f"platform {os.environ['QT_QPA_PLATFORM']}, torch preloaded: {args.preload}"
    )
    QApplication.instance() or QApplication([])
    tmp = tempfile.mkdtemp()
    window = MainWindow(
        settings=QSettings(f"{tmp}/s.ini", QSettings.Format.IniFormat),
        dialogs=BenchDialogs(tmp),
        autosave_dir=f"{tmp}/autosave",
    )
    window.resize(1600, 1000)
    window.show()
    for title in ("Training", "Insight"):
        _dock(window, title).show()
        _dock(window, title).raise_()
    monitor = StallMonitor()

    def loaded() -> bool:  # a lazy dock shows a "Loading…" label until its panel is made
        return all(not isinstance(_dock(window, t).widget(), QLabel) for t in ("Training", "Insight"))

    monitor.run_until(lambda: None, loaded)
    if args.preload:
        from widgets.app import preload_torch

        preload_torch().join()
    idle = monitor.run_until(lambda: None, lambda: monitor.clock.elapsed() > 500)
    print(f"baseline: longest gap of the idle event loop {idle * 1e3:.1f} ms")
    worst = busiest = 0.0
    for name, stall, cpu, busy in measure(window, monitor):
        worst, busiest = max(worst, stall), max(busiest, busy)
        print(
            f"{name}: longest stall {stall * 1e3:.0f} ms ({stall / max(idle, 1e-3):.1f}x idle), "
            f"UI-thread CPU in the action {cpu * 1e3:.0f} ms, in the busiest pass {busy * 1e3:.0f} ms "
            f"({busy / TARGET_S:.2f}x the target)"
        )
    verdict = "within" if busiest <= TARGET_S else "OVER"
    print(
        f"busiest pass {busiest * 1e3:.0f} ms of UI-thread CPU: {verdict} the {TARGET_S * 1e3:.0f} ms target "
        f"(longest stall {worst * 1e3:.0f} ms, waits for a core included)"
    )
    edit_cpu, edit_wall = edit_with_revalidation(window)
    verdict = "within" if edit_cpu <= EDIT_TARGET_S else "OVER"
    print(
        f"one edit with revalidation on {EDIT_NODES:,} nodes: {edit_cpu * 1e3:.1f} ms of UI-thread CPU "
        f"({edit_wall * 1e3:.1f} ms wall), median of {EDIT_REPEATS}: {verdict} the {EDIT_TARGET_S * 1e3:.0f} ms target"
    )
    local_cpu, local_wall = edit_with_revalidation(window, local=True)
    print(
        f"  an edit whose effect stays in its node (bias on/off): {local_cpu * 1e3:.1f} ms of UI-thread CPU "
        f"({local_wall * 1e3:.1f} ms wall)"
    )
    window.document.undo_stack.setClean()
    window.close()  # drops the canvas items before interpreter shutdown does, in its own order
    window.training_panel.shutdown()
    window.files.exports.wait()
    window.files.exports.close()
    window.files.autosave.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
