"""Training in a child process: a run killed or crashed ends with a message; the window and the design stay."""

from __future__ import annotations

import os
import signal
import time

import pytest

from designer.training import runs
from designer.training.events import Failed, Finished
from designer.training.remote import crash_reason, record_failure


def test_a_dead_process_is_named_by_how_it_died():
    code, message, hint = crash_reason(-signal.SIGKILL)
    assert code == "process.killed" and message == "the training process was killed by the system (out of memory?)"
    assert "smaller batch" in hint
    assert crash_reason(-signal.SIGSEGV)[:2] == (
        "process.crashed",
        "the training process crashed with signal 11 (SIGSEGV)",
    )
    assert crash_reason(1)[1] == "the training process ended unexpectedly (exit code 1)"


def test_a_dead_run_is_recorded_failed_and_its_half_written_files_go(tmp_path):
    runs.write_json(tmp_path / runs.CONFIG, {"config": {}})
    runs.write_status(tmp_path, "running", epoch=2, step=40, best_val_accuracy=0.5)
    (tmp_path / ".last.pt.k2j3h4.tmp").write_bytes(b"half a checkpoint")
    (tmp_path / ".best.pt.tmp").write_bytes(b"half a copy")
    record_failure(tmp_path, "process.killed", "killed", step=57)
    status = runs.read_json(tmp_path / runs.STATUS)
    assert (status["status"], status["code"], status["message"]) == ("failed", "process.killed", "killed")
    assert (status["epoch"], status["step"], status["best_val_accuracy"]) == (2, 57, 0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [runs.CONFIG, runs.STATUS]


def _dock_widget(window, title, kind, qtbot):
    from PySide6.QtWidgets import QDockWidget

    window.show()
    dock = next(d for d in window.findChildren(QDockWidget) if d.windowTitle() == title)
    dock.show()
    dock.raise_()  # tabbed behind another dock until raised; made on first becoming visible
    qtbot.waitUntil(lambda: isinstance(dock.widget(), kind), timeout=30_000)
    return dock.widget()


@pytest.mark.slow
def test_killing_the_training_process_mid_epoch_leaves_the_window_the_design_and_the_run(
    make_window, example_file, qtbot
):
    from widgets.panels.insight_dock import InsightDock
    from widgets.panels.training_panel import TrainingPanel

    window = make_window(load_panels=True)
    assert window.files.open_file(example_file)
    doc = window.document
    doc.set_param("conv1", "out_channels", 16)  # unsaved: the crash must not lose it
    panel = _dock_widget(window, "Training", TrainingPanel, qtbot)
    insight = _dock_widget(window, "Insight", InsightDock, qtbot)
    form = panel.form
    form.samples.setValue(2000)
    form.epochs.setValue(40)
    form.batch_size.setValue(16)
    form.device.setCurrentText("cpu")
    panel.start_button.click()
    assert panel.status.text() == "Starting…" and panel.is_running
    qtbot.waitUntil(lambda: len(panel.curves.points("train_step", "loss")) >= 3, timeout=120_000)
    trainer = panel.trainer
    # The insight dock explains the model being trained: the design compiled here, with the run's weights and data.
    model, graph = insight.models()
    assert model is trainer.model and graph["conv1"].params["out_channels"] == 16
    assert model.state_dict()["conv1.weight"].shape[0] == 16
    assert trainer.bundle is not None and trainer.bundle.classes[:2] == ["circle", "square"]
    run_dir = trainer.run_dir
    (run_dir / ".last.pt.x1y2z3.tmp").write_bytes(b"")  # what a checkpoint being written at the kill leaves
    os.kill(trainer.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: not panel.is_running and panel.start_button.isEnabled(), timeout=60_000)
    failed = panel.last_event
    assert isinstance(failed, Failed) and failed.code == "process.killed" and failed.run_dir == str(run_dir)
    assert "Failed: the training process was killed by the system (out of memory?)" in panel.status.text()
    assert window.isVisible() and doc.is_modified and doc.graph["conv1"].params["out_channels"] == 16
    status = runs.read_json(run_dir / runs.STATUS)
    assert (status["status"], status["message"]) == ("failed", failed.message) and status["step"] >= 3
    assert not list(run_dir.glob(".*.tmp"))
    assert "[failed]" in panel.runs.item(0).text()
    panel.start_button.click()  # and the next run starts as usual
    qtbot.waitUntil(lambda: len(panel.curves.points("train_step", "loss")) >= 1, timeout=120_000)
    assert panel.trainer.run_dir != run_dir
    panel.stop()
    qtbot.waitUntil(lambda: not panel.is_running and panel.start_button.isEnabled(), timeout=60_000)
    assert isinstance(panel.last_event, Finished) and panel.last_event.status == "stopped"


def _kill_at_once(run):
    """SIGKILL the run's process as soon as it exists: long before it has imported torch and made its run."""
    deadline = time.monotonic() + 30
    while run.pid is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(run.pid, signal.SIGKILL)


def test_a_process_that_dies_before_its_run_began_ends_the_run_with_a_message_and_leaves_no_folder(tmp_path):
    from designer.model.fileformat import dumps
    from designer.training.child import RunRequest
    from designer.training.remote import RemoteRun
    from tests.helpers import chain

    g = chain([1, 8, 8], ("Flatten", {}), ("Linear", {"out_features": 2}), name="dies early")
    events: list = []
    run = RemoteRun(RunRequest.new(dumps(g), {"device": "cpu"}, str(tmp_path / "runs")), events.append)
    assert run.run_dir is not None and run.run_dir.is_dir()  # made here, so a death after the child fills it is seen
    run.start()
    _kill_at_once(run)
    assert run.join(60)
    [failed] = events
    assert isinstance(failed, Failed) and failed.code == "process.killed" and failed.run_dir is None
    assert failed.message == crash_reason(-signal.SIGKILL)[1]
    assert not list((tmp_path / "runs").iterdir())


def test_a_process_that_dies_after_making_its_folder_but_before_its_first_event_is_marked_failed(tmp_path):
    from designer.training.child import RunRequest
    from designer.training.remote import RemoteRun

    run = RemoteRun(RunRequest.new("{}", {}, str(tmp_path)), lambda e: None)
    assert run.run_dir is not None
    runs.write_json(run.run_dir / runs.CONFIG, {"config": {}})  # what the child writes before its first event
    runs.write_status(run.run_dir, "running", epoch=0, step=0)
    failed = run._crash_event(-signal.SIGKILL)
    assert failed.run_dir == str(run.run_dir)
    assert runs.read_json(run.run_dir / runs.STATUS)["status"] == "failed"


@pytest.mark.slow
def test_the_panel_reports_a_process_that_died_before_its_run_began(qtbot, tmp_path):
    from PySide6.QtCore import Qt

    from tests.helpers import chain
    from widgets.panels.training_panel import TrainingPanel

    g = chain([1, 8, 8], ("Flatten", {}), ("Linear", {"out_features": 2}), name="dies early")
    panel = TrainingPanel(lambda: (g, str(tmp_path / "early.json")))
    qtbot.addWidget(panel)
    panel.graph = g
    panel.form.device.setCurrentText("cpu")
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert panel.trainer is not None and panel.trainer.run_dir is not None
    runs_root = panel.trainer.run_dir.parent
    _kill_at_once(panel.trainer)
    qtbot.waitUntil(lambda: not panel.is_running and panel.start_button.isEnabled(), timeout=60_000)
    failed = panel.last_event
    assert isinstance(failed, Failed) and failed.code == "process.killed"
    assert f"Failed: {crash_reason(-signal.SIGKILL)[1]}" in panel.status.text()
    assert not list(runs_root.iterdir()) and panel.runs.count() == 0
    panel.shutdown()
