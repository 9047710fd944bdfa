"""The training engine against hand-written torch loops, and every way a run can pause, stop, resume or fail."""

from __future__ import annotations

import math
import threading

import pytest
import torch
import torch.nn.functional as F

from designer import dumps, loads
from designer.compiler import compile_graph
from designer.export.checkpoint import load_model, read_checkpoint
from designer.training import runs
from designer.training.api import (
    CheckpointSaved,
    EpochEnded,
    Failed,
    Finished,
    Note,
    Paused,
    Resumed,
    RunStarted,
    StepEnded,
    TrainConfig,
    Trainer,
    list_runs,
    read_metrics,
    read_section,
    train,
    write_section,
)
from designer.training.config import ConfigError
from designer.training.data import load_data
from designer.training.setup import param_groups, resolve_device
from designer.training.tasks import make_loss
from tests.helpers import chain
from tests.test_data import write_folder

#: 100 shapes, 80 for training: five steps of 16 per epoch.
BASE = dict(samples=100, val_split=0.2, batch_size=16, epochs=2, lr=0.01, seed=7, device="cpu", workers=0)


def tiny(frozen: tuple[str, ...] = (), outputs: int = 10, bn: bool = False, shape=(1, 12, 12)):
    layers = [("Conv2d", {"out_channels": 4, "kernel_size": 3})]
    if bn:
        layers.append(("BatchNorm2d", {}))
    layers += [("ReLU", {}), ("MaxPool2d", {"kernel_size": 2}), ("Flatten", {}), ("Linear", {"out_features": outputs})]
    g = chain(list(shape), *layers, name="tiny")
    for node_id in frozen:
        g[node_id].frozen = True
    return g


def run(graph, tmp_path, name="run", trainer_hook=None, **cfg):
    events: list = []
    trainer = Trainer(graph, TrainConfig(**{**BASE, **cfg}), run_dir=tmp_path / name, on_event=events.append)
    if trainer_hook:
        trainer.on_event = lambda e: (events.append(e), trainer_hook(trainer, e))
    result = trainer.run()
    return trainer, result, events


def reference(graph, cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """The same training written as a plain torch loop: seeded per-epoch permutation, full batches, torch's own
    optimisers and schedulers."""
    b = load_data(cfg.data, (1, 12, 12), val_split=cfg.val_split, samples=cfg.samples, seed=cfg.seed)
    mean, std = torch.tensor(b.mean).view(1, -1, 1, 1), torch.tensor(b.std).view(1, -1, 1, 1)
    # (x / 255 - mean) / std, rounded as the engine rounds it: Adam magnifies last-bit differences in tiny gradients.
    x, y = b.train.images.float() * (1 / (255 * std)) + (-mean / std), b.train.labels
    model = compile_graph(graph, seed=cfg.seed)
    p = model.parameters()
    opt = {
        "sgd": lambda: torch.optim.SGD(
            p, cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay
        ),
        "adam": lambda: torch.optim.Adam(p, cfg.lr, weight_decay=cfg.weight_decay),
        "adamw": lambda: torch.optim.AdamW(p, cfg.lr, weight_decay=cfg.weight_decay),
    }[cfg.optimizer]()
    steps = len(y) // cfg.batch_size
    sched = {
        "none": lambda: None,
        "step": lambda: torch.optim.lr_scheduler.StepLR(opt, cfg.step_size, cfg.gamma),
        "cosine": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs),
        "onecycle": lambda: torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.epochs * steps),
    }[cfg.schedule]()
    for epoch in range(cfg.epochs):
        perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(cfg.seed + epoch))
        for k in range(steps):
            idx = perm[k * cfg.batch_size : (k + 1) * cfg.batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx], label_smoothing=cfg.label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if cfg.schedule == "onecycle":
                sched.step()
        if sched is not None and cfg.schedule != "onecycle":
            sched.step()
    return model.state_dict()


def assert_same_weights(a, b, atol=1e-5):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=atol, rtol=1e-4), k


