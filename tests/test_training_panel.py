"""The training panel driven like a user: Start, live points, Pause, Stop, past runs, preview, failures."""

from __future__ import annotations

from typing import get_args

import pytest
from PySide6.QtCore import Qt

from designer.training.api import (
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
    TrainConfig,
    read_metrics,
)
from designer.training.runs import metric_series
from tests.helpers import IMPORT_SPY, chain
from tests.test_data import write_folder
from widgets.panels.training_panel import SNAPSHOT_NOTE, TrainingPanel


def tiny(channels: int = 1):
    return chain(
        [channels, 12, 12],
        ("Conv2d", {"out_channels": 4, "kernel_size": 3}),
        ("ReLU", {}),
        ("Flatten", {}),
        ("Linear", {"out_features": 10}),
        name="panel tiny",
    )


@pytest.fixture
def panel(qtbot, tmp_path):
    g = tiny()
    p = TrainingPanel(lambda: (g, str(tmp_path / "tiny.json")))
    qtbot.addWidget(p)
    p.graph = g
    f = p.form
    f.samples.setValue(2000)
    f.epochs.setValue(40)
    f.batch_size.setValue(16)
    f.device.setCurrentText("cpu")
    yield p
    p.shutdown()


def test_start_live_points_pause_resume_stop_and_resume_the_run(qtbot, panel, tmp_path):
    """One run through every control (each run starts a process that imports torch: ~3 s)."""
    assert SNAPSHOT_NOTE.startswith("Training uses a copy")
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert panel.is_running and not panel.start_button.isEnabled() and not panel.form.isEnabled()
    qtbot.waitUntil(lambda: len(panel.curves.points("train_step", "loss")) >= 5, timeout=120_000)
    assert panel.progress.value() >= 5 and "samples/s" in panel.status.text()
    assert len(panel.curves.points("train_smooth", "loss")) >= 5
    qtbot.mouseClick(panel.pause_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.pause_button.text() == "Resume", timeout=30_000)
    assert "Paused at step" in panel.status.text() and panel.trainer.paused
    paused_at = len(panel.curves.points("train_step", "loss"))
    qtbot.wait(300)
    assert len(panel.curves.points("train_step", "loss")) == paused_at
    qtbot.mouseClick(panel.pause_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(panel.curves.points("train_step", "loss")) > paused_at + 2, timeout=30_000)
    panel.graph.set_param("n1", "out_channels", 8)  # an edit during the run does not reach it
    qtbot.mouseClick(panel.stop_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_running and panel.start_button.isEnabled(), timeout=120_000)
    assert isinstance(panel.last_event, Finished) and panel.last_event.status == "stopped"
    assert panel.trainer.model_state_dict()["n1.weight"].shape[0] == 4
    assert panel.graph.extra["training"]["epochs"] == 40 and panel.graph.extra["training"]["device"] == "cpu"
    assert panel.runs.count() == 1 and "[stopped]" in panel.runs.item(0).text()
    rows = read_metrics(panel.runs.item(0).data(Qt.UserRole))
    panel.curves.clear_data()
    panel.runs.setCurrentRow(0)
    qtbot.keyClick(panel.runs, Qt.Key_Return)  # activates the current run: its curves are shown
    assert panel.curves.points("train_step", "loss") == pytest.approx(metric_series(rows, "step", "train_loss")[1])
    stopped_at = panel.last_event.step
    panel.form.epochs.setValue(1)  # the form does not matter to a resume: the run keeps its own settings
    panel.resume_selected()
    qtbot.waitUntil(lambda: len(panel.curves.points("train_step", "loss")) > stopped_at + 2, timeout=120_000)
    assert panel.curves.points("train_step", "loss")[:stopped_at] == pytest.approx(
        metric_series(rows, "step", "train_loss")[1]
    )
    panel.stop()
    qtbot.waitUntil(lambda: not panel.is_running and panel.start_button.isEnabled(), timeout=120_000)
    assert panel.last_event.status == "stopped" and panel.last_event.step > stopped_at


