"""mAP does not add up over parts of the data: under torchrun each rank gathers the others' validation outputs and
computes the mAP of the whole set, exactly what one process computes (the ranks are played here in one process)."""

from __future__ import annotations

import pytest
import torch

from designer.training.detection import DetectionTask
from designer.training.detection_metrics import Detections, Truth
from designer.training.roi_detection import RoIDetectionTask
from designer.training.tasks import GatherMeter
from tests.test_detection import _perfect_head


def _targets(n: int, g: torch.Generator) -> torch.Tensor:
    corners = torch.rand(n, 3, 2, generator=g) * 40
    sizes = 8 + torch.rand(n, 3, 2, generator=g) * 20
    labels = torch.randint(-1, 3, (n, 3, 1), generator=g).float()  # -1: padding
    return torch.cat([labels, corners, corners + sizes], dim=2)


def _ranks(meters):
    """Each meter gathers as under torchrun: ``all_gather`` gives every rank's value, in rank order."""
    values: list = []
    for m in meters:  # what each rank sends (a gather of itself alone leaves it as it was)
        m.gather(lambda v: (values.append(v), [v])[1])
    for m in meters:
        m.gather(lambda v: values)


def test_yolo_map_over_gathered_shards_equals_the_whole_sets():
    g = torch.Generator().manual_seed(0)
    task = DetectionTask(classes=3, image_size=(64, 64), grid=4, boxes=2)
    targets = _targets(12, g)
    outs = _perfect_head(targets, task) + torch.randn(12, 13, 4, 4, generator=g) * 0.5
    whole = task.meter()
    whole.update(outs, targets)
    world = 2
    shards = [task.meter() for _ in range(world)]
    for rank, meter in enumerate(shards):
        meter.update(outs[rank::world], targets[rank::world])  # ShardSampler: every world-th image from rank
    apart = [m.compute()["val_map50"] for m in shards]
    assert isinstance(shards[0], GatherMeter)
    _ranks(shards)
    want = whole.compute()
    assert want["val_map50"] > 0 and apart != [want["val_map50"]] * world
    for meter in shards:
        assert meter.compute() == pytest.approx(want)


def test_fast_rcnn_map_over_gathered_shards_equals_the_whole_sets():
    g = torch.Generator().manual_seed(1)
    task = RoIDetectionTask(classes=3, image_size=(64, 64))
    targets = _targets(10, g)
    truths = [Truth.from_padded(rows) for rows in targets]
    found = []
    for truth in truths:
        noisy = truth.boxes + torch.randn(truth.boxes.shape, generator=g) * 4
        found.append(Detections(noisy, torch.rand(len(noisy), generator=g), truth.labels))
    whole = task.meter()
    whole.found, whole.truths = found, truths
    shards = [task.meter() for _ in range(2)]
    for rank, meter in enumerate(shards):
        meter.found, meter.truths = found[rank::2], truths[rank::2]
    _ranks(shards)
    for meter in shards:
        assert meter.compute() == pytest.approx(whole.compute())