@pytest.mark.parametrize(
    "changes",
    [
        dict(optimizer="sgd", momentum=0.9, nesterov=True, weight_decay=1e-3),
        dict(optimizer="sgd", momentum=0.0, schedule="step", step_size=1, gamma=0.5),
        dict(optimizer="adam", schedule="cosine", label_smoothing=0.1),
        dict(optimizer="adamw", weight_decay=0.05, schedule="onecycle"),
    ],
)
def test_engine_matches_a_hand_written_loop(tmp_path, changes):
    g = tiny()
    trainer, result, events = run(g, tmp_path, **changes)
    assert isinstance(result, Finished) and result.status == "completed", result
    cfg = TrainConfig(**{**BASE, **changes})
    assert_same_weights(trainer.model_state_dict(), reference(g, cfg))
    assert type(trainer.session.trainables.optimizer).__name__.lower() == cfg.optimizer


def test_events_metrics_and_run_folder(tmp_path):
    g = tiny()
    trainer, result, events = run(g, tmp_path)
    kinds = [type(e) for e in events]
    assert kinds[0] is RunStarted and kinds[-1] is Finished
    steps = [e for e in events if isinstance(e, StepEnded)]
    assert [e.step for e in steps] == list(range(1, 11))
    assert all(e.samples_per_s > 0 and e.eta_s >= 0 and 0 <= e.accuracy <= 1 for e in steps)
    assert steps[-1].eta_s < steps[0].eta_s  # what is left at the last step is the last validation
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    assert epochs[-1].eta_s == 0
    assert [e.epoch for e in epochs] == [1, 2] and all(e.val_accuracy is not None for e in epochs)
    assert {e.kind for e in events if isinstance(e, CheckpointSaved)} >= {"last", "best"}
    d = tmp_path / "run"
    assert (d / "project.json").read_text() == dumps(g)
    record = runs.read_json(d / "config.json")
    assert record["versions"]["torch"] == torch.__version__ and record["resolved"]["device"] == "cpu"
    assert record["config"]["batch_size"] == 16 and record["data"]["train_samples"] == 80
    rows = read_metrics(d)
    assert [r["kind"] for r in rows].count("epoch") == 2 and [r["kind"] for r in rows].count("step") == 10
    # The epoch's training loss is the sample-weighted mean of its step rows.
    first = [float(r["train_loss"]) for r in rows if r["kind"] == "step" and r["epoch"] == "1"]
    epoch_row = next(r for r in rows if r["kind"] == "epoch")
    assert float(epoch_row["train_loss"]) == pytest.approx(sum(first) / len(first), rel=1e-4)
    assert runs.read_json(d / "status.json")["status"] == "completed"
    info = list_runs(tmp_path)
    assert [r.name for r in info] == ["run"] and info[0].status == "completed"


def test_checkpoint_loads_weights_only_and_rebuilds_the_model(tmp_path):
    trainer, _, _ = run(tiny(), tmp_path)
    raw = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert loads(raw["design"]).name == "tiny"
    model = load_model(tmp_path / "run" / "last.pt")
    x = torch.randn(3, 1, 12, 12)
    trainer.model.eval()
    model.eval()
    assert torch.equal(model(x), trainer.model(x))
    extra = read_checkpoint(tmp_path / "run" / "last.pt").extra
    assert extra["classes"][0] == "circle" and len(extra["mean"]) == 1 and extra["input_shape"] == [1, 12, 12]
    assert read_checkpoint(tmp_path / "run" / "best.pt").extra["step"] in (5, 10)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("full")
    trainer, result, _ = run(tiny(), tmp, augment={"hflip": True}, deterministic=True)
    return trainer.model_state_dict(), read_metrics(tmp / "run")


def _stable(rows):
    return [{k: v for k, v in r.items() if k not in runs.TIMING_COLUMNS} for r in rows]


