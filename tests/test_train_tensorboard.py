"""Every run writes TensorBoard scalars beside metrics.csv when tensorboard is installed, and nothing when not."""

from __future__ import annotations

import sys
import types

import pytest

from designer.training.api import Finished, TrainConfig, Trainer, read_metrics
from designer.training.tensorboard import tag
from tests.helpers import FakeWriter
from tests.test_train import BASE, tiny


def test_metrics_columns_become_lightning_style_tags():
    assert [tag(c) for c in ("train_loss", "val_acc", "val_miou", "val_iou/circle", "lr")] == [
        "train/loss",
        "val/acc",
        "val/miou",
        "val/iou/circle",
        "lr",
    ]
    assert [tag(c) for c in ("samples_per_s", "elapsed_s", "epoch", "train_")] == [None] * 4


def test_a_plain_run_writes_each_epoch_rows_numbers_at_its_step(tmp_path, monkeypatch):
    FakeWriter.made = []
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=FakeWriter))
    result = Trainer(tiny(), TrainConfig(**BASE), run_dir=tmp_path / "run").run()
    assert isinstance(result, Finished)
    (writer,) = FakeWriter.made
    assert writer.log_dir == str(tmp_path / "run" / "tensorboard") and writer.closed
    epochs = [r for r in read_metrics(tmp_path / "run") if r["kind"] == "epoch"]
    assert len(epochs) == 2
    for row in epochs:
        step = int(row["step"])
        written = {t: v for t, v, s in writer.scalars if s == step}
        assert set(written) == {"train/loss", "train/acc", "val/loss", "val/acc", "lr"}
        for column in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
            assert written[tag(column)] == pytest.approx(float(row[column]), rel=1e-5)  # the csv keeps 6 digits


def test_without_tensorboard_the_run_writes_no_folder_for_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import raises ImportError
    result = Trainer(tiny(), TrainConfig(**{**BASE, "epochs": 1}), run_dir=tmp_path / "run").run()
    assert isinstance(result, Finished) and not (tmp_path / "run" / "tensorboard").exists()
