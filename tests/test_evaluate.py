"""``python -m designer evaluate RUN -o DIR``: the files it writes, their numbers against the model run by hand."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from designer.cli import main
from designer.export.checkpoint import load_model, read_checkpoint
from designer.model.fileformat import save
from designer.training.api import Finished, TrainConfig, Trainer
from designer.training.data import load_data
from tests.test_train import tiny

CFG = dict(samples=200, val_split=0.3, batch_size=16, epochs=1, lr=0.01, seed=3, device="cpu", workers=0)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate") / "run"
    assert isinstance(Trainer(tiny(), TrainConfig(**CFG), run_dir=folder).run(), Finished)
    return folder


def _by_hand(run_dir):
    """Predictions of the checkpoint's model on the run's validation split, normalised as the run stored it."""
    extra = read_checkpoint(run_dir / "best.pt").extra
    data = load_data("shapes", (1, 12, 12), val_split=CFG["val_split"], samples=CFG["samples"], seed=CFG["seed"])
    x = torch.stack([torch.as_tensor(data.val[i][0]) for i in range(len(data.val))]).float() / 255
    y = np.array([int(data.val[i][1]) for i in range(len(data.val))])
    mean, std = torch.tensor(extra["mean"]).view(1, -1, 1, 1), torch.tensor(extra["std"]).view(1, -1, 1, 1)
    with torch.no_grad():
        logits = load_model(run_dir / "best.pt").eval()((x - mean) / std)
    return y, logits.argmax(1).numpy(), logits.softmax(1).max(1).values.numpy(), extra["classes"]


def _png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.mark.slow  # trains a one-epoch run first
def test_evaluate_writes_the_docks_views_with_the_models_own_numbers(run_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", str(run_dir), "-o", str(out), "--top", "5"]) == 0
    assert "accuracy" in capsys.readouterr().out
    y, pred, conf, classes = _by_hand(run_dir)
    k = len(classes)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (y, pred), 1)
    rows = [line.split(",") for line in (out / "confusion.csv").read_text().splitlines()]
    assert rows[0][1:] == classes and np.array_equal(np.array([r[1:] for r in rows[1:]], dtype=int), confusion)
    per_class = [line.split(",") for line in (out / "per_class.csv").read_text().splitlines()[1:]]
    for c, row in enumerate(per_class):
        hits, predicted, actual = confusion[c, c], (pred == c).sum(), (y == c).sum()
        assert row[:3] == [classes[c], str(actual), str(predicted)]
        assert row[3] == (f"{hits / predicted:.4f}" if predicted else "") and row[4] == f"{hits / actual:.4f}"
    mistakes = [line.split(",") for line in (out / "mistakes.csv").read_text().splitlines()[1:]]
    wrong = np.flatnonzero(pred != y)
    top = wrong[np.argsort(-conf[wrong], kind="stable")][:5]
    assert [float(m[4]) for m in mistakes] == pytest.approx(conf[top].tolist(), abs=1e-4)
    assert all(m[2] != m[3] for m in mistakes)
    assert len((out / "embedding.csv").read_text().splitlines()) == len(y) + 1
    assert _png_size(out / "confusion.png") == (24 * k, 24 * k)
    assert _png_size(out / "per_class.png")[0] == k * 36 + 12
    assert _png_size(out / "embedding.png") == (480, 480)
    assert _png_size(out / "mistakes.png")[0] > 0


def test_evaluate_names_what_it_cannot_read(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no checkpoint" in err


def test_evaluate_refuses_a_design_with_errors_naming_the_node(tmp_path, capsys):
    path = tmp_path / "bad.json"
    bad = tiny()
    bad.set_param("n1", "kernel_size", 30)
    save(bad, path)
    assert main(["evaluate", str(path), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: node n1: error: ") and err.count("\n") == 1