def test_a_short_run_completes_with_epoch_points(qtbot, panel):
    panel.form.samples.setValue(120)
    panel.form.epochs.setValue(2)
    panel.start()
    qtbot.waitUntil(lambda: not panel.is_running and panel.start_button.isEnabled(), timeout=120_000)
    assert isinstance(panel.last_event, Finished) and panel.last_event.status == "completed"
    assert len(panel.curves.points("val_epoch", "acc")) == 2
    assert "Completed after 2 epoch(s)" in panel.status.text()
    assert panel.progress.value() == panel.progress.maximum()


def test_a_failing_run_is_reported_and_the_panel_stays_usable(qtbot, tmp_path):
    folder = write_folder(tmp_path / "pets", per_class=3, size=12)
    g = tiny(channels=3)
    written: list = []
    p = TrainingPanel(lambda: g, runs_root=tmp_path / "runs", write_section=lambda graph, d: written.append(d))
    qtbot.addWidget(p)
    p.form.set_config(TrainConfig(data=f"folder:{folder}", device="cpu", epochs=1))
    p.start()
    qtbot.waitUntil(lambda: not p.is_running and p.start_button.isEnabled(), timeout=120_000)
    assert isinstance(p.last_event, Failed) and p.last_event.code == "data.classes_mismatch"
    assert "Failed" in p.status.text() and "2 classes" in p.log.toPlainText()
    # The settings went through the window's callback (its undo stack), not straight into the graph.
    assert written[0]["data"] == f"folder:{folder}" and "training" not in g.extra


def test_form_round_trip_and_design_section(qtbot, tmp_path):
    g = tiny()
    cfg = TrainConfig(
        data="mnist:/data/mnist",
        augment={"hflip": True, "rotation": 10.0},
        optimizer="sgd",
        nesterov=True,
        lr=0.05,
        schedule="cosine",
        epochs=7,
        batch_size=32,
        seed=3,
        precision="bf16",
        workers=2,
    )
    g.extra["training"] = cfg.to_dict()
    p = TrainingPanel(lambda: (g, None), runs_root=tmp_path)
    qtbot.addWidget(p)
    assert p.form.config() == cfg
    assert p.form.data_root.text() == "/data/mnist" and p.form.aug["hflip"].isChecked()


def test_preview_shows_augmented_samples(qtbot, panel):
    panel.form.rotation.setValue(30)
    panel.show_preview()
    grid = panel.preview_array
    assert grid.ndim == 3 and grid.shape[2] == 3 and not panel.preview.pixmap().isNull()
    assert panel.tabs.currentWidget() is panel.preview_tab


def test_every_engine_event_is_shown_by_its_own_handler(qtbot, tmp_path):
    p = TrainingPanel(lambda: (tiny(), None), runs_root=tmp_path)
    qtbot.addWidget(p)
    events = [
        RunStarted(str(tmp_path / "r"), "cpu", "fp32", 10, 0, 5, 2, ("a", "b"), 8, 2, 1, ("from the engine",)),
        StepEnded(1, 3, 10, 0.5, 0.25, 0.01, 100.0, 5.0, 1.0),
        EpochEnded(1, 2, 5, 0.4, 0.5, 0.3, 0.75, 0.01, 100.0, 4.0, 2.0),
        CheckpointSaved(str(tmp_path / "r" / "last.pt"), "last", 1, 5),
        Paused(5),
        Resumed(5),
        Note("data.broken_image", "skipped an unreadable image: x.png"),
        Finished(str(tmp_path / "r"), "completed", 2, 10, 0.75, 3.0),
        Failed("oom", "out of memory at batch size 64", "try a smaller batch"),
    ]
    assert {type(e) for e in events} == set(get_args(Event))  # a new event class needs a case here and in the panel
    seen = {}
    for e in events:
        p.show_event(e)
        assert p.last_event is e
        seen[type(e)] = (p.progress.maximum(), p.pause_button.text(), p.status.text())
    assert seen[RunStarted][0] == 10
    assert p.curves.points("train_step", "loss") == [0.5] and p.curves.points("val_epoch", "acc") == [0.75]
    assert seen[Paused][1:] == ("Resume", "Paused at step 5; the checkpoint is saved.")
    assert seen[Resumed][1] == "Pause"
    assert seen[Finished][2].startswith("Completed after 2 epoch(s), 10 steps")
    assert "Failed: out of memory at batch size 64 (try a smaller batch)" in p.status.text()
    log = p.log.toPlainText()
    assert "Note: from the engine" in log and "Epoch 1/2" in log and "skipped an unreadable image: x.png" in log
    with pytest.raises(TypeError):
        p.show_event(object())  # not an engine event: an error, never a silent no-op


