"""What a sweep saves per trial must not change what a trial computes: shared data, the start record off the path."""

from __future__ import annotations

import threading

import pytest

from designer.sweep.events import TrialEnded, TrialStarted
from designer.sweep.runner import Sweep, SweepOptions
from designer.sweep.space import apply
from designer.sweep.trial import Pending
from designer.training import engine, runs
from designer.training.api import Finished, train
from tests.helpers import chain


def design():
    g = chain(
        [1, 16, 16],
        ("Conv2d", {"out_channels": 4, "kernel_size": 3}),
        ("ReLU", {}),
        ("AdaptiveAvgPool2d", {"output_size": 1}),
        ("Flatten", {}),
        ("Linear", {"out_features": 4}),
    )
    g.extra["training"] = {
        "data": "shapes:4",
        "samples": 96,
        "batch_size": 16,
        "epochs": 1,
        "device": "cpu",
        "workers": 0,
        "seed": 3,
    }
    g.extra["search"] = {"lr": {"float": [1e-3, 1e-1], "log": True}}
    return g


def without_timing(run_dir) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k not in runs.TIMING_COLUMNS} for row in runs.read_metrics(run_dir)]


@pytest.mark.slow
def test_trials_draw_the_data_once_and_each_learns_exactly_what_a_plain_run_of_its_values_learns(tmp_path, monkeypatch):
    loads: list[int] = []
    real = engine.load_run_data

    def counted(cfg, shape):
        loads.append(cfg.samples)
        return real(cfg, shape)

    monkeypatch.setattr(engine, "load_run_data", counted)
    graph, events = design(), []
    options = SweepOptions(trials=2, pruner="none", storage=f"journal:{tmp_path / 's.log'}", out=str(tmp_path / "s"))
    assert Sweep(graph, options, on_event=events.append).run().best_number is not None
    assert loads == [96]  # the second trial trained on the first one's samples
    started = [e for e in events if isinstance(e, TrialStarted)]
    assert len(started) == 2 and all(e.state == "complete" for e in events if isinstance(e, TrialEnded))
    assert all(runs.read_json(f"{e.run_dir}/trial.json")["pid"] > 0 for e in started)  # the start records landed
    # The second trial, on the first one's samples, trains step for step as a plain run of its values does.
    design_, config = apply(graph, started[1].values)
    plain = train(design_, config, run_dir=tmp_path / "plain")
    assert isinstance(plain, Finished) and loads == [96, 96]
    rows = without_timing(plain.run_dir)
    assert rows and without_timing(started[1].run_dir) == rows


def test_other_data_settings_are_drawn_anew():
    cache, shape = engine.DataCache(), (1, 16, 16)
    base = engine.TrainConfig(data="shapes:4", samples=40, val_split=0.25)
    first = cache.load(base, shape)
    assert cache.load(base.replace(lr=0.5), shape) is first
    again = cache.load(base.replace(samples=48), shape)
    assert again is not first and len(again.train) + again.val_samples == 48
    assert cache.load(base.replace(samples=48), (1, 20, 20)).train.images.shape[-1] == 20


def test_pending_work_raises_in_the_thread_that_waits():
    def fail():
        raise OSError("disk full")

    ran_on: list[str] = []
    Pending(lambda: ran_on.append(threading.current_thread().name)).wait()
    assert ran_on == ["sweep-trial-record"]
    with pytest.raises(OSError, match="disk full"):
        Pending(fail).wait()
