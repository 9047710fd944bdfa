"""``python -m designer insight``: a valid PNG for every method, from a project, a checkpoint or a run folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import designer
from designer import insight
from designer.cli import main
from designer.cli.insight import open_model, read_image
from designer.export.checkpoint import save_checkpoint
from designer.model import fileformat

from .conftest import ROOT
from .helpers import graph

NODES = {
    "featuremaps": "add",
    "filters": None,
    "gradcam": "c2",
    "saliency": None,
    "guided": None,
    "deconvnet": None,
    "occlusion": None,
    "maximize": "c2",
    "prediction": None,
}


def design(classes: int = 3):
    return graph(
        ("x", "Input", {"shape": [3, 16, 16]}, []),
        ("c1", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, ["x"]),
        ("r1", "ReLU", {}, ["c1"]),
        ("c2", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, ["r1"]),
        ("add", "Add", {}, ["c2", "r1"]),
        ("pool", "AdaptiveAvgPool2d", {"output_size": 2}, ["add"]),
        ("flat", "Flatten", {}, ["pool"]),
        ("fc", "Linear", {"out_features": classes}, ["flat"]),
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "net.json"
    fileformat.save(design(), path)
    return path


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "in.png"
    rgb = np.zeros((20, 24, 3), dtype=np.uint8)
    rgb[4:14, 6:12] = (250, 40, 10)
    Image.fromarray(rgb).save(path)
    return path


def _run(*args: object) -> int:
    return main(["insight", *map(str, args)])


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        return np.asarray(im)


@pytest.mark.parametrize("method", list(NODES))
def test_each_method_writes_a_valid_png(method, project, image, tmp_path, capsys):
    out = tmp_path / f"{method}.png"
    node = ["--node", NODES[method]] if NODES[method] else []
    code = _run(project, "--image", image, "--method", method, *node, "--class", 1, "--steps", 5, "-o", out)
    assert code == 0, capsys.readouterr().err
    pixels = _png(out)
    assert max(pixels.shape[:2]) >= 256 and pixels.std() > 0


def trained_checkpoint(path: Path) -> tuple[torch.nn.Module, dict]:
    """A few SGD steps on random data, so the weights differ from any fresh initialisation; saved with the design."""
    g = design()
    model = designer.compile(g, seed=5)
    gen = torch.Generator().manual_seed(0)
    params = list(model.parameters())
    for _ in range(3):  # plain SGD by hand: torch.optim's first import costs seconds (it loads torch._dynamo)
        x, y = torch.randn(8, 3, 16, 16, generator=gen), torch.randint(0, 3, (8,), generator=gen)
        grads = torch.autograd.grad(torch.nn.functional.cross_entropy(model(x), y), params)
        with torch.no_grad():
            for p, g_ in zip(params, grads):
                p -= 0.1 * g_
    meta = {"mean": [0.2, 0.3, 0.4], "std": [0.5, 0.5, 0.25], "classes": ["a", "b", "c"]}
    save_checkpoint(path, g, model, extra=meta)
    return model, meta


def test_checkpoint_weights_and_normalisation_are_used(tmp_path, image):
    model, meta = trained_checkpoint(tmp_path / "model.pt")
    out = tmp_path / "cam.png"
    assert _run(tmp_path / "model.pt", "--image", image, "--method", "gradcam", "--scale", 2, "-o", out) == 0
    loaded = open_model(str(tmp_path / "model.pt"))
    assert loaded.classes == ["a", "b", "c"] and loaded.std == meta["std"]
    x = read_image(str(image), loaded)
    raw = np.asarray(Image.open(image).convert("RGB").resize((16, 16), Image.BILINEAR)).transpose(2, 0, 1) / 255
    np.testing.assert_allclose(
        x.numpy(),
        (raw - np.reshape(meta["mean"], (3, 1, 1))) / np.reshape(meta["std"], (3, 1, 1)),
        rtol=1e-5,
        atol=1e-5,
    )
    expected = insight.compose(insight.render("gradcam", model, x, graph=design()), 2)
    np.testing.assert_array_equal(_png(out), expected)


def test_run_folder_uses_its_best_checkpoint(tmp_path, image):
    run = tmp_path / "run"
    run.mkdir()
    trained_checkpoint(run / "best.pt")
    save_checkpoint(run / "last.pt", design(), designer.compile(design(), seed=9), extra={"mean": [0.0] * 3})
    out = tmp_path / "occ.png"
    assert _run(run, "--image", image, "--method", "occlusion", "--patch", 4, "--stride", 4, "-o", out) == 0
    assert _png(out).shape == (256, 256, 3)
    assert open_model(str(run)).classes == ["a", "b", "c"]  # best.pt, not last.pt
    (run / "best.pt").unlink()
    assert open_model(str(run)).mean == [0.0] * 3


@pytest.mark.slow
def test_a_run_folder_written_by_the_training_engine(tmp_path, image):
    from designer.training.config import TrainConfig
    from designer.training.engine import Trainer

    trainer = Trainer(
        design(10),
        TrainConfig(data="shapes", samples=64, epochs=1, batch_size=32, workers=0, device="cpu"),
        runs_root=tmp_path / "runs",
    )
    assert type(trainer.run()).__name__ == "Finished"
    out = tmp_path / "run.png"
    assert _run(trainer.run_dir, "--image", image, "--method", "gradcam", "-o", out) == 0
    loaded = open_model(str(trainer.run_dir))
    assert loaded.classes[:2] == ["circle", "square"] and loaded.mean == pytest.approx(list(trainer.bundle.mean))
    x = read_image(str(image), loaded)
    expected = insight.compose(
        insight.render("gradcam", trainer.model, x, graph=design(10), classes=loaded.classes), 16
    )
    np.testing.assert_array_equal(_png(out), expected)


def test_a_wrong_node_exits_1_naming_it(project, image, tmp_path, capsys):
    assert _run(project, "--image", image, "--method", "gradcam", "--node", "fc", "-o", tmp_path / "o.png") == 1
    err = capsys.readouterr().err
    assert "node 'fc'" in err and "not a spatial feature map" in err
    assert not (tmp_path / "o.png").exists()
    assert _run(project, "--method", "filters", "--node", "pool", "-o", tmp_path / "o.png") == 1
    assert _run(project, "--method", "filters", "--node", "ghost", "-o", tmp_path / "o.png") == 1


def test_unreadable_inputs_exit_2(project, image, tmp_path, capsys):
    bad_image = tmp_path / "bad.png"
    bad_image.write_bytes(b"not an image")
    out = tmp_path / "o.png"
    assert _run(project, "--image", bad_image, "--method", "gradcam", "-o", out) == 2
    assert str(bad_image) in capsys.readouterr().err
    assert _run(project, "--method", "gradcam", "-o", out) == 2  # no --image
    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"PK\x03\x04garbage")
    assert _run(fake, "--method", "filters", "--node", "c1", "-o", out) == 2
    weights_only = tmp_path / "weights.pt"
    torch.save(designer.compile(design(), seed=0).state_dict(), weights_only)
    assert _run(weights_only, "--method", "filters", "-o", out) == 2
    assert "weights only" in capsys.readouterr().err
    assert _run(tmp_path / "empty_run_dir_missing", "--method", "filters", "--node", "c1", "-o", out) == 2
    (tmp_path / "emptyrun").mkdir()
    assert _run(tmp_path / "emptyrun", "--method", "filters", "--node", "c1", "-o", out) == 2
    assert not out.exists()


def test_an_invalid_design_exits_1(tmp_path, capsys):
    bad = graph(("x", "Input", {"shape": [3, 8, 8]}, []), ("c", "Conv2d", {"out_channels": 2, "kernel_size": 9}, ["x"]))
    path = tmp_path / "bad.json"
    fileformat.save(bad, path)
    assert _run(path, "--method", "filters", "--node", "c", "-o", tmp_path / "o.png") == 1
    assert "node c" in capsys.readouterr().err
    mismatched = tmp_path / "mismatched.pt"
    save_checkpoint(mismatched, design(), designer.compile(design(classes=5), seed=0))
    assert _run(mismatched, "--method", "filters", "-o", tmp_path / "o.png") == 1
    assert "node fc" in capsys.readouterr().err


@pytest.mark.slow
def test_the_module_entry_point_writes_a_png(project, tmp_path):
    out = tmp_path / "f.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "designer",
            "insight",
            str(project),
            "--method",
            "filters",
            "--node",
            "c1",
            "-o",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert _png(out).shape[0] >= 256
