"""The sweep's loop without training: seeded draws, the trial count across runs, timeouts, refusals before any trial.

Trials here are told a value computed from their learning rate instead of training (the training side is in
tests/test_sweep.py); a journal file stands in for the storage, which the loop treats like any other.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import optuna
import pytest

from designer import analyze
from designer.sweep.check import check_space
from designer.sweep.events import SweepEnded, SweepStarted, TrialEnded
from designer.sweep.ranks import Follower, Halt, Plan
from designer.sweep.runner import SpaceError, Sweep, SweepOptions
from designer.sweep.space import apply
from designer.sweep.study import SweepError, make_storage
from designer.sweep.trial import TrialRunner
from designer.training import distributed
from tests.helpers import chain


@pytest.fixture
def no_training(monkeypatch):
    """Each trial is told -|log10(lr) + 2|: best at lr = 0.01."""

    def told(self, study, trial, design, config, run_dir, resumed):
        return self._tell(study, trial, "complete", -abs(math.log10(config.lr) + 2), run_dir)

    monkeypatch.setattr(TrialRunner, "_train", told)


def design(search=None):
    conv = ("Conv2d", {"out_channels": 4, "kernel_size": 3})
    g = chain([1, 12, 12], conv, ("Flatten", {}), ("Linear", {"out_features": 10}))
    g.extra["training"] = {"epochs": 1, "seed": 5}
    g.extra["search"] = search or {"lr": {"float": [1e-4, 1.0], "log": True}, "n1.out_channels": {"int": [2, 8]}}
    return g


def sweep(tmp_path, name="s", events=None, **options):
    opts = SweepOptions(
        storage=f"journal:{tmp_path / (name + '.log')}", study=name, out=str(tmp_path / name), **options
    )
    return Sweep(design(), opts, on_event=events.append if events is not None else None)


def values_of(tmp_path, name, **options):
    s = sweep(tmp_path, name, **options)
    s.run()
    study = optuna.load_study(study_name=name, storage=make_storage(s.spec.storage))
    return [t.params for t in study.trials]


def test_the_same_seed_draws_the_same_values_and_another_seed_other_values(tmp_path, no_training):
    a = values_of(tmp_path, "a", trials=3)
    b = values_of(tmp_path, "b", trials=3)
    c = values_of(tmp_path, "c", trials=3, seed=6)
    assert a == b and len(a) == 3
    assert a != c
    assert len({p["lr"] for p in a}) == 3  # trials of one study draw apart


def test_trials_is_what_the_study_holds_so_running_again_continues_it(tmp_path, no_training):
    events: list = []
    first = sweep(tmp_path, events=events, trials=2).run()
    assert first.reason == "done" and first.trials_run == 2
    second = sweep(tmp_path, events=events, trials=5).run()
    assert second.reason == "done" and second.trials_run == 3
    started = [e for e in events if isinstance(e, SweepStarted)]
    assert [s.existing for s in started] == [0, 2]
    assert sorted(e.number for e in events if isinstance(e, TrialEnded)) == [0, 1, 2, 3, 4]
    assert sweep(tmp_path, trials=5).run().trials_run == 0


def test_the_best_trial_is_the_best_told_value(tmp_path, no_training):
    events: list = []
    end = sweep(tmp_path, events=events, trials=6).run()
    ended = [e for e in events if isinstance(e, TrialEnded)]
    best = max(ended, key=lambda e: e.value)
    assert (end.best_number, end.best_value, end.best_run_dir) == (best.number, best.value, best.run_dir)
    assert isinstance(events[-1], SweepEnded)


def test_a_timeout_starts_no_further_trial(tmp_path, no_training):
    end = sweep(tmp_path, trials=5, timeout_s=0.0).run()
    assert (end.reason, end.trials_run) == ("timeout", 0)


def test_trials_record_what_they_cost(tmp_path, no_training):
    events: list = []
    sweep(tmp_path, events=events, trials=2).run()
    for e in (e for e in events if isinstance(e, TrialEnded)):
        values = json.loads((Path(e.run_dir) / "trial.json").read_text())["values"]
        expected = analyze(apply(design(), values)[0])
        assert (e.user_attrs["params"], e.user_attrs["mult_adds"]) == (
            expected.total_params,
            expected.total_mult_adds,
        )


def test_a_broken_corner_refuses_the_sweep_before_the_storage_is_opened(tmp_path, no_training):
    g = design({"n1.kernel_size": {"int": [3, 13]}})
    s = Sweep(g, SweepOptions(out=str(tmp_path / "x")))
    with pytest.raises(SpaceError) as info:
        s.run()
    assert [(d.code, d.node_id) for d in info.value.diagnostics] == [("search.corner_invalid", "n1")]
    assert info.value.diagnostics == check_space(g)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("options", "code"),
    [
        (dict(objective="accuracy"), "sweep.objective"),
        (dict(direction="up"), "sweep.direction"),
        (dict(pruner="hyperband"), "sweep.pruner"),
        (dict(trials=0), "sweep.trials"),
    ],
)
def test_bad_options_are_refused_with_a_code(options, code):
    with pytest.raises(SweepError) as info:
        Sweep(design(), SweepOptions(**options))
    assert info.value.code == code


def test_joining_a_study_with_the_other_direction_is_refused(tmp_path, no_training):
    sweep(tmp_path, trials=1).run()
    with pytest.raises(SweepError) as info:
        sweep(tmp_path, trials=1, objective="val_loss").run()
    assert info.value.code == "sweep.direction"


def under_torchrun(monkeypatch, rank: int, incoming=()) -> list:
    """Rank ``rank`` of two, its broadcasts recorded (sent by rank 0) or answered from ``incoming`` (the others)."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setattr(distributed, "kept", lambda info, device: contextlib.nullcontext())
    sent, queue = [], list(incoming)
    monkeypatch.setattr(
        distributed, "broadcast", lambda value, info: sent.append(value) or (queue.pop(0) if rank else value)
    )
    return sent


