"""Training data: the shapes dataset, each on-disk dataset kind written here in its real layout, splits, transforms."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from designer.training.data import (
    SHAPE_CLASSES,
    Augment,
    Broken,
    DataError,
    FileImages,
    build_augment,
    collate,
    load_data,
    make_shapes,
    parse_spec,
    preview_grid,
)
from designer.training.shapes import make_scenes, make_shape_targets

# -- writers for the on-disk layouts (also used by the engine tests) ---------------------------------------------------


def _idx(path: Path, array: np.ndarray) -> None:
    """An MNIST idx file: magic (0, 0, type 0x08 = uint8, rank), big-endian dims, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, folder: str = "MNIST", n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw idx files as torchvision's MNIST / FashionMNIST expect them under ROOT/<folder>/raw."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    _idx(raw / "train-images-idx3-ubyte", images)
    _idx(raw / "train-labels-idx1-ubyte", labels)
    _idx(raw / "t10k-images-idx3-ubyte", images[:4])
    _idx(raw / "t10k-labels-idx1-ubyte", labels[:4])
    return images, labels


CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar10(root: Path, per_batch: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Python pickle batches as the CIFAR-10 archive holds them: rows of 3072 bytes, R then G then B planes."""
    rng = np.random.default_rng(seed)
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rows, labels = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        lab = [int(v) for v in rng.integers(0, 10, per_batch)]
        with open(base / name, "wb") as f:
            pickle.dump({"data": data, "labels": lab}, f)
        if name != "test_batch":
            rows.append(data)
            labels += lab
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CIFAR_NAMES}, f)
    return np.concatenate(rows).reshape(-1, 3, 32, 32), np.array(labels)


def write_folder(
    root: Path, classes: tuple[str, ...] = ("cat", "dog"), per_class: int = 6, size: int = 20, broken: int = 0
) -> Path:
    """ImageFolder layout: ROOT/<class>/<n>.png, colour PNGs drawn so the classes differ; ``broken`` bad files."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
            img[:, :, k % 3] += 150
            Image.fromarray(img).save(root / name / f"{i}.png")
    for i in range(broken):
        (root / classes[0] / f"broken{i}.png").write_bytes(b"this is not a PNG file")
    return root


# -- shapes -----------------------------------------------------------------------------------------------------------


def test_shapes_are_deterministic_balanced_and_typed():
    a, la = make_shapes(200, (28, 28), 1, seed=3)
    b, lb = make_shapes(200, (28, 28), 1, seed=3)
    c, _ = make_shapes(200, (28, 28), 1, seed=4)
    assert a.shape == (200, 1, 28, 28) and a.dtype == np.uint8 and la.dtype == np.int64
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert not np.array_equal(a, c)
    assert np.bincount(la, minlength=len(SHAPE_CLASSES)).tolist() == [20] * len(SHAPE_CLASSES)


@pytest.mark.parametrize("size,channels", [((32, 32), 3), ((64, 64), 3)])
def test_shapes_colour_variants(size, channels):
    images, labels = make_shapes(30, size, channels, seed=1)
    assert images.shape == (30, channels, *size)
    # Colour images really use their channels differently.
    assert np.abs(images[:, 0].astype(int) - images[:, 1].astype(int)).mean() > 10


def test_shapes_draw_the_named_shape():
    # The filled shapes cover their centre and the hollow ones do not: compare the centre pixel with the border.
    images, labels = make_shapes(200, (40, 40), 1, seed=0)
    inks = {k: [] for k in range(len(SHAPE_CLASSES))}
    for img, lab in zip(images[:, 0].astype(int), labels):
        ys, xs = np.nonzero(np.abs(img - np.median(img)) > 60)
        cy, cx = int(round(ys.mean())), int(round(xs.mean()))
        inks[int(lab)].append(abs(img[cy, cx] - np.median(img)) > 60)
    filled = {SHAPE_CLASSES[k]: np.mean(v) for k, v in inks.items()}
    for name in ("circle", "square", "diamond", "cross", "x", "star"):
        assert filled[name] > 0.9, name
    for name in ("ring", "frame"):
        assert filled[name] < 0.1, name


def test_many_shapes_are_drawn_chunk_by_chunk_without_gaps():
    # 10,000 samples span several drawing chunks; how fast they are drawn is bench/bench_data.py's business.
    images, labels = make_shapes(10_000, (28, 28), 1, seed=0)
    assert images.shape == (10_000, 1, 28, 28)
    assert np.bincount(labels).tolist() == [1000] * len(SHAPE_CLASSES)
    flat = images.reshape(len(images), -1).astype(int)
    assert (flat.max(axis=1) - flat.min(axis=1) > 60).all()  # every sample has a shape on its background


def test_one_channel_shapes_are_light_on_a_dark_ground():
    # As MNIST's digits: the shape's ink is brighter than its background in every sample, so a network of odd
    # activations and average pooling (LeNet) need not learn each feature twice, once per polarity.
    images, labels = make_shapes(300, (28, 28), 1, seed=2)
    for img, lab in zip(images[:, 0].astype(int), labels):
        ground = np.median(img[[0, -1], :])  # the top and bottom rows: never inside a shape's bounding circle
        bright, dark = (img > ground + 60).sum(), (img < ground - 60).sum()  # ink, or pixel noise (sigma <= 20)
        assert bright > 10 * max(dark, 1), SHAPE_CLASSES[lab]


def test_shapes_can_draw_their_first_classes_only():
    images, labels = make_shapes(60, (16, 16), 1, seed=0, classes=3)
    assert np.bincount(labels).tolist() == [20, 20, 20]
    b = load_data("shapes:2", (3, 16, 16), samples=40)
    assert b.classes == ["circle", "square"] and str(b.spec) == "shapes:2"
    assert set(b.train.labels.tolist()) == {0, 1}
    for bad in (1, 11):
        with pytest.raises(ValueError, match="2 to 10 classes"):
            make_shapes(10, (8, 8), 1, classes=bad)


def test_shape_targets_are_the_same_images_with_masks_and_boxes():
    images, labels = make_shapes(40, (24, 24), 1, seed=7)
    t = make_shape_targets(40, (24, 24), 1, seed=7)
    assert np.array_equal(t.images, images) and np.array_equal(t.labels, labels)
    for img, lab, mask, box in zip(t.images[:, 0].astype(int), t.labels, t.masks, t.boxes[:, 0]):
        assert set(np.unique(mask)) == {0, lab + 1}  # the ground and this image's class, nothing else
        ground = np.median(img[mask == 0])
        assert img[mask > 0].mean() > ground + 40  # the mask is where the ink is
        ys, xs = np.nonzero(mask)
        assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]  # tight, x1 and y1 exclusive
    assert t.box_labels[:, 0].tolist() == t.labels.tolist()