def test_two_seeded_runs_give_identical_metrics(tmp_path, full_run):
    trainer, _, _ = run(tiny(), tmp_path, augment={"hflip": True}, deterministic=True)
    assert _stable(read_metrics(tmp_path / "run")) == _stable(full_run[1])
    for k, v in full_run[0].items():
        assert torch.equal(v, trainer.model_state_dict()[k])


def test_stop_then_resume_equals_an_uninterrupted_run(tmp_path, full_run):
    def stop_at_7(trainer, e):
        if isinstance(e, StepEnded) and e.step == 7:
            trainer.stop()

    _, stopped, events = run(tiny(), tmp_path, trainer_hook=stop_at_7, augment={"hflip": True}, deterministic=True)
    assert isinstance(stopped, Finished) and stopped.status == "stopped" and stopped.step == 7
    assert runs.read_json(tmp_path / "run" / "status.json")["status"] == "stopped"
    ck = read_checkpoint(tmp_path / "run" / "last.pt").extra
    assert (ck["epoch"], ck["batch_in_epoch"], ck["step"]) == (1, 2, 7)
    resumed: list = []
    trainer = Trainer.from_run_dir(tmp_path / "run", on_event=resumed.append)
    result = trainer.run()
    assert isinstance(result, Finished) and result.status == "completed" and result.step == 10
    assert resumed[0].start_step == 7 and [e.step for e in resumed if isinstance(e, StepEnded)] == [8, 9, 10]
    for k, v in full_run[0].items():
        assert torch.equal(v, trainer.model_state_dict()[k]), k
    assert _stable(read_metrics(tmp_path / "run")) == _stable(full_run[1])


def test_resume_can_extend_the_run_but_not_change_the_batches(tmp_path):
    run(tiny(), tmp_path, epochs=1)
    result = Trainer.from_run_dir(tmp_path / "run", epochs=2).run()
    assert isinstance(result, Finished) and result.step == 10
    with pytest.raises(Exception) as err:
        Trainer.from_run_dir(tmp_path / "run", batch_size=8)
    assert err.value.code == "resume.bad_override"


def test_pause_saves_and_waits_then_continues(tmp_path, full_run):
    def pause_at_3(trainer, e):
        if isinstance(e, StepEnded) and e.step == 3:
            trainer.pause()
            threading.Timer(0.3, trainer.resume).start()

    trainer, result, events = run(
        tiny(), tmp_path, trainer_hook=pause_at_3, augment={"hflip": True}, deterministic=True
    )
    i = next(k for k, e in enumerate(events) if isinstance(e, Paused))
    assert events[i].step == 3 and isinstance(events[i - 1], CheckpointSaved) and events[i - 1].step == 3
    assert isinstance(events[i + 1], Resumed) and result.status == "completed"
    for k, v in full_run[0].items():
        assert torch.equal(v, trainer.model_state_dict()[k])


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    calls = {"n": 0}

    def poison(trainer, e):
        if isinstance(e, RunStarted):

            def hook(module, args, out):
                if module.training:
                    calls["n"] += 1
                    if calls["n"] == 8:
                        return out * float("nan")
                return out

            trainer.model.register_forward_hook(hook)

    _, result, events = run(tiny(), tmp_path, trainer_hook=poison)
    assert isinstance(result, Failed) and result.code == "loss.nonfinite"
    assert "at step 8" in result.message and result.step == 8
    assert result.checkpoint == str(tmp_path / "run" / "last.pt")
    ck = read_checkpoint(result.checkpoint)
    assert ck.extra["step"] == 5 and all(torch.isfinite(v).all() for v in ck.state_dict.values())
    assert runs.read_json(tmp_path / "run" / "status.json")["code"] == "loss.nonfinite"


def test_nan_step_is_exact_when_reports_are_sparse(tmp_path):
    def poison(trainer, e):
        if isinstance(e, RunStarted):
            trainer.model.register_forward_hook(
                lambda m, a, out: out * float("nan") if m.training and trainer.state.step == 2 else out
            )

    _, result, _ = run(tiny(), tmp_path, trainer_hook=poison, log_every=4)
    assert isinstance(result, Failed) and result.code == "loss.nonfinite" and "at step 3" in result.message