def test_a_segmentation_run_plots_its_mean_iou_and_names_it(qtbot, tmp_path):
    """The accuracy plot gains the task's headline (mean IoU here), live and from a past run's metrics.csv."""
    p = TrainingPanel(lambda: (tiny(), None), runs_root=tmp_path)
    qtbot.addWidget(p)
    p.show_event(RunStarted(str(tmp_path / "r"), "cpu", "fp32", 10, 0, 5, 2, ("a", "b"), 8, 2, 1, ()))
    for epoch, miou in ((1, 0.6), (2, 0.7)):
        metrics = {"val_pixel_acc": 0.9, "val_miou": miou}
        p.show_event(EpochEnded(epoch, 2, 5 * epoch, 0.4, 0.5, 0.3, 0.9, 0.01, 100.0, 4.0, 2.0, 0, metrics, "val_miou"))
    assert p.curves.points("val_headline", "acc") == [0.6, 0.7]
    assert "Accuracy and mean IoU" in p.curves.acc_plot.titleLabel.text
    labels = [label.text for _, label in p.curves.acc_plot.legend.items]
    assert "validation mean IoU (epoch)" in labels and "mean IoU 70.0%" in p.log.toPlainText()
    p.show_event(Finished(str(tmp_path / "r"), "completed", 2, 10, 0.7, 3.0))
    assert "best validation mean IoU 70.0%" in p.status.text()
    # a classification run after it: no mean IoU curve, no entry in the legend
    p.show_event(RunStarted(str(tmp_path / "s"), "cpu", "fp32", 10, 0, 5, 2, ("a", "b"), 8, 2, 1, ()))
    assert p.curves.points("val_headline", "acc") == [] and p.curves.headline is None
    assert "validation mean IoU (epoch)" not in [label.text for _, label in p.curves.acc_plot.legend.items]
    # a past segmentation run's rows bring the curve back
    rows = [
        {
            "kind": "epoch",
            "epoch": "1",
            "step": "5",
            "train_loss": "0.4",
            "train_acc": "0.5",
            "val_loss": "0.3",
            "val_acc": "0.9",
            "val_pixel_acc": "0.9",
            "val_miou": "0.55",
        },
    ]
    p.curves.load_rows(rows)
    assert p.curves.headline == "val_miou" and p.curves.points("val_headline", "acc") == [0.55]


#: A fresh interpreter: click Start, time the click, and see whether this process ever imports torch for the run.
_WHO_IMPORTS_TORCH = (
    """
import os, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
WATCHED = {"torch"}
"""
    + IMPORT_SPY
    + """
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from designer import loads
from tests.conftest import EXAMPLE
from widgets.panels.training_panel import TrainingPanel

app = QApplication([])
graph = loads(EXAMPLE)
panel = TrainingPanel(lambda: (graph, None), runs_root=sys.argv[1])
panel.form.samples.setValue(64)
t0 = time.perf_counter()
QTest.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
click_s = time.perf_counter() - t0
panel.stop()
panel.shutdown(120)
print(first.get("torch"), panel.last_event.status, panel.trainer.pid != os.getpid(), f"{click_s:.3f}")
"""
)


@pytest.mark.slow
def test_start_trains_in_another_process_and_the_window_never_loads_torch(tmp_path):
    """Pressing Start froze the window for seconds while torch imported; the run now imports it in its own process."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    proc = subprocess.run(
        [sys.executable, "-c", _WHO_IMPORTS_TORCH, str(tmp_path / "runs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    who, status, elsewhere, click_s = proc.stdout.split()[-4:]
    assert (who, status, elsewhere) == ("None", "stopped", "True"), proc.stdout
    # Start spawns the process from a thread: the click itself takes ~10 ms (a second here allows for a loaded CI).
    assert float(click_s) < 1.0, proc.stdout
