"""Detection data from files: a tiny PASCAL VOC tree and a tiny COCO json written in tmp_path, read back as padded
box rows at the design's size, checked against the rectangles drawn in the images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from designer.training.data import Augment, DataError, collate
from designer.training.task_data import load_task_data, parse_task_spec

#: Two images, each with white rectangles on black: (width, height, [(class name, x1, y1, x2, y2) exclusive]).
SCENES = [
    (80, 40, [("dog", 8, 4, 40, 20), ("cat", 50, 10, 70, 36)]),
    (40, 60, [("cat", 0, 30, 20, 60)]),
]


def _draw(path: Path, w: int, h: int, boxes: list[tuple[str, int, int, int, int]]) -> None:
    img = np.zeros((h, w, 3), dtype=np.uint8)
    for _, x1, y1, x2, y2 in boxes:
        img[y1:y2, x1:x2] = 255
    Image.fromarray(img).save(path)


def _voc(root: Path, difficult: bool = False) -> Path:
    base = root / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (base / sub).mkdir(parents=True)
    names = []
    for i, (w, h, boxes) in enumerate(SCENES):
        name = f"2012_{i:06d}"
        names.append(name)
        _draw(base / "JPEGImages" / f"{name}.jpg", w, h, boxes)
        # VOC corners are 1-based and inclusive: pixels x1..x2-1 (0-based) are xmin = x1 + 1 .. xmax = x2
        objects = "".join(
            f"<object><name>{c}</name><difficult>0</difficult><bndbox><xmin>{x1 + 1}</xmin><ymin>{y1 + 1}</ymin>"
            f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
            for c, x1, y1, x2, y2 in boxes
        )
        if difficult and i == 0:
            objects += (
                "<object><name>dog</name><difficult>1</difficult><bndbox><xmin>1</xmin><ymin>1</ymin>"
                "<xmax>3</xmax><ymax>3</ymax></bndbox></object>"
            )
        xml = f"<annotation><filename>{name}.jpg</filename>{objects}</annotation>"
        (base / "Annotations" / f"{name}.xml").write_text(xml)
    (base / "ImageSets" / "Main" / "trainval.txt").write_text("\n".join(names) + "\n")
    return root


def _coco(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    categories = [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}]  # ids out of order: classes go by id
    ids = {"cat": 3, "dog": 7}
    images, annotations = [], []
    for i, (w, h, boxes) in enumerate(SCENES):
        _draw(root / "images" / f"{i}.png", w, h, boxes)
        images.append({"id": 100 + i, "file_name": f"{i}.png", "width": w, "height": h})
        for c, x1, y1, x2, y2 in boxes:
            bbox = [x1, y1, x2 - x1, y2 - y1]
            annotations.append({"id": len(annotations), "image_id": 100 + i, "category_id": ids[c], "bbox": bbox})
    annotations.append({"id": 99, "image_id": 100, "category_id": 3, "bbox": [0, 0, 80, 40], "iscrowd": 1})
    (root / "instances.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    return root


def _drawn_box(img: torch.Tensor) -> list[float]:
    """The tight box (xyxy, exclusive) around the pixels brighter than half in a [C, H, W] image."""
    ys, xs = torch.nonzero(img.float().mean(0) > 127, as_tuple=True)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def _check_against_pixels(bundle, classes: dict[str, int]) -> None:
    rows_seen = []
    for k in range(len(bundle.train)):
        img, rows = bundle.train[k]
        assert img.shape == (3, 32, 32) and img.dtype == torch.uint8
        assert rows.shape == (2, 5)  # K = the most boxes of any image (2), padded with -1 rows
        real = rows[rows[:, 0] >= 0]
        rows_seen.append(len(real))
        for row in real:
            x1, y1, x2, y2 = (int(round(v)) for v in row[1:].tolist())
            crop = torch.zeros_like(img)
            crop[:, y1:y2, x1:x2] = img[:, y1:y2, x1:x2]
            # the box, resized with the image, still bounds its rectangle's pixels within a pixel
            assert _drawn_box(crop) == pytest.approx(row[1:].tolist(), abs=1.01)
    assert sorted(rows_seen) == [1, 2]
    assert set(bundle.classes) >= set(classes)


def test_voc_tree_gives_padded_rows_at_the_input_size(tmp_path: Path) -> None:
    root = _voc(tmp_path, difficult=True)
    bundle = load_task_data("detection", f"voc:{root}", (3, 32, 32), val_split=0.0)
    assert len(bundle.classes) == 20 and bundle.classes[11] == "dog" and bundle.classes[7] == "cat"
    _check_against_pixels(bundle, {"dog": 11, "cat": 7})
    # image 0 (80x40 -> 32x32): the dog at x 8..40, y 4..20 is at x 8*0.4 = 3.2 .. 16, y 4*0.8 = 3.2 .. 16;
    # the difficult dog is left out
    first = next(bundle.train[k][1] for k in range(2) if (bundle.train[k][1][:, 0] >= 0).sum() == 2)
    assert first.tolist() == [pytest.approx([11, 3.2, 3.2, 16, 16], abs=1e-4), pytest.approx([7, 20, 8, 28, 28.8])]


def test_coco_json_gives_padded_rows_at_the_input_size(tmp_path: Path) -> None:
    bundle = load_task_data("detection", f"coco:{_coco(tmp_path)}", (3, 32, 32), val_split=0.0)
    assert bundle.classes == ["cat", "dog"]  # by category id: 3 then 7
    _check_against_pixels(bundle, {"cat": 0, "dog": 1})
    images, targets, broken = collate([bundle.train[0], bundle.train[1]])
    assert images.shape == (2, 3, 32, 32) and targets.shape == (2, 2, 5) and broken == []


def test_augmentation_moves_the_boxes_with_the_image(tmp_path: Path) -> None:
    bundle = load_task_data(
        "detection", f"coco:{_coco(tmp_path)}", (3, 32, 32), val_split=0.0, augment=Augment(hflip=True)
    )
    flipped = 0
    for _ in range(8):  # a flip happens with probability 1/2 per draw
        for k in range(len(bundle.train)):
            img, rows = bundle.train[k]
            for row in rows[rows[:, 0] >= 0]:
                x1, y1, x2, y2 = (int(round(v)) for v in row[1:].tolist())
                crop = torch.zeros_like(img)
                crop[:, y1:y2, x1:x2] = img[:, y1:y2, x1:x2]
                assert _drawn_box(crop) == pytest.approx(row[1:].tolist(), abs=1.01)
            flipped += int(img[:, 24, 30].float().mean() > 127)  # only image 1 flipped has its cat there
    assert flipped > 0


def test_missing_or_broken_sources_are_data_errors(tmp_path: Path) -> None:
    assert parse_task_spec(f"voc:{tmp_path}:2007").root == f"{tmp_path}:2007"
    with pytest.raises(DataError) as voc:
        load_task_data("detection", f"voc:{tmp_path}", (3, 32, 32))
    assert voc.value.code == "data.missing"
    (tmp_path / "instances.json").write_text('{"images": []')
    with pytest.raises(DataError) as coco:
        load_task_data("detection", f"coco:{tmp_path}", (3, 32, 32))
    assert coco.value.code == "data.bad_annotations"
    with pytest.raises(DataError) as spec:
        parse_task_spec("coco:")
    assert spec.value.code == "data.bad_spec"
