"""The Training dock's range test: the form's Find button opens it, it runs off the UI thread, plots loss against
lr on a log axis with the proposal marked, and Set writes the proposal into the form."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from tests.test_training_panel import tiny
from widgets.panels.lr_find_dialog import LrFindDialog
from widgets.panels.training_panel import TrainingPanel


@pytest.mark.slow
def test_find_button_runs_the_test_and_sets_the_proposed_rate(qtbot, tmp_path):
    panel = TrainingPanel(lambda: (tiny(), str(tmp_path / "tiny.json")))
    qtbot.addWidget(panel)
    for box, value in ((panel.form.samples, 64), (panel.form.batch_size, 16)):
        box.setValue(value)
    panel.form.device.setCurrentText("cpu")
    qtbot.mouseClick(panel.form.find_lr_button, Qt.MouseButton.LeftButton)
    dialog = panel.lr_dialog
    assert isinstance(dialog, LrFindDialog) and dialog.isVisible()
    dialog.close()
    dialog = LrFindDialog(tiny(), panel.form.config(), panel.form.lr.setValue, panel, steps=12)
    qtbot.addWidget(dialog)
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert dialog.running and not dialog.run_button.isEnabled()  # the UI thread is free while it trains
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=120_000)
    lr = dialog.result.proposal.lr
    assert lr is not None and dialog.marker.isVisible() and dialog.marker.value() == pytest.approx(math.log10(lr))
    assert dialog.plot.ctrl.logXCheck.isChecked()
    xs, _ = dialog.smooth.getOriginalDataset()
    assert list(xs) == pytest.approx(list(dialog.result.lrs))
    qtbot.mouseClick(dialog.set_button, Qt.MouseButton.LeftButton)
    assert panel.form.lr.value() == pytest.approx(float(f"{lr:.2g}"), abs=1e-6)
