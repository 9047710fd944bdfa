"""The insight dock, driven with pytest-qt: pick a node and a method, a picture appears; live refresh in training."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

import designer
from designer import insight
from designer.insight import images
from designer.training.events import EpochEnded, RunStarted, StepEnded
from widgets.panels.insight_dock import InsightDock

from .helpers import graph

WAIT_MS = 20_000


def design():
    return graph(
        ("x", "Input", {"shape": [1, 12, 12]}, []),
        ("conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, ["x"]),
        ("relu", "ReLU", {}, ["conv"]),
        ("add", "Add", {}, ["relu", "conv"]),
        ("pool", "AdaptiveAvgPool2d", {"output_size": 2}, ["add"]),
        ("flat", "Flatten", {}, ["pool"]),
        ("fc", "Linear", {"out_features": 3}, ["flat"]),
    )


@pytest.fixture
def setup(qtbot):
    g = design()
    module = designer.compile(g, seed=0)
    gen = torch.Generator().manual_seed(0)
    images_u8 = torch.randint(0, 256, (9, 1, 12, 12), dtype=torch.uint8, generator=gen)
    val = [(images_u8[i], i % 3) for i in range(9)]
    bundle = SimpleNamespace(val=val, train=val, classes=["a", "b", "c"], mean=(0.5,), std=(0.25,))
    dock = InsightDock(lambda: (module, g), lambda: bundle)
    qtbot.addWidget(dock)
    dock.resize(600, 500)
    dock.show()
    qtbot.waitUntil(lambda: dock.idle, timeout=WAIT_MS)
    return dock, module, g, bundle


def _pick(qtbot, dock, method, node=None):
    """Choose like a user would, then wait for the picture of the final choice; returns the status line."""
    if node is not None:
        dock.set_node(node)
    dock.method_combo.setCurrentIndex(dock.method_combo.findData(method))
    dock.refresh()
    qtbot.waitUntil(lambda: dock.idle, timeout=WAIT_MS)
    return dock.status.text()


def test_node_list_follows_the_design(setup):
    dock = setup[0]
    ids = [dock.node_combo.itemData(i) for i in range(dock.node_combo.count())]
    assert ids == [None, "x", "conv", "relu", "add", "pool", "flat", "fc"]
    assert dock.sample_info.text() == "class 0 (a)"


def test_feature_maps_of_a_picked_node_appear(qtbot, setup):
    dock, module, g, bundle = setup
    title = _pick(qtbot, dock, "featuremaps", "add")
    assert "add" in title
    expected = images.feature_grid(
        insight.feature_maps(module, insight.normalize(bundle.val[0][0], [0.5], [0.25]), "add", graph=g)
    )
    np.testing.assert_allclose(dock.picture.values_item.image, expected, rtol=1e-5, atol=1e-6)
    assert dock.picture.colorbar.isVisible()


def test_grad_cam_draws_image_and_heat_with_a_colour_bar(qtbot, setup):
    dock = setup[0]
    title = _pick(qtbot, dock, "gradcam", "conv")
    assert "Grad-CAM at conv" in title
    assert dock.picture.base_item.image.shape == (12, 12, 3) and dock.picture.values_item.image.shape == (12, 12)
    assert dock.picture.colorbar.levels() == (0.0, 1.0)


def test_a_wrong_node_shows_the_reason(qtbot, setup):
    dock = setup[0]
    _pick(qtbot, dock, "featuremaps", "conv")
    assert dock.picture.values_item.image is not None
    text = _pick(qtbot, dock, "filters", "fc")
    assert "node 'fc'" in text and "not a Conv2d" in text
    assert dock.picture.values_item.image is None and isinstance(dock.result, insight.InsightError)


def test_work_runs_off_the_ui_thread(qtbot, setup, monkeypatch):
    dock = setup[0]
    threads = []
    real = insight.render

    def spy(*args, **kwargs):
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(insight, "render", spy)
    _pick(qtbot, dock, "saliency", "fc")
    assert threads and threading.get_ident() not in threads


def test_a_dropped_image_file_becomes_the_sample(qtbot, setup, tmp_path):
    dock = setup[0]
    path = tmp_path / "drop.png"
    pixels = np.zeros((24, 24), dtype=np.uint8)
    pixels[:, 12:] = 255
    images.write_png(path, pixels)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    with qtbot.waitSignal(dock.view_shown, timeout=WAIT_MS):
        dock.dropEvent(event)
    assert dock.sample_label == "drop.png"
    np.testing.assert_allclose(dock.sample[0, :, 0].numpy(), -2.0)  # black through mean 0.5, std 0.25
    np.testing.assert_allclose(dock.sample[0, :, -1].numpy(), 2.0)


def test_confusion_matrix_and_mistakes_and_embedding(qtbot, setup):
    dock = setup[0]
    title = _pick(qtbot, dock, "confusion")
    assert "accuracy" in title and dock.picture.values_item.image.shape == (3, 3)
    title = _pick(qtbot, dock, "mistakes")
    assert "mistakes" in title or "no misclassified" in title
    title = _pick(qtbot, dock, "embedding")
    assert "'flat'" in title and dock.picture.currentIndex() == 1


def test_live_refresh_is_throttled_and_epochs_refresh_dataset_views(qtbot, setup):
    dock, module, _, _ = setup
    _pick(qtbot, dock, "gradcam", "conv")
    dock.on_training_event(RunStarted("run", "cpu", "fp32", 100, 0, 10, 10, ("a", "b", "c"), 9, 9))
    done = []

    def train():
        for step in range(1, 41):
            with torch.no_grad():
                module.conv.weight.mul_(1.01)  # the training thread keeps changing the weights
            dock.on_training_event(StepEnded(0, step, 40, 1.0, 0.5, 0.1, 100.0, 1.0, 1.0))
        done.append(True)

    worker = threading.Thread(target=train)
    with qtbot.waitSignal(dock.view_shown, timeout=WAIT_MS):
        worker.start()
    worker.join()
    qtbot.waitUntil(lambda: dock.idle, timeout=WAIT_MS)
    assert done and 1 <= dock.throttle.refreshes < 40
    dock.set_method("confusion")
    qtbot.waitUntil(lambda: dock.idle, timeout=WAIT_MS)
    before = dock.throttle.refreshes
    with qtbot.waitSignal(dock.view_shown, timeout=WAIT_MS):
        dock.on_training_event(EpochEnded(1, 3, 40, 1.0, 0.5, 1.0, 0.5, 0.1, 100.0, 1.0, 1.0))
    qtbot.waitUntil(lambda: dock.idle, timeout=WAIT_MS)
    assert dock.throttle.refreshes == before + 1 and "confusion" in dock.status.text()


def test_a_segmentation_sample_shows_its_prediction_beside_its_mask_and_the_confusion_counts_pixels(qtbot):
    from designer.insight.overlays import draw_mask, side_by_side
    from designer.training.task_data import load_task_data

    g = graph(
        ("x", "Input", {"shape": [1, 16, 16]}, []),
        ("conv", "Conv2d", {"out_channels": 3, "kernel_size": 3, "padding": 1}, ["x"]),
    )
    g.extra["training"] = {"task": "segmentation", "data": "shapes:2"}
    module = designer.compile(g, seed=0)
    bundle = load_task_data("segmentation", "shapes:2", (1, 16, 16), samples=20)
    dock = InsightDock(lambda: (module, g), lambda: bundle)
    qtbot.addWidget(dock)
    dock.show()
    qtbot.waitUntil(lambda: dock.idle, timeout=WAIT_MS)
    assert dock.sample_info.text() == "sample 0: mask"  # a mask, not a class, came with the sample

    image, mask = bundle.val[0]
    x = insight.normalize(image, bundle.mean, bundle.std)
    base = images.to_uint8(images.display(x))
    pred = module.eval()(x[None])[0].argmax(0).numpy()
    expected = side_by_side([base, draw_mask(base, mask.numpy(), 3), draw_mask(base, pred, 3)])
    title = _pick(qtbot, dock, "prediction")
    np.testing.assert_array_equal(dock.picture.base_item.image, expected)
    assert title.startswith("image | true mask | predicted mask (pixel accuracy")

    title = _pick(qtbot, dock, "confusion")
    pixels = sum(int((m != 255).sum()) for _, m in bundle.val)
    assert f"confusion over {pixels} pixels" in title and "IoU per class: background" in title
    assert dock.picture.values_item.image.shape == (3, 3)
    assert "for classification" in _pick(qtbot, dock, "mistakes")  # one line saying why, not a traceback
