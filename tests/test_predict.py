"""``predict``: the classes or the mask a model gives one image, checked against the same model run in torch here,
and the drawing checked pixel by pixel against the prediction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from designer.cli import main
from designer.compiler import compile_graph
from designer.insight.images import read_image
from designer.insight.overlays import class_colour, draw_boxes, draw_mask, side_by_side
from designer.model.fileformat import save
from designer.training.shapes import make_shape_targets
from tests.helpers import chain

SIZE = 16


def _seg_design():
    return chain(
        [1, SIZE, SIZE],
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}),
        ("ReLU", {}),
        ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
    )


@pytest.fixture
def scene(tmp_path):
    """A built-in shapes image and its true mask (class id + 1 under the shape, 0 elsewhere) as PNG files."""
    t = make_shape_targets(1, (SIZE, SIZE), classes=3, seed=4)
    Image.fromarray(t.images[0, 0]).save(tmp_path / "img.png")
    Image.fromarray(t.masks[0]).save(tmp_path / "mask.png")
    return tmp_path / "img.png", tmp_path / "mask.png", t


def test_segmentation_draws_the_argmax_mask_and_scores_it_against_the_truth(tmp_path, scene, capsys):
    img, mask, t = scene
    g = _seg_design()
    save(g, tmp_path / "seg.json")
    out = tmp_path / "out.png"
    argv = [str(tmp_path / "seg.json"), "--image", str(img), "--mask", str(mask), "--task", "segmentation"]
    assert main(["predict", *argv, "-o", str(out)]) == 0

    # The same model, run here: an untrained project is initialised with seed 0 and fed pixels / 255.
    x = torch.from_numpy(t.images[0]).float().div(255)[None]
    pred = compile_graph(g, seed=0).eval()(x)[0].argmax(0).numpy()
    truth = t.masks[0].astype(np.int64)
    assert (pred > 0).any() and (truth > 0).any()  # something to draw on both sides
    printed = capsys.readouterr().out
    assert f"pixel_acc\t{(pred == truth).mean():.4f}" in printed
    unions = [((pred == k) | (truth == k)).sum() for k in range(4)]
    ious = [((pred == k) & (truth == k)).sum() / u for k, u in enumerate(unions) if u]  # classes seen on either side
    assert f"miou\t{np.mean(ious):.4f}" in printed

    picture = np.asarray(Image.open(out).convert("RGB"))
    factor = 256 // SIZE
    side = SIZE * factor
    assert picture.shape == (side, 3 * side + 2 * 4, 3)  # image, truth, prediction with 4-pixel gaps
    base, drawn = picture[:, :side], picture[:, 2 * (side + 4) :]
    assert (base[..., 0] == t.images[0, 0].repeat(factor, 0).repeat(factor, 1)).all()  # the image as read
    big = pred.repeat(factor, 0).repeat(factor, 1)
    assert (drawn[big == 0] == base[big == 0]).all()  # the background is left as it is
    for k in set(np.unique(pred)) - {0}:
        tint = np.array(class_colour(int(k)), dtype=np.int64)
        moved = drawn[big == k].astype(np.int64) - base[big == k]
        toward = tint - base[big == k]
        assert (moved * toward >= 0).all() and np.abs(moved).sum() > 0  # every pixel of class k tinted toward it


def test_classification_prints_the_top_classes_with_the_models_probabilities(tmp_path, scene, capsys):
    img, _, t = scene
    g = chain([1, SIZE, SIZE], ("Flatten", {}), ("Linear", {"out_features": 6}))
    save(g, tmp_path / "cls.json")
    assert main(["predict", str(tmp_path / "cls.json"), "--image", str(img), "--top", "3"]) == 0
    x = torch.from_numpy(t.images[0]).float().div(255)[None]
    probs = compile_graph(g, seed=0).eval()(x)[0].softmax(0)
    top = probs.topk(3)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"{k}\t{p:.4f}" for p, k in zip(top.values.tolist(), top.indices.tolist(), strict=True)]


def test_detection_prints_and_draws_the_decoded_boxes(tmp_path, scene, capsys):
    from designer.training.detection import DetectionTask

    img, _, t = scene
    g = chain([1, SIZE, SIZE], ("Conv2d", {"out_channels": 2 * 5 + 3, "kernel_size": 4, "stride": 4}))
    g.extra["training"] = {"task": "detection", "detection": {"grid": 4, "boxes": 2}}
    save(g, tmp_path / "det.json")
    out = tmp_path / "out.png"
    assert main(["predict", str(tmp_path / "det.json"), "--image", str(img), "--threshold", "0.1", "-o", str(out)]) == 0

    x = torch.from_numpy(t.images[0]).float().div(255)[None]
    head = compile_graph(g, seed=0).eval()(x)
    found = DetectionTask(classes=3, image_size=(SIZE, SIZE), grid=4, boxes=2).predict(head)[0]
    keep = found.scores >= 0.1
    assert keep.any()  # an untrained head still scores some boxes above 0.1: something to draw
    lines = capsys.readouterr().out.strip().splitlines()
    want = [
        f"{k}\t{s:.4f}\t" + " ".join(f"{v:.1f}" for v in b)
        for b, s, k in zip(found.boxes[keep].tolist(), found.scores[keep].tolist(), found.labels[keep].tolist())
    ]
    assert lines[:-1] == want and lines[-1].startswith(f"{out}: {len(want)} box")
    assert np.asarray(Image.open(out)).shape == (256, 256, 3)


def test_detection_draws_the_true_boxes_given_in_the_images_pixels_beside_its_own(tmp_path, scene, capsys):
    img, _, t = scene
    g = chain([1, SIZE, SIZE], ("Conv2d", {"out_channels": 2 * 5 + 3, "kernel_size": 4, "stride": 4}))
    g.extra["training"] = {"task": "detection", "detection": {"grid": 4, "boxes": 2}}
    save(g, tmp_path / "det.json")
    big = tmp_path / "big.png"  # the image at twice the design's size: its boxes' corners are halved
    Image.open(img).resize((2 * SIZE, 2 * SIZE), Image.Resampling.NEAREST).save(big)
    (tmp_path / "truth.txt").write_text("# class x1 y1 x2 y2\n2 4 6 20 30\n\n0, 0, 0, 10, 8\n")
    out, alone = tmp_path / "out.png", tmp_path / "alone.png"
    argv = ["predict", str(tmp_path / "det.json"), "--image", str(big), "--threshold", "0.1"]
    assert main([*argv, "--boxes", str(tmp_path / "truth.txt"), "-o", str(out)]) == 0
    assert "true boxes (2) | predicted" in capsys.readouterr().out
    assert main([*argv, "-o", str(alone)]) == 0
    picture, predicted = np.asarray(Image.open(out)), np.asarray(Image.open(alone))
    side = predicted.shape[1]
    assert picture.shape == (side, 2 * side + 4, 3) and np.array_equal(picture[:, side + 4 :], predicted)
    base = read_image(big, 1, (SIZE, SIZE))[0][..., None].repeat(3, 2)  # what predict reads
    scale = side // SIZE
    want = draw_boxes(
        base.repeat(scale, 0).repeat(scale, 1), [[2, 3, 10, 15], [0, 0, 5, 4]], [2, 0], "012", scale=scale
    )
    assert np.array_equal(picture[:, :side], want)

    (tmp_path / "bad.txt").write_text("2 4 6 20\n")
    assert main([*argv, "--boxes", str(tmp_path / "bad.txt"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.txt" in err[0] and "line 1" in err[0]


def test_the_insight_prediction_view_and_grad_cam_for_a_class_of_a_segmentation_design(scene):
    from designer import insight

    _, _, t = scene
    g = _seg_design()
    g.extra["training"] = {"task": "segmentation"}
    model = compile_graph(g, seed=0)
    x = torch.from_numpy(t.images[0]).float().div(255)
    view = insight.render("prediction", model, x, graph=g)
    pred = model.eval()(x[None])[0].argmax(0).numpy()
    assert view.title.startswith("image | predicted mask") and view.base.shape == (SIZE, 2 * SIZE + 4, 3)
    drawn = np.round(view.base[:, SIZE + 4 :] * 255).astype(np.uint8)
    assert (drawn[pred > 0] != np.round(view.base[:, :SIZE] * 255).astype(np.uint8)[pred > 0]).any(axis=-1).all()
    # Grad-CAM explains one class of the map: the mean of its logits over the pixels, a different map per class.
    cams = [insight.grad_cam(model, x, "n2", target=k, graph=g) for k in (1, 2)]
    assert [c.target for c in cams] == [1, 2] and not np.allclose(cams[0].values, cams[1].values)


def test_bad_input_is_one_line_and_exit_2(tmp_path, scene, capsys):
    img, _, _ = scene
    save(_seg_design(), tmp_path / "seg.json")
    rgb = tmp_path / "rgb.png"
    Image.new("RGB", (SIZE, SIZE)).save(rgb)
    base = ["predict", str(tmp_path / "seg.json"), "--task", "segmentation"]
    cases = [
        ([*base, "--image", str(tmp_path / "missing.png"), "-o", str(tmp_path / "o.png")], "cannot read image"),
        ([*base, "--image", str(img)], "give -o OUT.png"),
        ([*base, "--image", str(img), "--mask", str(rgb), "-o", str(tmp_path / "o.png")], "one class id per pixel"),
        ([*base, "--image", str(img), "--boxes", str(img), "-o", str(tmp_path / "o.png")], "of a detection design"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "o.png").exists()


def test_boxes_are_drawn_in_their_class_colour_where_they_are():
    base = np.zeros((32, 32, 3), dtype=np.uint8)
    drawn = draw_boxes(base, [[4, 4, 20, 12]], [2], ["a", "b", "c"], scale=1.0)
    colour = np.array(class_colour(3))
    assert (drawn[4, 4:21] == colour).all() and (drawn[12, 4:21] == colour).all()  # top and bottom edges
    assert (drawn[4:13, 4] == colour).all() and (drawn[20:, :] == 0).all()  # left edge; nothing below
    assert (draw_boxes(base, np.zeros((0, 4)), [], []) == base).all()


def test_masks_enlarge_with_their_image_and_pictures_line_up():
    mask = np.array([[0, 1], [2, 255]])
    base = np.full((4, 4, 3), 100, dtype=np.uint8)
    drawn = draw_mask(base, mask, classes=3, alpha=1.0)
    assert (drawn[:2, :2] == 100).all() and (drawn[2:, 2:] == 100).all()  # background and ignored pixels
    assert (drawn[:2, 2:] == class_colour(1)).all() and (drawn[2:, :2] == class_colour(2)).all()
    row = side_by_side([base, base[:2]], gap=3)
    assert row.shape == (4, 11, 3) and (row[:, 4:7] == 255).all() and (row[2:, 7:] == 255).all()