def test_scenes_hold_several_separate_shapes_with_a_box_each():
    a = make_scenes(300, (48, 48), 3, seed=4, max_objects=4)
    b = make_scenes(300, (48, 48), 3, seed=4, max_objects=4)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.boxes, b.boxes)
    count = (a.box_labels >= 0).sum(axis=1)
    assert count.min() == 1 and count.max() == 4 and len(set(count.tolist())) == 4
    for mask, boxes, labels in zip(a.masks, a.boxes, a.box_labels):
        present = labels >= 0
        assert np.all(boxes[~present] == 0)
        for (x0, y0, x1, y1), lab in zip(boxes[present].astype(int), labels[present]):
            assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48
            assert (mask[y0:y1, x0:x1] == lab + 1).any()
    # Separate shapes: each keeps every pixel it covers (an overlap would give some to a later shape), so the box
    # around its instance pixels is the box drawn from its own coverage.
    for instances, boxes, labels in zip(a.instances, a.boxes, a.box_labels):
        for k in np.flatnonzero(labels >= 0):
            ys, xs = np.nonzero(instances == k + 1)
            assert boxes[k].tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


# -- specs and splits -------------------------------------------------------------------------------------------------


def test_parse_spec():
    assert parse_spec("shapes").kind == "shapes"
    assert parse_spec("mnist:/data").root == "/data"
    assert parse_spec("fashion-mnist:/d").kind == "fashion-mnist"
    assert str(parse_spec("folder:/x/y")) == "folder:/x/y"
    assert parse_spec("shapes:3").shape_classes == 3 and parse_spec("shapes").shape_classes == 10
    for bad in ("imagenet:/x", "mnist", "folder:", "shapes:1", "shapes:11", "shapes:x"):
        with pytest.raises(DataError) as err:
            parse_spec(bad)
        assert err.value.code == "data.bad_spec"