def test_under_torchrun_rank_0_sends_each_trial_once_then_how_the_sweep_ended(tmp_path, monkeypatch, no_training):
    sent = under_torchrun(monkeypatch, 0)
    ended = sweep(tmp_path, trials=2).run()
    assert [type(m).__name__ for m in sent] == ["Plan", "Plan", "Halt"] and sent[-1] == Halt(ended=ended)
    study = optuna.load_study(study_name="s", storage=make_storage(f"journal:{tmp_path / 's.log'}"))
    assert [m.values for m in sent[:2]] == [t.params for t in study.trials]


def test_under_torchrun_a_storage_error_of_rank_0_ends_every_rank_with_it(tmp_path, monkeypatch, no_training):
    sent = under_torchrun(monkeypatch, 0)
    with pytest.raises(SweepError) as info:
        Sweep(design(), SweepOptions(storage="nosuchdb://x", out=str(tmp_path / "s"))).run()
    assert sent == [Halt(error=(info.value.code, info.value.message, info.value.hint))]
    under_torchrun(monkeypatch, 1, incoming=sent)
    with pytest.raises(SweepError) as again:
        sweep(tmp_path, trials=1).run()
    assert again.value.code == info.value.code == "sweep.storage"


def test_the_other_ranks_train_what_rank_0_names_and_return_its_end(tmp_path, monkeypatch):
    trained: list = []
    monkeypatch.setattr(Follower, "_train", lambda self, plan: trained.append(plan))
    plan, end = Plan(0, {"lr": 0.01}, str(tmp_path / "t"), False), SweepEnded("done", 1, 0, 0.5, None)
    under_torchrun(monkeypatch, 1, incoming=[plan, None, Halt(ended=end)])
    assert sweep(tmp_path, trials=1).run() == end and trained == [plan]
    assert not (tmp_path / "s.log").exists()  # only rank 0 opens the storage
