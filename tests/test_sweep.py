"""Sweeps with Optuna: trials as ordinary run folders, pruning fed by epochs, workers sharing a study, resuming.

The toy problem is a folder of red and green images: a run learns it in one epoch when the learning rate is high
enough and not at all when it is tiny, so the validation loss falls as the learning rate grows, which is what a
sweep over the learning rate must find. (The shapes dataset needs far more steps than a test can give.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from designer import dumps, load
from designer.cli import main
from designer.compiler import compile_graph
from designer.sweep.events import TrialEnded, TrialProgress, TrialStarted
from designer.sweep.runner import Sweep, SweepOptions
from designer.sweep.study import StudySpec, default_storage, open_study
from designer.training import runs
from designer.training.events import EpochEnded
from tests.helpers import FakeWriter, chain
from tests.test_data import write_folder

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def colours(tmp_path_factory) -> Path:
    return write_folder(tmp_path_factory.mktemp("colours") / "data", per_class=16, size=12)


def toy(colours: Path, search: dict, **training) -> object:
    g = chain(
        [3, 12, 12],
        ("Conv2d", {"out_channels": 4, "kernel_size": 3}),
        ("ReLU", {}),
        ("AdaptiveAvgPool2d", {"output_size": 1}),
        ("Flatten", {}),
        ("Linear", {"out_features": 2}),
        name="toy",
    )
    base = dict(data=f"folder:{colours}", val_split=0.25, batch_size=8, epochs=1, device="cpu", workers=0, seed=0)
    g.extra["training"] = {**base, **training}
    g.extra["search"] = search
    return g


def save(graph, tmp_path: Path) -> Path:
    path = tmp_path / "toy.json"
    path.write_text(dumps(graph))
    return path


def trials_of(folder: Path, study: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study, storage=default_storage(folder)).trials


@pytest.mark.slow
def test_a_sweep_finds_the_learning_rate_the_toy_problem_wants_and_each_trial_is_a_run(
    colours, tmp_path, monkeypatch, capsys
):
    FakeWriter.made = []
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=FakeWriter))
    path = save(toy(colours, {"lr": {"float": [1e-7, 0.1], "log": True}}), tmp_path)
    assert main(["sweep", str(path), "--trials", "3", "--objective", "val_loss", "--pruner", "none"]) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "runs" / "toy" / "sweep-toy"
    trials = trials_of(folder, "toy")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    # The validation loss falls as the learning rate grows, and the best trial is the one with the largest.
    by_value = sorted(trials, key=lambda t: t.value)
    assert [t.params["lr"] for t in by_value] == sorted((t.params["lr"] for t in trials), reverse=True)
    best = by_value[0]
    assert f"best trial {best.number}" in out and best.params["lr"] > 1e-2 > min(t.params["lr"] for t in trials)
    for t in trials:
        run_dir = Path(t.user_attrs["run_dir"])
        assert run_dir == folder / f"trial-{t.number:04d}"
        design = load(run_dir / runs.PROJECT)
        assert design.extra["training"]["lr"] == t.params["lr"] and "search" not in design.extra
        (last,) = [r for r in runs.read_metrics(run_dir) if r["kind"] == "epoch"]
        assert float(last["val_loss"]) == pytest.approx(t.value, rel=1e-5)  # the engine's own record
        model = compile_graph(design)
        assert t.user_attrs["params"] == sum(p.numel() for p in model.parameters())
        assert (run_dir / runs.BEST).exists() and runs.list_runs(folder)  # a run like any other
    assert main(["runs", str(folder), "--best", "--sort", "val_loss"]) == 0
    assert capsys.readouterr().out.strip() == str(folder / f"trial-{best.number:04d}" / runs.PROJECT)
    # TensorBoard scalars, one writer per trial in its run folder, the epoch's numbers as metrics.csv has them.
    assert sorted(Path(w.log_dir).parent.name for w in FakeWriter.made) == [f"trial-{k:04d}" for k in range(3)]
    for w, t in zip(sorted(FakeWriter.made, key=lambda w: w.log_dir), trials):
        (val_loss,) = [v for tag, v, _ in w.scalars if tag == "val/loss"]
        assert val_loss == pytest.approx(t.value) and w.closed


def spec_for(folder: Path, name: str, **kw) -> StudySpec:
    return StudySpec(name, default_storage(folder), **kw)


@pytest.mark.slow
def test_the_median_pruner_stops_a_trial_that_learns_nothing_and_a_diverging_trial_is_pruned(colours, tmp_path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    study = open_study(spec_for(folder, "p", objective="val_loss"))
    for lr in (0.1, 0.1, 1e-7, 1e4):
        study.enqueue_trial({"lr": lr})
    ended: list[TrialEnded] = []
    g = toy(colours, {"lr": {"float": [1e-7, 1e4], "log": True}}, epochs=2, optimizer="sgd")
    Sweep(g, SweepOptions(trials=4, study="p", objective="val_loss", out=str(folder)), on_event=_collect(ended)).run()
    assert [e.state for e in ended] == ["complete", "complete", "pruned", "pruned"]
    stuck = runs.read_json(Path(ended[2].run_dir) / runs.STATUS)
    assert stuck["status"] == "stopped" and stuck["epoch"] == 1  # stopped after one of its two epochs
    assert "loss" in ended[3].message and runs.read_json(Path(ended[3].run_dir) / runs.STATUS)["status"] == "failed"
    assert [t.state for t in trials_of(folder, "p")][2:] == [TrialState.PRUNED, TrialState.PRUNED]


def _collect(into: list):
    return lambda e: into.append(e) if isinstance(e, TrialEnded) else None


@pytest.mark.slow
def test_a_stopped_sweep_resumes_its_trial_from_the_checkpoint(colours, tmp_path):
    g = toy(colours, {"lr": {"float": [0.01, 0.1]}}, epochs=2)
    opts = SweepOptions(trials=1, out=str(tmp_path / "s"))
    events: list = []
    sweep = Sweep(g, opts, on_event=events.append)

    def stop_after_first_epoch(e):
        events.append(e)
        if isinstance(e, TrialProgress) and isinstance(e.event, EpochEnded):
            sweep.stop()

    sweep.on_event = stop_after_first_epoch
    assert sweep.run().reason == "stopped"
    (started,) = [e for e in events if isinstance(e, TrialStarted)]
    (first,) = [e for e in events if isinstance(e, TrialEnded)]
    assert first.state == "stopped" and (Path(first.run_dir) / runs.LAST).exists()
    events.clear()
    result = Sweep(g, opts, on_event=events.append).run()
    (again,) = [e for e in events if isinstance(e, TrialStarted)]
    assert again.resumed and again.run_dir == first.run_dir and again.values == started.values
    epochs = [e.event.epoch for e in events if isinstance(e, TrialProgress) and isinstance(e.event, EpochEnded)]
    assert epochs == [2]  # the first epoch is not trained again
    assert result.reason == "done" and result.best_run_dir == first.run_dir
    rows = [r["epoch"] for r in runs.read_metrics(first.run_dir) if r["kind"] == "epoch"]
    assert rows == ["1", "2"]
    states = [t.state for t in trials_of(tmp_path / "s", "toy")]
    assert states == [TrialState.FAIL, TrialState.COMPLETE]


@pytest.mark.slow
def test_two_workers_sharing_one_sqlite_file_run_disjoint_trials_of_one_study(colours, tmp_path):
    path = save(toy(colours, {"lr": {"float": [1e-4, 0.1], "log": True}}), tmp_path)
    db = tmp_path / "shared.db"
    cmd = [sys.executable, "-m", "designer", "sweep", str(path), "--trials", "40", "--timeout", "1", "--quiet"]
    cmd += ["--storage", f"sqlite:///{db}", "--study", "shared", "--out", str(tmp_path / "trials")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [w.communicate(timeout=240)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outs
    trials = optuna.load_study(study_name="shared", storage=f"sqlite:///{db}").trials
    pids = {w.pid for w in workers}
    ran_by = {t.number: t.user_attrs["pid"] for t in trials}
    assert set(ran_by.values()) == pids  # both workers ran trials ...
    folders = sorted(p.name for p in (tmp_path / "trials").glob("trial-*"))
    assert folders == [f"trial-{n:04d}" for n in sorted(ran_by)]  # ... each in its own folder, none twice
    for n, pid in ran_by.items():
        assert runs.read_json(tmp_path / "trials" / f"trial-{n:04d}" / "trial.json")["pid"] == pid
    assert all(t.state == TrialState.COMPLETE for t in trials)