def test_shapes_bundle_split_and_normalisation():
    b = load_data("shapes", (1, 16, 16), val_split=0.25, samples=200, seed=5)
    assert len(b.train) == 150 and len(b.val) == 50
    train, val = b.train.images, b.val.images
    assert train.dtype == torch.uint8 and tuple(train.shape[1:]) == (1, 16, 16)
    full, _ = make_shapes(200, (16, 16), 1, 5)
    # The split is a partition of the generated samples.
    rows = {bytes(x) for x in full.reshape(200, -1)}
    assert {bytes(x) for x in torch.cat([train, val]).reshape(200, -1).numpy()} == rows
    x = train.float() / 255
    assert b.mean[0] == pytest.approx(x.mean().item(), abs=1e-3)
    assert b.std[0] == pytest.approx(x.std().item(), abs=1e-3)
    assert b.classes == list(SHAPE_CLASSES)


def test_split_is_seeded():
    a = load_data("shapes", (1, 12, 12), samples=50, seed=1)
    b = load_data("shapes", (1, 12, 12), samples=50, seed=1)
    assert torch.equal(a.val.labels, b.val.labels) and torch.equal(a.train.images, b.train.images)
    with pytest.raises(DataError):
        load_data("shapes", (1, 12, 12), samples=50, val_split=1.0)


def test_input_rank_and_channels_errors():
    with pytest.raises(DataError) as err:
        load_data("shapes", (16,), samples=10)
    assert err.value.code == "data.input_rank"
    with pytest.raises(DataError) as err:
        load_data("shapes", (2, 16, 16), samples=10)
    assert err.value.code == "data.channels_mismatch"


# -- torchvision datasets from local roots -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind,folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_family_from_raw_idx_files(tmp_path, kind, folder):
    images, labels = write_mnist(tmp_path, folder)
    b = load_data(f"{kind}:{tmp_path}", (1, 28, 28), val_split=0.0)
    assert len(b.classes) == 10 and b.val is None
    assert torch.equal(b.train.images[:, 0], torch.from_numpy(images)[_order(len(labels))])


