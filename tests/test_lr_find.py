"""The learning-rate range test, warm-up and gradient clipping: the proposal on known curves, the CLI's files, and
the engine's warm-up and clipping against a hand-written torch loop."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from designer.cli import main
from designer.compiler import compile_graph
from designer.export.checkpoint import read_checkpoint
from designer.model.fileformat import save
from designer.training.config import ConfigError, TrainConfig
from designer.training.data import load_data
from designer.training.lr_find import find_lr, lr_schedule, propose, smooth
from designer.training.stepping import backward_and_step, warmup_factor, warmup_steps
from tests.test_train import BASE, assert_same_weights, run, tiny


def test_the_schedule_rises_geometrically_and_the_smoothing_is_unbiased():
    rates = lr_schedule(1e-4, 1.0, 5)
    assert rates == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])  # no pull towards 0 at the start
    with pytest.raises(ValueError):
        lr_schedule(1.0, 1e-3, 10)


def test_the_proposal_is_the_steepest_descent_before_the_minimum():
    rates = lr_schedule(1e-6, 10.0, 141)  # 20 points per decade
    # falls fastest at lr = 1e-3 (tanh's steepest point), lowest at 1e-1, rises after it
    loss = [2 - math.tanh(math.log10(r) + 3) + max(0.0, math.log10(r) + 1) ** 2 * 4 for r in rates]
    p = propose(rates, loss)
    assert p.steepest == pytest.approx(1e-3, rel=0.13) and p.minimum == pytest.approx(0.1, rel=0.13)
    assert p.lr == p.steepest  # more than ten times below the minimum already
    flat = propose(rates[:3], [1.0, 2.0, 3.0])
    assert flat.steepest is None and flat.minimum == rates[0] and flat.lr == rates[0] / 10
    assert propose(rates[:2], [math.nan, math.nan]).lr is None


def test_the_range_test_stops_when_the_loss_diverges():
    cfg = TrainConfig(**{**BASE, "samples": 60, "val_split": 0.0})
    seen = []
    result = find_lr(tiny(), cfg, start=1e-4, end=1e6, steps=40, on_step=lambda *a: seen.append(a))
    assert result.ended in ("diverged", "nonfinite") and len(result.lrs) < 40
    assert [s[0] for s in seen] == list(range(len(result.lrs))) and seen[-1][1] == result.lrs[-1]
    assert result.proposal.lr is not None and result.lrs[0] <= result.proposal.lr < result.lrs[-1]
    assert result.to_csv().splitlines()[0] == "step,lr,loss,smoothed_loss"
    assert len(result.to_csv().splitlines()) == len(result.lrs) + 1


def test_cli_writes_the_curve_and_prints_the_proposal(tmp_path, capsys):
    path = tmp_path / "tiny.json"
    save(tiny(), path)
    flags = ["--samples", "48", "--batch-size", "16", "--device", "cpu", "--workers", "0"]
    code = main(["lr-find", str(path), "--steps", "6", "--start", "1e-3", "--end", "1e-1", *flags, "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "proposed lr" in out and "┤" in out
    rows = (tmp_path / "lr_find.csv").read_text().splitlines()
    assert len(rows) == 7 and float(rows[1].split(",")[1]) == pytest.approx(1e-3)
    assert main(["lr-find", str(path), "--start", "1", "--end", "0.1", *flags]) == 1
    assert "start < end" in capsys.readouterr().err


def test_warmup_steps_and_factors():
    assert warmup_steps(0.0, 10) == 0 and warmup_steps(0.25, 10) == 2 and warmup_steps(0.01, 10) == 1
    assert [warmup_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    with pytest.raises(ConfigError):
        TrainConfig(clip_grad_norm=-1).check()


def _reference(cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """SGD with a linear warm-up over the first steps and torch's clip_grad_norm_, written out by hand."""
    b = load_data(cfg.data, (1, 12, 12), val_split=cfg.val_split, samples=cfg.samples, seed=cfg.seed)
    mean, std = torch.tensor(b.mean).view(1, -1, 1, 1), torch.tensor(b.std).view(1, -1, 1, 1)
    x, y = b.train.images.float() * (1 / (255 * std)) + (-mean / std), b.train.labels
    model = compile_graph(tiny(), seed=cfg.seed)
    opt = torch.optim.SGD(model.parameters(), cfg.lr, momentum=cfg.momentum)
    steps = len(y) // cfg.batch_size
    warm, step = round(cfg.warmup_epochs * steps), 0
    for epoch in range(cfg.epochs):
        perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(cfg.seed + epoch))
        for k in range(steps):
            idx = perm[k * cfg.batch_size : (k + 1) * cfg.batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
            opt.param_groups[0]["lr"] = cfg.lr * min(1.0, (step + 1) / warm)
            opt.step()
            step += 1
    return model.state_dict()


def test_warmup_and_clipping_match_a_hand_written_loop(tmp_path):
    changes = dict(optimizer="sgd", momentum=0.9, lr=0.5, warmup_epochs=1.6, clip_grad_norm=0.5)
    trainer, result, _ = run(tiny(), tmp_path, **changes)
    assert result.status == "completed", result
    assert_same_weights(trainer.model_state_dict(), _reference(TrainConfig(**{**BASE, **changes})))


def test_cli_flags_train_with_warmup_and_clipping(tmp_path, capsys):
    """``train --warmup-epochs --clip-grad-norm`` reach the run: its weights are the hand-written loop's."""
    changes = dict(optimizer="sgd", momentum=0.9, lr=0.5, warmup_epochs=1.6, clip_grad_norm=0.5)
    path, out = tmp_path / "tiny.json", tmp_path / "run"
    save(tiny(), path)
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in {**BASE, **changes}.items()]
    assert main(["train", str(path), *flags, "--out", str(out), "--quiet"]) == 0
    assert_same_weights(read_checkpoint(out / "last.pt").state_dict, _reference(TrainConfig(**{**BASE, **changes})))
    assert main(["train", str(path), "--clip-grad-norm", "-1", "--quiet"]) == 1
    assert "'clip_grad_norm'" in capsys.readouterr().err


def test_clipping_unscales_fp16_gradients_first():
    """With a gradient scaler the gradients are unscaled before they are clipped (else the norm is the scale's)."""
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    loss = model(torch.ones(3, 4)).sum() * 100
    backward_and_step(opt, scaler, loss, max_norm=1.0)
    norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters()))
    assert norm == pytest.approx(1.0, rel=1e-4)


def test_cli_refuses_a_design_with_errors_naming_the_node(tmp_path, capsys):
    path = tmp_path / "bad.json"
    bad = tiny()
    bad.set_param("n1", "kernel_size", 30)
    save(bad, path)
    assert main(["lr-find", str(path), "--steps", "3"]) == 1
    assert capsys.readouterr().err.startswith(f"{path}: node n1: error: ")
