"""Detection metrics against small cases whose AP is worked out by hand in each test."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from designer.training.detection_metrics import (
    COCO_THRESHOLDS,
    Detections,
    Truth,
    average_precision,
    mean_average_precision,
)


def _det(rows: list[tuple[float, int, tuple[float, float, float, float]]]) -> Detections:
    """Detections from (score, label, box) rows."""
    if not rows:
        return Detections(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long))
    return Detections(
        torch.tensor([r[2] for r in rows], dtype=torch.float32),
        torch.tensor([r[0] for r in rows]),
        torch.tensor([r[1] for r in rows]),
    )


def _truth(rows: list[tuple[int, tuple[float, float, float, float]]]) -> Truth:
    return Truth(torch.tensor([r[1] for r in rows], dtype=torch.float32), torch.tensor([r[0] for r in rows]))


A, B, C = (0.0, 0.0, 10.0, 10.0), (20.0, 20.0, 30.0, 30.0), (0.0, 0.0, 10.0, 10.0)


def _case() -> tuple[list[Detections], list[Truth]]:
    """Class 0 has three true boxes: A and B in image 0, C in image 1. Four class-0 detections, by score:
    0.9 on A exactly (IoU 1), 0.8 on A again (a duplicate: A is taken and B does not overlap), 0.7 the top half
    of C (IoU 50/100 = 0.5), 0.6 B moved one pixel right (IoU 9*10 / (100 + 100 - 90) = 90/110 = 0.818).
    Class 1 has one true box in image 1 and one detection, on A in image 0 (no overlap with it): AP 0.
    Class 2 has no ground truth: it is left out of the mean."""
    dets = [
        _det([(0.9, 0, A), (0.8, 0, A), (0.6, 0, (21.0, 20.0, 31.0, 30.0)), (0.95, 1, A)]),
        _det([(0.7, 0, (0.0, 0.0, 10.0, 5.0))]),
    ]
    truths = [_truth([(0, A), (0, B)]), _truth([(0, C), (1, (40.0, 40.0, 50.0, 50.0))])]
    return dets, truths


def test_ap_all_point_interpolation_by_hand() -> None:
    # TP, FP, TP, TP over 3 truths: precision 1, 1/2, 2/3, 3/4 at recall 1/3, 1/3, 2/3, 1. The envelope (best
    # precision at that recall or beyond) is 1, 3/4, 3/4, 3/4, so AP = 1/3 * 1 + 0 + 1/3 * 3/4 + 1/3 * 3/4 = 5/6.
    hits = np.array([True, False, True, True])
    assert average_precision(np.array([0.9, 0.8, 0.7, 0.6]), hits, 3) == pytest.approx(5 / 6)
    # order comes from the scores, not from the arrays: the same case shuffled
    assert average_precision(np.array([0.6, 0.8, 0.9, 0.7]), hits[[3, 1, 0, 2]], 3) == pytest.approx(5 / 6)
    assert average_precision(np.zeros(0), np.zeros(0, dtype=bool), 2) == 0.0
    assert math.isnan(average_precision(np.zeros(0), np.zeros(0, dtype=bool), 0))


def test_map_at_each_threshold_by_hand() -> None:
    dets, truths = _case()
    got = mean_average_precision(dets, truths, classes=3)
    # Class 0 at IoU 0.5: TP FP TP TP -> 5/6 (above). At 0.55 .. 0.80 (six thresholds) the 0.7 detection (IoU 0.5)
    # misses: TP FP FP TP, precision 1, 1/2, 1/3, 1/2 at recall 1/3, 1/3, 1/3, 2/3; envelope 1, 1/2, 1/2, 1/2:
    # AP = 1/3 + 1/3 * 1/2 = 1/2. At 0.85, 0.90, 0.95 the 0.818 one misses too: only the first hits, AP = 1/3.
    # Class 1: its only detection misses, AP 0. The mean over classes 0 and 1:
    map50 = (5 / 6 + 0) / 2
    coco = (5 / 6 + 6 * (1 / 2) + 3 * (1 / 3)) / 10 / 2
    assert got["map50"] == pytest.approx(map50)
    assert got["map"] == pytest.approx(coco)
    assert len(COCO_THRESHOLDS) == 10 and COCO_THRESHOLDS[0] == 0.5 and COCO_THRESHOLDS[-1] == 0.95


def test_match_prefers_the_closest_free_box() -> None:
    # Two truths side by side; the best detection (0.9) overlaps the right one more (IoU 0.818) than the left
    # (IoU 0): it takes the right one, and the second detection (0.8) on the left one (IoU 1) is a TP too.
    # Were the 0.9 detection matched to the first truth in the list, the left one would be taken and AP fall.
    left, right = (0.0, 0.0, 10.0, 10.0), (10.0, 0.0, 20.0, 10.0)
    dets = [_det([(0.9, 0, (11.0, 0.0, 21.0, 10.0)), (0.8, 0, left)])]
    got = mean_average_precision(dets, [_truth([(0, left), (0, right)])], classes=1)
    assert got["map50"] == pytest.approx(1.0)


def test_padded_rows_drop_padding() -> None:
    rows = torch.tensor([[2.0, 1, 2, 3, 4], [-1, 0, 0, 0, 0]])
    truth = Truth.from_padded(rows)
    assert truth.labels.tolist() == [2] and truth.boxes.tolist() == [[1.0, 2.0, 3.0, 4.0]]


def test_nothing_to_find_is_nan() -> None:
    got = mean_average_precision([_det([(0.5, 0, A)])], [Truth.from_padded(torch.zeros(0, 5))], 2)
    assert math.isnan(got["map50"]) and math.isnan(got["map"])