def test_out_of_memory_suggests_a_smaller_batch(tmp_path):
    def oom(trainer, e):
        if isinstance(e, RunStarted):

            def hook(module, args):
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

            trainer.model.register_forward_pre_hook(hook)

    _, result, _ = run(tiny(), tmp_path, trainer_hook=oom)
    assert isinstance(result, Failed) and result.code == "oom" and "--batch-size 8" in result.hint


def test_dataset_classes_must_match_the_output(tmp_path):
    folder = write_folder(tmp_path / "pets", per_class=4, size=12)
    _, result, _ = run(tiny(shape=(3, 12, 12)), tmp_path, data=f"folder:{folder}")
    assert isinstance(result, Failed) and result.code == "data.classes_mismatch" and "2 classes" in result.message
    assert not (tmp_path / "run").exists()


def test_one_output_design_trains_with_bce_and_skips_broken_images(tmp_path):
    folder = write_folder(tmp_path / "pets", per_class=8, size=12, broken=1)
    # One loader worker: broken files are found in the worker process and still counted.
    _, result, events = run(
        tiny(outputs=1, shape=(3, 12, 12)),
        tmp_path,
        data=f"folder:{folder}",
        val_split=0.0,
        batch_size=4,
        epochs=1,
        workers=1,
    )
    assert isinstance(result, Finished) and result.status == "completed", result
    assert result.skipped_images == 1
    assert any(isinstance(e, Note) and "broken0.png" in e.message for e in events)
    loss, correct = make_loss(1, 0.2)
    out, y = torch.randn(5, 1), torch.tensor([0, 1, 1, 0, 1])
    assert torch.allclose(loss(out, y), F.binary_cross_entropy_with_logits(out[:, 0], y.float() * 0.8 + 0.1))
    assert int(correct(out, y)) == int(((out[:, 0] > 0).long() == y).sum())


def test_stop_while_paused_ends_at_the_paused_step(tmp_path):
    def pause_then_stop(trainer, e):
        if isinstance(e, StepEnded) and e.step == 2:
            trainer.pause()
            threading.Timer(0.2, trainer.stop).start()

    _, result, events = run(tiny(), tmp_path, trainer_hook=pause_then_stop)
    assert isinstance(result, Finished) and result.status == "stopped" and result.step == 2
    assert not any(isinstance(e, Resumed) for e in events)
    assert read_checkpoint(tmp_path / "run" / "last.pt").extra["step"] == 2


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_and_channels_last_run_on_cpu(tmp_path, precision):
    trainer, result, events = run(tiny(), tmp_path, precision=precision, channels_last=True, epochs=1)
    assert isinstance(result, Finished), result
    assert events[0].precision == precision and trainer.session.prep.channels_last
    assert all(math.isfinite(e.loss) for e in events if isinstance(e, StepEnded))
    assert trainer.session.trainables.scaler.is_enabled() == (precision == "fp16")


def test_frozen_nodes_and_frozen_batchnorm_do_not_change(tmp_path):
    g = tiny(frozen=("n1", "n2"), bn=True)
    initial = compile_graph(g, seed=BASE["seed"]).state_dict()
    trainer, result, _ = run(g, tmp_path, epochs=1)
    after = trainer.model_state_dict()
    for key in ("n1.weight", "n1.bias", "n2.weight", "n2.running_mean", "n2.running_var"):
        assert torch.equal(after[key], initial[key]), key
    assert not torch.equal(after["n6.weight"], initial["n6.weight"])


