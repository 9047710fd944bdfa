"""A sweep started from the Runs view runs in a child process: live progress, Stop, then Resume from the checkpoint."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from designer import dumps
from designer.sweep.runner import SweepOptions
from designer.training import runs
from tests.helpers import chain
from widgets.panels.runs_view import RunsPanel

EPOCHS = 200


@pytest.mark.slow
def test_a_sweep_runs_off_the_ui_thread_and_stops_and_resumes(qtbot, tmp_path):
    conv = ("Conv2d", {"out_channels": 4, "kernel_size": 3})
    g = chain([1, 12, 12], conv, ("Flatten", {}), ("Linear", {"out_features": 10}))
    # Enough epochs that Stop lands inside the first trial: on an idle machine two 2-epoch trials of 48 samples ended
    # before the window saw the first epoch's progress.
    g.extra["training"] = dict(samples=64, val_split=0.25, batch_size=16, epochs=EPOCHS, device="cpu", workers=0)
    g.extra["search"] = {"lr": {"float": [0.001, 0.01], "log": True}}
    path = tmp_path / "tiny.json"
    path.write_text(dumps(g))
    panel = RunsPanel(lambda: (g, str(path)))
    qtbot.addWidget(panel)
    panel.show()
    assert panel.start_sweep(SweepOptions(trials=2))
    assert panel.stop_button.isEnabled() and not panel.start_button.isEnabled()
    # live progress, while the window's event loop keeps turning (waitUntil spins it)
    qtbot.waitUntil(lambda: "trial 0: epoch" in panel.status.text() or not panel.sweeps.running, timeout=300_000)
    assert panel.sweeps.running, panel.status.text()
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.sweeps.running, timeout=300_000)
    assert "sweep stopped" in panel.status.text()
    first = tmp_path / "runs" / "tiny" / "sweep-tiny" / "trial-0000"
    assert (first / runs.LAST).exists() and runs.read_json(first / "trial.json")["state"] == "stopped"
    assert panel.resume_button.isEnabled()
    qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.sweeps.running, timeout=300_000)
    assert "sweep done" in panel.status.text(), panel.status.text()
    names = sorted(r.name for r in panel.rows)
    assert names == ["sweep-tiny/trial-0000", "sweep-tiny/trial-0002"]  # trial 1 resumed trial 0 in its folder
    resumed = next(r for r in panel.rows if r.name == "sweep-tiny/trial-0000")
    assert (resumed.status, resumed.epoch, resumed.state) == ("completed", EPOCHS, "complete")
    assert panel.progress.value() == panel.progress.maximum() == 2