def _order(n: int, seed: int = 0) -> torch.Tensor:
    """With no validation share the training view is the seeded permutation of the file's samples."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def test_mnist_resized_and_replicated_for_a_colour_design(tmp_path):
    images, _ = write_mnist(tmp_path)
    b = load_data(f"mnist:{tmp_path}", (3, 32, 32), val_split=0.0)
    assert tuple(b.train.images.shape[1:]) == (3, 32, 32)
    x = b.train.images
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])
    assert any("replicated" in n for n in b.notes) and any("resized" in n for n in b.notes)
    from torchvision.transforms.v2 import functional as F

    ref = F.resize(torch.from_numpy(images)[_order(len(images))][:, None], [32, 32], antialias=True)
    assert torch.equal(x[:, :1], ref)


def test_cifar10_from_pickle_batches(tmp_path):
    images, labels = write_cifar10(tmp_path)
    b = load_data(f"cifar10:{tmp_path}", (3, 32, 32), val_split=0.0)
    assert b.classes == CIFAR_NAMES
    order = _order(len(labels))
    assert torch.equal(b.train.images, torch.from_numpy(images)[order])
    assert torch.equal(b.train.labels, torch.from_numpy(labels)[order])
    with pytest.raises(DataError) as err:
        load_data(f"cifar10:{tmp_path}", (1, 32, 32))
    assert err.value.code == "data.channels_mismatch"


def test_missing_dataset_is_a_clear_error_without_download(tmp_path):
    with pytest.raises(DataError) as err:
        load_data(f"mnist:{tmp_path}", (1, 28, 28))
    assert err.value.code == "data.missing" and "--download" in err.value.hint


# -- image folders ----------------------------------------------------------------------------------------------------


def test_folder_layout_sizes_and_channels(tmp_path):
    write_folder(tmp_path / "pets", per_class=5, size=20)
    b = load_data(f"folder:{tmp_path / 'pets'}", (3, 24, 24), val_split=0.2)
    assert b.classes == ["cat", "dog"] and len(b.train) + len(b.val) == 10
    img, label = b.val[0]
    assert img.dtype == torch.uint8 and tuple(img.shape) == (3, 24, 24) and label in (0, 1)
    gray = load_data(f"folder:{tmp_path / 'pets'}", (1, 16, 16), val_split=0.0)
    assert tuple(gray.train[0][0].shape) == (1, 16, 16)


def test_folder_with_train_and_val_subfolders(tmp_path):
    write_folder(tmp_path / "d" / "train", per_class=3)
    write_folder(tmp_path / "d" / "val", per_class=2)
    b = load_data(f"folder:{tmp_path / 'd'}", (3, 20, 20))
    assert len(b.train) == 6 and len(b.val) == 4


def test_broken_image_is_skipped_not_fatal(tmp_path):
    write_folder(tmp_path, per_class=2, broken=1)
    ds = load_data(f"folder:{tmp_path}", (3, 20, 20), val_split=0.0).train
    items = [ds[i] for i in range(len(ds))]
    broken = [s for s in items if isinstance(s, Broken)]
    assert len(broken) == 1 and broken[0].path.endswith("broken0.png")
    x, y, skipped = collate(items)
    assert x.shape == (4, 3, 20, 20) and len(y) == 4 and skipped == [broken[0].path]
    x, y, skipped = collate(broken)
    assert len(y) == 0 and len(skipped) == 1


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(DataError) as err:
        load_data(f"folder:{tmp_path / 'nope'}", (3, 8, 8))
    assert err.value.code == "data.missing"
    (tmp_path / "a").mkdir()
    with pytest.raises(DataError) as err:
        load_data(f"folder:{tmp_path}", (3, 8, 8))
    assert err.value.code == "data.empty"


# -- augmentation and preview ---------------------------------------------------------------------------------------


def test_augment_dict_round_trip_and_unknown_key():
    aug = Augment(hflip=True, rotation=10.0)
    assert Augment.from_dict(aug.to_dict()) == aug and aug.active and not Augment().active
    with pytest.raises(DataError):
        Augment.from_dict({"mixup": True})


def test_build_augment_keeps_size_and_dtype():
    assert build_augment(Augment(), (16, 16), 3) is None
    every = Augment(crop=True, hflip=True, vflip=True, rotation=20, color_jitter=0.3, affine=True)
    for aug in (every, Augment(resized_crop=True, color_jitter=0.2)):
        t = build_augment(aug, (16, 16), 3)
        out = t(torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8))
        assert out.shape == (3, 16, 16) and out.dtype == torch.uint8
    gray = build_augment(Augment(color_jitter=0.4), (16, 16), 1)
    assert gray(torch.randint(0, 256, (1, 16, 16), dtype=torch.uint8)).shape == (1, 16, 16)


def test_hflip_gives_the_image_or_its_mirror():
    t = build_augment(Augment(hflip=True), (8, 8), 1)
    img = torch.arange(64, dtype=torch.uint8).view(1, 8, 8)
    torch.manual_seed(0)
    outs = [t(img) for _ in range(20)]
    assert all(torch.equal(o, img) or torch.equal(o, img.flip(-1)) for o in outs)
    assert any(torch.equal(o, img.flip(-1)) for o in outs) and any(torch.equal(o, img) for o in outs)


def test_augmentation_applies_to_training_samples_only():
    b = load_data("shapes", (1, 16, 16), samples=40, augment=Augment(rotation=45), seed=0)
    assert b.train.transform is not None and b.val.transform is None
    torch.manual_seed(1)
    assert sum(not torch.equal(b.train[0][0], b.train.images[0]) for _ in range(5)) >= 4
    assert torch.equal(b.val[0][0], b.val.images[0])


def test_preview_grid():
    b = load_data("shapes", (1, 16, 16), samples=40, augment=Augment(rotation=30), seed=0)
    grid = preview_grid(b.train, n=9, scale=2, seed=1)
    assert grid.dtype == np.uint8 and grid.shape == (3 * 18 * 2, 3 * 18 * 2, 3)
    assert np.array_equal(grid, preview_grid(b.train, n=9, scale=2, seed=1))
    plain = preview_grid(b.val, n=4, scale=1)
    assert plain.shape == (2 * 18, 2 * 18, 3) and np.array_equal(plain[..., 0], plain[..., 1])
    state = torch.get_rng_state()
    preview_grid(b.train, n=4)
    assert torch.equal(state, torch.get_rng_state())


def test_file_images_resize_with_pil_decoding(tmp_path):
    from PIL import Image

    (tmp_path / "a").mkdir()
    arr = np.random.default_rng(0).integers(0, 256, (10, 14, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a" / "x.png")
    img, _ = FileImages([(str(tmp_path / "a" / "x.png"), 0)], 3, (10, 14))[0]
    assert torch.equal(img, torch.from_numpy(arr).permute(2, 0, 1))