def test_lr_mult_makes_groups_and_zero_keeps_weights(tmp_path):
    g = tiny()
    g["n1"].lr_mult = 0.1
    groups = param_groups(compile_graph(g), g, lr=0.5, weight_decay=0.0)
    assert sorted(round(gr["lr"], 6) for gr in groups) == [0.05, 0.5]
    g["n1"].lr_mult = 0.0
    initial = compile_graph(g, seed=BASE["seed"]).state_dict()
    trainer, _, _ = run(g, tmp_path, epochs=1)
    assert torch.equal(trainer.model_state_dict()["n1.weight"], initial["n1.weight"])
    assert len(trainer.session.trainables.optimizer.param_groups) == 1


def test_transfer_learning_load_freeze_then_unfreeze(tmp_path):
    source = compile_graph(tiny(outputs=5), seed=123).state_dict()  # a "pretrained" net with another head
    torch.save(source, tmp_path / "pretrained.pth")
    trainer, result, events = run(
        tiny(frozen=("n1",)), tmp_path, name="head", init_weights=str(tmp_path / "pretrained.pth"), epochs=1
    )
    assert isinstance(result, Finished)
    assert "loaded 2 of 4 tensors" in " ".join(events[0].notes)
    assert torch.equal(trainer.model_state_dict()["n1.weight"], source["n1.weight"])
    head = trainer.model_state_dict()
    trainer2, result2, events2 = run(
        tiny(), tmp_path, name="all", init_weights=str(tmp_path / "head" / "last.pt"), epochs=1, lr=0.05
    )
    assert "loaded 4 of 4 tensors" in " ".join(events2[0].notes)
    assert not torch.equal(trainer2.model_state_dict()["n1.weight"], head["n1.weight"])
    _, bad, _ = run(tiny(), tmp_path, name="bad", init_weights=str(tmp_path / "missing.pth"))
    assert isinstance(bad, Failed) and bad.code == "weights.unreadable"


def test_the_run_trains_a_snapshot_of_the_design(tmp_path):
    g = tiny()
    events: list = []
    trainer = Trainer(g, TrainConfig(**{**BASE, "epochs": 1}), run_dir=tmp_path / "r", on_event=events.append)
    g.set_param("n1", "out_channels", 8)
    assert isinstance(trainer.run(), Finished)
    assert trainer.model_state_dict()["n1.weight"].shape[0] == 4


def test_invalid_design_and_bad_settings_fail_cleanly(tmp_path):
    g = tiny()
    g.set_param("n5", "out_features", 0)
    result = train(g, TrainConfig(**BASE), run_dir=tmp_path / "x")
    assert isinstance(result, Failed) and result.code == "design.invalid"
    result = train(tiny(), TrainConfig(**{**BASE, "data": "nope:x"}), run_dir=tmp_path / "y")
    assert isinstance(result, Failed) and result.code == "data.bad_spec"
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        result = train(tiny(), TrainConfig(**{**BASE, "device": "cuda"}), run_dir=tmp_path / "z")
        assert isinstance(result, Failed) and result.code == "device.unavailable"


def test_callback_errors_do_not_end_the_run(tmp_path):
    def boom(event):
        raise RuntimeError("listener bug")

    trainer = Trainer(tiny(), TrainConfig(**{**BASE, "epochs": 1}), run_dir=tmp_path / "r", on_event=boom)
    assert isinstance(trainer.run(), Finished) and trainer.callback_errors


def test_auto_device_is_cuda_then_mps_then_cpu():
    expected = (
        "cuda"
        if torch.cuda.is_available()
        else ("mps" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else "cpu")
    )
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"


# -- the training section of the project file ------------------------------------------------------------------------


def test_training_section_round_trips_through_the_file_format():
    g = tiny()
    cfg = TrainConfig(data="folder:/pets", augment={"hflip": True}, optimizer="sgd", nesterov=True, epochs=3)
    write_section(g, cfg)
    again = loads(dumps(g))
    assert read_section(again) == cfg and again.extra["training"]["optimizer"] == "sgd"
    assert read_section(tiny()) == TrainConfig()


