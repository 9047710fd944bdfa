"""The training section's task, the tasks' losses and metrics against hand-computed cases, and a segmentation run
through the engine (metrics.csv columns, EpochEnded metrics, the best checkpoint by the task's headline)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from designer.training import runs
from designer.training.api import EpochEnded, Finished, TrainConfig, Trainer
from designer.training.config import ConfigError
from designer.training.segmentation import ConfusionMeter, SegmentationTask, dice_loss
from designer.training.tasks import ClassificationTask, make_loss, task_for
from tests.helpers import chain


def test_task_keys_round_trip_and_default_to_classification():
    assert TrainConfig().task == "classification"
    cfg = TrainConfig.from_dict({"task": "detection", "detection": {"grid": 7, "boxes": 3}, "dice": True})
    assert (cfg.task, cfg.detection, cfg.dice) == ("detection", {"grid": 7, "boxes": 3}, True)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"task": "regression"}, "task"),
        ({"detection": {"grid": 0}}, "detection.grid"),
        ({"detection": {"boxes": True}}, "detection.boxes"),
        ({"detection": {"cells": 4}}, "detection.cells"),
    ],
)
def test_bad_task_settings_name_the_key(section, key):
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict(section)
    assert err.value.key == key


def test_classification_task_is_todays_loss_and_accuracy():
    torch.manual_seed(0)
    out, y = torch.randn(8, 5), torch.randint(0, 5, (8,))
    task = task_for(TrainConfig(label_smoothing=0.1), classes=5)
    assert isinstance(task, ClassificationTask) and task.headline == "val_acc"
    assert torch.equal(task.loss(out, y), F.cross_entropy(out, y, label_smoothing=0.1))
    assert int(task.train_score(out, y)) == int((out.argmax(1) == y).sum())
    meter = task.meter()
    meter.update(out[:5], y[:5])
    meter.update(out[5:], y[5:])
    assert meter.compute() == {"val_acc": float((out.argmax(1) == y).float().mean())}
    bce, _ = make_loss(1, 0.0)
    one = task_for(TrainConfig(), classes=2, outputs=1)
    assert torch.equal(one.loss(out[:, :1], y % 2), bce(out[:, :1], y % 2))


def _logits(pred: list[list[list[int]]], classes: int) -> torch.Tensor:
    """Logits whose argmax is ``pred`` ([N, H, W] class ids)."""
    return F.one_hot(torch.tensor(pred), classes).permute(0, 3, 1, 2).float()


def test_segmentation_metrics_match_a_hand_computed_case():
    # Truth and prediction over 2 images of 2x2 pixels, 3 classes; 255 is ignored.
    truth = torch.tensor([[[0, 0], [1, 1]], [[2, 255], [1, 0]]])
    pred = [[[0, 1], [1, 1]], [[2, 2], [0, 0]]]
    task = SegmentationTask(3, names=("background", "circle", "square"))
    meter = task.meter()
    meter.update(_logits(pred, 3), truth)
    m = meter.compute()
    # 7 counted pixels, 5 right. Class 0: truth at 3 pixels, predicted at 3, both at 2 -> IoU 2/4.
    # Class 1: truth 3, predicted 3, both 2 -> 2/4. Class 2: truth 1, predicted 1 (the ignored one is not), both 1.
    assert m["val_pixel_acc"] == pytest.approx(5 / 7)
    assert m["val_iou/background"] == pytest.approx(0.5)
    assert m["val_iou/circle"] == pytest.approx(0.5)
    assert m["val_iou/square"] == pytest.approx(1.0)
    assert m["val_miou"] == pytest.approx(2 / 3)
    # Per image: 3 of 4 right, then 2 of 3 counted pixels right.
    assert float(task.train_score(_logits(pred, 3), truth)) == pytest.approx(3 / 4 + 2 / 3)


def test_miou_leaves_out_classes_neither_true_nor_predicted():
    meter = ConfusionMeter(4, "abcd")
    meter.update(_logits([[[0, 1]]], 4), torch.tensor([[[0, 1]]]))
    assert meter.compute()["val_miou"] == 1.0 and "val_iou/c" not in meter.compute()


def test_segmentation_loss_is_cross_entropy_with_ignore_plus_dice():
    torch.manual_seed(1)
    out, y = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    y[0, 0, 0] = 255
    ce = F.cross_entropy(out, y, ignore_index=255)
    assert torch.equal(SegmentationTask(3).loss(out, y), ce)
    assert torch.allclose(SegmentationTask(3, dice=True).loss(out, y), ce + dice_loss(out, y))
    perfect = F.one_hot(y.clamp_max(2), 3).permute(0, 3, 1, 2).float() * 50
    assert float(dice_loss(perfect, y)) == pytest.approx(0.0, abs=1e-4)


@pytest.mark.parametrize(("eps", "expected"), [(1.0, 16 / 63), (0.0, 12 / 35)])
def test_dice_loss_of_a_2x2_mask_worked_out_by_hand(eps, expected):
    # Two classes, mask [[0, 1], [1, 255]]. Logits (ln 3, 0), (0, 0), (0, ln 3) give the softmax probabilities
    # (3/4, 1/4), (1/2, 1/2), (1/4, 3/4); the ignored pixel's (9, 0) would tip class 0 if it were counted.
    #   class 0: intersection 3/4 (pixel [0, 0]), probabilities 3/4 + 1/2 + 1/4 = 3/2, one true pixel -> total 5/2
    #   class 1: intersection 1/2 + 3/4 = 5/4, probabilities 1/4 + 1/2 + 3/4 = 3/2, two true pixels -> total 7/2
    # Dice (2 I + eps) / (total + eps): eps 1 -> (3/2 + 1) / (5/2 + 1) = 5/7 and (5/2 + 1) / (7/2 + 1) = 7/9,
    # loss 1 - (5/7 + 7/9) / 2 = 16/63; eps 0 -> 3/5 and 5/7, loss 1 - (3/5 + 5/7) / 2 = 12/35.
    ln3 = math.log(3)
    out = torch.tensor([[[ln3, 0.0], [0.0, 9.0]], [[0.0, 0.0], [ln3, 0.0]]])[None]
    target = torch.tensor([[[0, 1], [1, 255]]])
    assert float(dice_loss(out, target, eps=eps)) == pytest.approx(expected, abs=1e-6)


def test_a_segmentation_run_reports_its_metrics_and_keeps_the_best_miou(tmp_path):
    graph = chain(
        [1, 16, 16],
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}),
        ("ReLU", {}),
        ("Conv2d", {"out_channels": 3, "kernel_size": 1}),
        name="seg",
    )
    cfg = TrainConfig(
        task="segmentation",
        data="shapes:2",
        samples=48,
        val_split=0.25,
        batch_size=12,
        epochs=2,
        lr=0.01,
        device="cpu",
        workers=0,
    )
    events: list = []
    result = Trainer(graph, cfg, run_dir=tmp_path / "run", on_event=events.append).run()
    assert isinstance(result, Finished), result
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    assert [e.headline for e in epochs] == ["val_miou", "val_miou"]
    assert all(0 <= e.metrics["val_miou"] <= 1 and e.val_accuracy == e.metrics["val_pixel_acc"] for e in epochs)
    assert result.best_val_accuracy == max(e.metrics["val_miou"] for e in epochs)
    rows = [r for r in runs.read_metrics(tmp_path / "run") if r["kind"] == "epoch"]
    assert [float(r["val_miou"]) for r in rows] == pytest.approx([e.metrics["val_miou"] for e in epochs], rel=1e-5)


def test_the_train_command_prints_a_segmentation_runs_own_metrics(tmp_path, capsys):
    from designer.cli import main
    from designer.model.fileformat import save

    graph = chain([1, 16, 16], ("Conv2d", {"out_channels": 3, "kernel_size": 3, "padding": 1}), name="seg")
    graph.extra["training"] = {"task": "segmentation", "data": "shapes:2", "samples": 24, "val_split": 0.25}
    save(graph, tmp_path / "seg.json")
    argv = ["train", str(tmp_path / "seg.json"), "--epochs", "1", "--batch-size", "6", "--out", str(tmp_path / "r")]
    assert main([*argv, "--quiet"]) == 0
    out = capsys.readouterr().out
    row = next(r for r in runs.read_metrics(tmp_path / "r") if r["kind"] == "epoch")
    assert f"pixel_acc {float(row['val_pixel_acc']):.3f} miou {float(row['val_miou']):.3f}" in out
    assert f"best miou {float(row['val_miou']):.3f}" in out and "accuracy" not in out.split("best")[-1]
