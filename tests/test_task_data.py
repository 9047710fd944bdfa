"""Segmentation and detection targets of the built-in data: the masks and boxes of the same seed's drawings, padded
as the task contract says, moved with the image by augmentation, and refused for the wrong task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from designer.training.data import Augment, DataError, collate
from designer.training.shapes import SHAPE_CLASSES, make_scenes, make_shape_targets
from designer.training.task_data import load_task_data, padded_boxes, parse_task_spec


def test_segmentation_shapes_give_each_images_drawn_mask():
    b = load_task_data("segmentation", "shapes:3", (1, 20, 20), samples=30, val_split=0.2, seed=4)
    assert b.classes == ["background", *SHAPE_CLASSES[:3]]
    drawn = make_shape_targets(30, (20, 20), 1, 4, 3)
    x, y, _ = collate(b.train.__getitems__(list(range(len(b.train)))))
    assert y.dtype == torch.long and y.shape == (24, 20, 20)
    for img, mask in zip(x, y):  # the split shuffles: find each image among the drawn ones
        k = int(np.flatnonzero((drawn.images == img.numpy()).all(axis=(1, 2, 3)))[0])
        assert torch.equal(mask, torch.from_numpy(drawn.masks[k]).long())


def test_detection_scenes_give_padded_xyxy_rows():
    b = load_task_data("detection", "shapes-scenes:4", (3, 32, 32), samples=12, val_split=0.0, seed=2)
    drawn = make_scenes(12, (32, 32), 3, 2, 4)
    assert b.classes == list(SHAPE_CLASSES[:4]) and b.val is None
    rows = b.train.labels
    counts = (drawn.box_labels >= 0).sum(1)
    assert rows.shape == (12, counts.max(), 5) and rows.dtype == torch.float32
    x, _, _ = collate(b.train.__getitems__(list(range(12))))
    for img, r in zip(x, rows):
        k = int(np.flatnonzero((drawn.images == img.numpy()).all(axis=(1, 2, 3)))[0])
        real = drawn.box_labels[k] >= 0
        assert int((r[:, 0] >= 0).sum()) == counts[k]
        assert torch.equal(r[: counts[k], 0], torch.from_numpy(drawn.box_labels[k][real]).float())
        assert torch.equal(r[: counts[k], 1:], torch.from_numpy(drawn.boxes[k][real]))
        assert torch.equal(r[counts[k] :], torch.tensor([[-1.0, 0, 0, 0, 0]]).expand(len(r) - counts[k], 5))


def test_padding_puts_real_boxes_first():
    boxes = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    rows = padded_boxes(boxes, np.array([[-1, 5, -1], [1, -1, -1]]))
    assert rows.tolist() == [[[5, 4, 5, 6, 7]], [[1, 12, 13, 14, 15]]]


def test_a_flip_moves_the_mask_and_the_boxes_with_the_image():
    aug = Augment(hflip=True)
    for task in ("segmentation", "detection"):
        plain = load_task_data(task, "shapes-scenes:2", (3, 24, 24), samples=8, val_split=0.0, seed=1)
        moved = load_task_data(task, "shapes-scenes:2", (3, 24, 24), samples=8, val_split=0.0, seed=1, augment=aug)
        flipped = 0
        for i in range(8):
            torch.manual_seed(i)
            img, target = moved.train[i]
            img0, target0 = plain.train[i]
            if torch.equal(img, img0):
                assert torch.equal(target, target0)
                continue
            flipped += 1
            assert torch.equal(img, img0.flip(-1))
            if task == "segmentation":
                assert torch.equal(target, target0.flip(-1))
            else:
                real = target0[:, 0] >= 0
                mirrored = torch.stack([24 - target0[:, 3], 24 - target0[:, 1]], 1)
                assert torch.equal(target[real][:, [1, 3]], mirrored[real])
        assert flipped


@pytest.mark.parametrize(
    ("task", "data", "code"),
    [("segmentation", "mnist:/nowhere", "data.task_mismatch"), ("detection", "shapes-scenes:1", "data.bad_spec")],
)
def test_data_the_task_cannot_use_is_one_clear_error(task, data, code):
    with pytest.raises(DataError) as err:
        load_task_data(task, data, (1, 16, 16), samples=4)
    assert err.value.code == code


def test_scenes_spec_round_trips():
    assert str(parse_task_spec("shapes-scenes")) == "shapes-scenes"
    assert str(parse_task_spec("shapes_scenes:3")) == "shapes-scenes:3"