def test_config_checks_values_and_flags_override():
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({"epochs": "five"})
    assert err.value.key == "epochs"
    with pytest.raises(ConfigError):
        TrainConfig.from_dict({"optimizer": "rmsprop"})
    with pytest.raises(ConfigError):
        TrainConfig.from_dict({"shiny": 1})
    ignored: list[str] = []
    assert TrainConfig.from_dict({"shiny": 1, "lr": 1}, ignored).lr == 1.0 and ignored == ["shiny"]
    base = TrainConfig(epochs=3)
    assert base.replace(epochs=None, lr=0.5) == TrainConfig(epochs=3, lr=0.5)
    with pytest.raises(ConfigError):
        base.replace(nesterov=True, optimizer="adam")
    assert math.isclose(TrainConfig.from_dict({"lr": 1}).lr, 1.0)


# -- the run's state and the trainer's controls, as public API --------------------------------------------------------


def _trainables(graph, schedule: str = "cosine", epochs: int = 3):
    from designer.training.setup import make_optimizer, make_scheduler
    from designer.training.state import Trainables

    cfg = TrainConfig(optimizer="sgd", momentum=0.9, schedule=schedule, epochs=epochs, lr=0.1)
    model = compile_graph(graph, seed=1)
    optimizer = make_optimizer(param_groups(model, graph, cfg.lr, cfg.weight_decay), cfg)
    scheduler, _ = make_scheduler(optimizer, cfg, steps_per_epoch=4)
    return Trainables(model, optimizer, scheduler, torch.amp.GradScaler("cpu", enabled=False)), cfg


def _one_step(t) -> None:
    loss = F.cross_entropy(t.model(torch.randn(4, 1, 12, 12)), torch.tensor([0, 1, 2, 3]))
    t.optimizer.zero_grad()
    loss.backward()
    t.optimizer.step()
    t.scheduler.step()


def test_run_state_round_trips_through_a_checkpoint(tmp_path):
    from designer.training.state import (
        CheckpointContents,
        InferenceInfo,
        RunState,
        restore_checkpoint,
        save_checkpoint,
    )

    g = tiny()
    t, cfg = _trainables(g)
    _one_step(t)
    state = RunState(3, 2, 17, 272, 12.5, 0.75, [4.0, 3.0, 16.0], 2)
    assert RunState.from_dict(state.to_dict()) == state
    info = InferenceInfo(("a", "b"), (0.5,), (0.25,), (1, 12, 12))
    path = save_checkpoint(
        tmp_path / "last.pt", state, CheckpointContents(g, cfg, info, t), best_copy=tmp_path / "b.pt"
    )
    extra = read_checkpoint(path).extra
    assert extra["best_val_accuracy"] == 0.75 and extra["epoch_sums"] == [4.0, 3.0, 16.0] and extra["mean"] == [0.5]
    assert read_checkpoint(tmp_path / "b.pt").extra["step"] == 17
    rng_after_save = torch.get_rng_state()
    torch.rand(5)  # moves the generator on: the restore must put it back
    fresh, _ = _trainables(g)
    restored = restore_checkpoint(path, fresh, cfg.replace(epochs=5))
    assert restored == state and restored is not state
    assert_same_weights(fresh.model.state_dict(), t.model.state_dict(), atol=0)
    momentum = [s["momentum_buffer"] for s in fresh.optimizer.state.values()]
    assert momentum and all(torch.equal(a, s["momentum_buffer"]) for a, s in zip(momentum, t.optimizer.state.values()))
    assert fresh.scheduler.last_epoch == t.scheduler.last_epoch == 1 and fresh.scheduler.T_max == 5
    assert torch.equal(torch.get_rng_state(), rng_after_save)


