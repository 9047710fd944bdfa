"""YOLO v1 grid targets, loss, decoding and the detection task, against cases worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.ops import box_iou

from designer.training.detection import DetectionTask, decode, encode, paired_iou, yolo_loss

LOGIT_QUARTER = math.log(1 / 3)  # sigmoid(-ln 3) = 1/4
LOGIT_THREE_QUARTERS = math.log(3)


def test_encode_puts_each_object_in_the_cell_of_its_centre() -> None:
    # 64x64 image, S=4: cells of 16 pixels. Box (10, 20)-(30, 40): centre (20, 30) -> column 1, row 1; inside the
    # cell x = 20/16 - 1 = 0.25, y = 30/16 - 1 = 0.875; w = h = 20/64 = 0.3125. A second object centred in the same
    # cell comes later and is dropped (YOLO v1 has one object per cell); the -1 row is padding.
    target = torch.tensor([[[2.0, 10, 20, 30, 40], [5.0, 18, 18, 22, 22], [-1, 0, 0, 0, 0], [1.0, 48, 48, 64, 64]]])
    t = encode(target, 4, (64, 64))
    assert t.obj.sum().item() == 2 and t.obj[0, 1, 1] and t.obj[0, 3, 3]
    assert t.box[0, 1, 1].tolist() == pytest.approx([0.25, 0.875, 0.3125, 0.3125])
    assert t.cls[0, 1, 1].item() == 2 and t.cls[0, 3, 3].item() == 1
    # (48, 48)-(64, 64): centre 56/16 = 3.5 -> cell 3, offset 0.5, size 16/64
    assert t.box[0, 3, 3].tolist() == pytest.approx([0.5, 0.5, 0.25, 0.25])


def test_paired_iou_is_the_diagonal_of_box_iou() -> None:
    g = torch.Generator().manual_seed(0)
    corner = torch.rand(50, 2, generator=g) * 20
    a = torch.cat([corner, corner + 1 + torch.rand(50, 2, generator=g) * 10], dim=1)
    b = torch.cat([corner + 3, corner + 5 + torch.rand(50, 2, generator=g) * 10], dim=1)
    assert torch.allclose(paired_iou(a, b), box_iou(a, b).diagonal(), atol=1e-6)


def _head(box0: list[float], box1: list[float]) -> torch.Tensor:
    """A 1x1-grid head, B=2, C=2: logits (x, y, w, h, conf) per predictor, then both class logits 0."""
    return torch.tensor(box0 + box1 + [0.0, 0.0]).view(1, 12, 1, 1)


TARGET = torch.tensor([[[1.0, 16, 16, 48, 48]]])  # class 1, centre (0.5, 0.5), w = h = 0.5 of a 64x64 image


def test_loss_by_hand_exact_box() -> None:
    # Predictor 0: all logits 0 -> box (0.5, 0.5, 0.5, 0.5) = the target, IoU 1, confidence 0.5.
    # Predictor 1: w = h = 1/4 centred, IoU 0.0625 / 0.25 = 1/4. Predictor 0 is responsible:
    # coord 0; (0.5 - 1)^2 = 0.25; no-object 0.5 * 0.5^2 = 0.125; classes (0.5 - 0)^2 + (0.5 - 1)^2 = 0.5.
    out = _head([0, 0, 0, 0, 0], [0, 0, LOGIT_QUARTER, LOGIT_QUARTER, 0])
    assert yolo_loss(out, TARGET, 2, (64, 64)).item() == pytest.approx(0.25 + 0.125 + 0.5)


def test_loss_by_hand_centre_error() -> None:
    # Predictor 0 moved to x = 3/4: it spans x 0.5..1.0 against the target's 0.25..0.75, IoU 0.125 / 0.375 = 1/3,
    # still above predictor 1's 1/4. coord 5 * 0.25^2 = 0.3125; confidence (0.5 - 1/3)^2 = 1/36; 0.125; 0.5.
    out = _head([LOGIT_THREE_QUARTERS, 0, 0, 0, 0], [0, 0, LOGIT_QUARTER, LOGIT_QUARTER, 0])
    assert yolo_loss(out, TARGET, 2, (64, 64)).item() == pytest.approx(0.3125 + 1 / 36 + 0.125 + 0.5)


def test_loss_by_hand_responsible_is_the_best_iou() -> None:
    # Predictor 0 at x = 3/4 and w = 1/4: x 0.625..0.875, y 0.25..0.75: intersection 0.125 * 0.5 = 0.0625, union
    # 0.125 + 0.25 - 0.0625 = 0.3125, IoU 0.2 < 1/4: predictor 1 is responsible. Its sizes are off in sqrt:
    # 5 * 2 * (sqrt(1/4) - sqrt(1/2))^2; confidence (0.5 - 1/4)^2; predictor 0 no-object 0.5 * 0.25; classes 0.5.
    out = _head([LOGIT_THREE_QUARTERS, 0, LOGIT_QUARTER, 0, 0], [0, 0, LOGIT_QUARTER, LOGIT_QUARTER, 0])
    want = 10 * (0.5 - math.sqrt(0.5)) ** 2 + 0.0625 + 0.125 + 0.5
    assert yolo_loss(out, TARGET, 2, (64, 64)).item() == pytest.approx(want)


def test_loss_without_objects_is_the_no_object_term() -> None:
    out = _head([0, 0, 0, 0, 0], [0, 0, 0, 0, 0])
    assert yolo_loss(out, torch.full((1, 1, 5), -1.0), 2, (64, 64)).item() == pytest.approx(0.5 * 2 * 0.25)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _decode_case(second_class: int) -> torch.Tensor:
    """A 32x32 image, S=2 (16-pixel cells), B=1, C=2, w = h = 1/2 (16 pixels) in every cell; cell (row, col):
    (0, 0) centre (15.5, 8), confidence 0.9; (0, 1) centre (16.5, 8), confidence 0.5, class ``second_class``;
    (1, 0) centre (8, 24), confidence 0.6; (1, 1) confidence 0.001. Class logits (ln 4, 0) give p = 4/5 for class 0
    (the other way round for class 1)."""
    out = torch.zeros(1, 7, 2, 2)
    cells = {
        (0, 0): (15.5 / 16, 0.5, 0.9),
        (0, 1): (0.5 / 16, 0.5, 0.5),
        (1, 0): (0.5, 0.5, 0.6),
        (1, 1): (0.5, 0.5, 1e-3),
    }
    for (r, c), (x, y, conf) in cells.items():
        out[0, 0, r, c], out[0, 1, r, c], out[0, 4, r, c] = _logit(x), _logit(y), _logit(conf)
        out[0, 5, r, c] = math.log(4)
    if second_class == 1:
        out[0, 5:, 0, 1] = torch.tensor([0.0, math.log(4)])
    return out


def test_decode_scores_boxes_and_nms_by_hand() -> None:
    # Scores are confidence x best class probability: 0.9 * 0.8 = 0.72, 0.5 * 0.8 = 0.4, 0.6 * 0.8 = 0.48, 0.0008.
    # Boxes: (7.5, 0)-(23.5, 16), (8.5, 0)-(24.5, 16), (0, 16)-(16, 32). The second overlaps the first by IoU
    # 15*16 / (17*16) = 15/17 > 0.5 with the same class: suppressed. The third does not touch the first: kept.
    # The fourth is under the 0.01 score threshold.
    d = decode(_decode_case(second_class=0), 1, (32, 32), score_threshold=0.01)[0]
    assert d.scores.tolist() == pytest.approx([0.72, 0.48])
    assert d.labels.tolist() == [0, 0]
    assert d.boxes.tolist() == [pytest.approx([7.5, 0, 23.5, 16], abs=1e-4), pytest.approx([0, 16, 16, 32], abs=1e-4)]
    # NMS is per class: the second box, now of class 1, survives
    d = decode(_decode_case(second_class=1), 1, (32, 32), score_threshold=0.01)[0]
    assert d.scores.tolist() == pytest.approx([0.72, 0.48, 0.4])
    assert d.labels.tolist() == [0, 0, 1]


def _perfect_head(target: torch.Tensor, task: DetectionTask) -> torch.Tensor:
    """Logits that put each object's box, full confidence and class in its cell's first predictor."""
    t = encode(target, task.grid, task.image_size)
    n, s = target.shape[0], task.grid
    out = torch.full((n, task.boxes * 5 + task.classes, s, s), -12.0)
    out[:, 0:4] = torch.logit(t.box.clamp(1e-6, 1 - 1e-6), eps=1e-6).permute(0, 3, 1, 2)
    out[:, 4] = torch.where(t.obj, 12.0, -12.0)
    cls = torch.nn.functional.one_hot(t.cls, task.classes).permute(0, 3, 1, 2).float()
    out[:, task.boxes * 5 :] = cls * 12.0
    return out


def test_task_perfect_predictions_score_full_map() -> None:
    task = DetectionTask(classes=3, image_size=(64, 64), grid=4, boxes=2)
    target = torch.tensor(
        [
            [[0.0, 2, 3, 20, 30], [2.0, 40, 40, 60, 62]],
            [[1.0, 10, 34, 30, 50], [-1, 0, 0, 0, 0]],
        ]
    )
    out = _perfect_head(target, task)
    meter = task.meter()
    meter.update(out[:1], target[:1])
    meter.update(out[1:], target[1:])
    got = meter.compute()
    assert set(got) == set(task.metric_names)
    assert got["val_map50"] == pytest.approx(1.0) and got["val_map"] == pytest.approx(1.0)
    assert task.train_score(out, target).item() == pytest.approx(2.0)
    assert task.head_shape == (13, 4, 4)
    # a head that names the wrong class for every object finds nothing
    wrong = out.clone()
    wrong[:, 10:] = wrong[:, 10:].roll(1, dims=1)
    assert task.train_score(wrong, target).item() == 0.0
    meter = task.meter()
    meter.update(wrong, target)
    assert meter.compute()["val_map50"] == 0.0


@pytest.mark.slow
def test_tiny_yolo_template_trains_and_its_loss_falls(tmp_path) -> None:
    """The template's own section, shortened to three epochs of 64 scenes: the engine trains with the YOLO loss,
    validates with mAP, and the loss of the last epoch is below the first step's."""
    from pathlib import Path

    from designer.model.fileformat import load
    from designer.training.api import Finished, read_section
    from tests.helpers import short_run

    graph = load(Path(__file__).resolve().parent.parent / "templates" / "tiny_yolo.json")
    config = read_section(graph).replace(samples=64, epochs=3, batch_size=16, workers=0, val_split=0.25)
    assert config.task == "detection" and config.data == "shapes-scenes"
    end, steps, epochs = short_run(graph, config, tmp_path)
    assert isinstance(end, Finished) and end.status == "completed", end
    assert len(steps) == 9 and len(epochs) == 3
    assert epochs[-1].train_loss < steps[0]
    assert set(epochs[-1].metrics) >= {"val_map50", "val_map"}
    assert all(0.0 <= epochs[-1].metrics[k] <= 1.0 for k in ("val_map50", "val_map"))
    assert (Path(end.run_dir) / "metrics.csv").read_text().splitlines()[0].count("val_map50") == 1
