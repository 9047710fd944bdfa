"""Segmentation from files: a folder of images with same-named PNG masks, and VOC 2012 read by torchvision from a
generated local root; masks resized with nearest neighbours and flipped with their image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from designer.training.data import Augment, DataError, collate
from designer.training.mask_data import VOC_CLASSES
from designer.training.task_data import load_task_data

PALETTE = [v for k in range(256) for v in (k * 40 % 256, k * 90 % 256, k * 160 % 256)]


def _scene(k: int, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """An RGB image with a bright square whose mask holds class ``1 + k % 2``, and a 255 (ignored) border row."""
    img = np.zeros((size, size, 3), dtype=np.uint8)
    mask = np.zeros((size, size), dtype=np.uint8)
    x = 2 + 2 * (k % 3)  # even: a 2x down-sizing keeps the edges on whole pixels
    img[4:10, x : x + 6] = 200
    mask[4:10, x : x + 6] = 1 + k % 2
    mask[0] = 255
    return img, mask


def _save_mask(mask: np.ndarray, path: Path) -> None:
    im = Image.fromarray(mask, mode="P")
    im.putpalette(PALETTE)  # ids in a palette PNG, as VOC stores them
    im.save(path)


def write_masks(root: Path, n: int = 6) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for k in range(n):
        img, mask = _scene(k)
        Image.fromarray(img).save(root / "images" / f"s{k}.jpg" if k % 2 else root / "images" / f"s{k}.png")
        _save_mask(mask, root / "masks" / f"s{k}.png")
    return root


def test_a_mask_folder_gives_each_images_class_ids(tmp_path):
    root = write_masks(tmp_path / "data")
    b = load_task_data("segmentation", f"masks:{root}", (3, 16, 16), val_split=0.0)
    assert b.classes == ["background", "class1", "class2"]
    x, y, broken = collate([b.train[i] for i in range(len(b.train))])
    assert broken == [] and x.shape == (6, 3, 16, 16) and y.dtype == torch.long
    for (path, _), mask in zip(b.train.samples, y):
        k = int(Path(path).stem[1:])
        assert torch.equal(mask, torch.from_numpy(_scene(k)[1]).long())


def test_masks_are_resized_by_nearest_neighbour_and_flipped_with_the_image(tmp_path):
    root = write_masks(tmp_path / "data")
    (root / "classes.txt").write_text("ground\nred\nblue\n")
    b = load_task_data("segmentation", f"masks:{root}", (1, 8, 8), val_split=0.0, augment=Augment(hflip=True))
    assert b.classes == ["ground", "red", "blue"]
    for i in range(len(b.train)):
        torch.manual_seed(i)
        img, mask = b.train[i]
        k = int(Path(b.train.samples[i][0]).stem[1:])
        small = torch.from_numpy(_scene(k)[1][::2, ::2].copy()).long()  # nearest: every second pixel, no new ids
        assert torch.equal(mask, small) or torch.equal(mask, small.flip(-1))
        assert set(mask.unique().tolist()) <= {0, 1, 2, 255}
        bright = img[0] > 100
        assert torch.equal(bright, (mask == 1) | (mask == 2))  # the square and its mask moved together


def test_an_image_without_its_mask_is_named(tmp_path):
    root = write_masks(tmp_path / "data")
    (root / "masks" / "s3.png").unlink()
    with pytest.raises(DataError) as err:
        load_task_data("segmentation", f"masks:{root}", (3, 16, 16))
    assert err.value.code == "data.missing_mask" and "s3" in err.value.message


def test_voc_segmentation_from_a_local_root(tmp_path):
    voc = tmp_path / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    for k in range(4):
        img, mask = _scene(k)
        Image.fromarray(img).save(voc / "JPEGImages" / f"2007_00{k}.jpg")
        _save_mask(mask, voc / "SegmentationClass" / f"2007_00{k}.png")
    (voc / "ImageSets/Segmentation/train.txt").write_text("2007_000\n2007_001\n2007_002\n")
    (voc / "ImageSets/Segmentation/val.txt").write_text("2007_003\n")
    b = load_task_data("segmentation", f"voc:{tmp_path}", (3, 16, 16))
    assert b.classes == list(VOC_CLASSES) and len(b.classes) == 21
    assert (len(b.train), b.val_samples) == (3, 1)
    _, mask = b.val[0]
    assert torch.equal(mask, torch.from_numpy(_scene(3)[1]).long())