def test_restore_refuses_what_cannot_resume(tmp_path):
    from designer.export.checkpoint import save_checkpoint as write_checkpoint
    from designer.training.setup import TrainingError
    from designer.training.state import CheckpointContents, InferenceInfo, RunState, restore_checkpoint, save_checkpoint

    g = tiny()
    t, cfg = _trainables(g, schedule="onecycle")
    path = save_checkpoint(
        tmp_path / "last.pt", RunState(), CheckpointContents(g, cfg, InferenceInfo((), (), (), ()), t)
    )
    with pytest.raises(TrainingError) as err:
        restore_checkpoint(path, _trainables(g, schedule="onecycle")[0], cfg.replace(epochs=4))
    assert err.value.code == "resume.bad_override"
    write_checkpoint(tmp_path / "weights.pt", g, t.model)
    with pytest.raises(TrainingError) as err:
        restore_checkpoint(tmp_path / "weights.pt", t, cfg)
    assert err.value.code == "resume.unreadable"


def test_stop_request_is_public_and_ends_after_the_next_step(tmp_path):
    trainer = Trainer(tiny(), TrainConfig(**BASE), run_dir=tmp_path / "r")
    assert not trainer.stop_requested and not trainer.paused and trainer.model is None
    trainer.pause()
    assert trainer.paused
    trainer.stop()  # a stop wakes a paused run so that it can end
    assert trainer.stop_requested and not trainer.paused
    result = trainer.run()
    assert isinstance(result, Finished) and result.status == "stopped" and result.step == 1
    assert trainer.state.step == 1 and read_checkpoint(tmp_path / "r" / "last.pt").extra["step"] == 1
    with pytest.raises(ValueError):
        Trainer(tiny(), resuming=True)


def test_the_trainer_state_is_the_one_the_run_advanced_and_resumed(tmp_path):
    def stop_at_3(trainer, e):
        if isinstance(e, StepEnded) and e.step == 3:
            trainer.stop()

    trainer, _, _ = run(tiny(), tmp_path, trainer_hook=stop_at_3)
    assert (trainer.state.epoch, trainer.state.batch_in_epoch, trainer.state.step) == (0, 3, 3)
    assert trainer.state.samples == 48 and trainer.state.epoch_sums[2] == 48
    again = Trainer.from_run_dir(tmp_path / "run")
    assert again.resuming and again.state.step == 0  # nothing is read before run()
    assert isinstance(again.run(), Finished) and again.state.step == 10 and again.state.epoch == 2
    assert again.state.best_accuracy == runs.read_json(tmp_path / "run" / "status.json")["best_val_accuracy"]


def test_a_diverging_loss_stops_the_run_naming_the_step_and_the_learning_rate(tmp_path):
    """lr=1e9 trained on at a loss of 1e31 without a word (issue 13); a loss 1e4 times its first value now stops."""

    def blow_up(trainer, e):
        if isinstance(e, RunStarted):
            trainer.model.register_forward_hook(
                lambda m, a, out: out * 1e9 if m.training and trainer.state.step >= 7 else out
            )

    _, result, _ = run(tiny(), tmp_path, trainer_hook=blow_up)
    assert isinstance(result, Failed) and result.code == "loss.diverged", result
    assert "by step 8" in result.message and "learning rate" in result.message
    assert "lower the learning rate" in result.hint and "last good checkpoint" in result.hint
    assert result.checkpoint == str(tmp_path / "run" / "last.pt")


def test_a_run_that_fails_before_any_checkpoint_does_not_promise_one(tmp_path):
    def poison(trainer, e):
        if isinstance(e, RunStarted):
            trainer.model.register_forward_hook(lambda m, a, out: out * float("nan") if m.training else out)

    _, result, _ = run(tiny(), tmp_path, trainer_hook=poison)
    assert isinstance(result, Failed) and result.code == "loss.nonfinite"
    assert "no checkpoint was written" in result.hint and result.checkpoint is None


def test_divergence_is_measured_against_the_first_loss():
    from designer.training.loop import diverged

    assert not diverged(None, 1e30), "nothing to compare with before the first report"
    assert not diverged(2.3, 2.3e4) and diverged(2.3, 2.3e4 + 1)
    assert diverged(0.0, 1.0), "a first loss of zero still gives a finite bound"
