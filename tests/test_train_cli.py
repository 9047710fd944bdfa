"""``python -m designer train``: flags over the project's training section, progress output, resume, exit codes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from designer.cli import main
from designer.export.checkpoint import read_checkpoint
from designer.model import fileformat
from designer.training import runs
from tests.helpers import chain

FAST = ["--samples", "100", "--batch-size", "16", "--device", "cpu", "--workers", "0", "--val-split", "0.2"]


@pytest.fixture
def design(tmp_path):
    g = chain(
        [1, 12, 12],
        ("Conv2d", {"out_channels": 4, "kernel_size": 3}),
        ("ReLU", {}),
        ("Flatten", {}),
        ("Linear", {"out_features": 10}),
        name="cli tiny",
    )
    path = tmp_path / "tiny.json"
    fileformat.save(g, path)
    return path


def test_train_prints_epochs_and_a_progress_bar(design, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(design), "--data", "shapes", "--epochs", "2", "--out", str(out), *FAST]) == 0
    captured = capsys.readouterr()
    assert "epoch 1/2: train loss" in captured.out and "epoch 2/2" in captured.out
    assert "completed after 2 epoch(s), 10 steps" in captured.out
    assert "10/10" in captured.err and "samples/s" in captured.err  # tqdm's bar with our postfix
    assert len(runs.read_metrics(out)) == 12
    assert (out / "best.pt").exists() and (out / "last.pt").exists()


def test_default_run_folder_is_beside_the_project(design, capsys):
    assert main(["train", str(design), "--epochs", "1", "--quiet", *FAST]) == 0
    found = runs.list_runs(design.parent / "runs" / "tiny")
    assert len(found) == 1 and found[0].status == "completed"


def test_flags_override_the_training_section_and_save_config(design, tmp_path, capsys):
    g = fileformat.load(design)
    g.extra["training"] = {"optimizer": "sgd", "lr": 0.5, "epochs": 1, "momentum": 0.5}
    fileformat.save(g, design)
    out = tmp_path / "run"
    assert main(["train", str(design), "--lr", "0.01", "--out", str(out), "--quiet", "--save-config", *FAST]) == 0
    cfg = runs.read_json(out / "config.json")["config"]
    assert (cfg["optimizer"], cfg["lr"], cfg["epochs"], cfg["momentum"], cfg["batch_size"]) == ("sgd", 0.01, 1, 0.5, 16)
    saved = fileformat.load(design).extra["training"]
    assert saved["lr"] == 0.01 and saved["optimizer"] == "sgd" and saved["samples"] == 100


def test_resume_continues_a_run(design, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(design), "--epochs", "1", "--out", str(out), "--quiet", *FAST]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "2", "--quiet"]) == 0
    status = runs.read_json(out / "status.json")
    assert status["status"] == "completed" and status["step"] == 10
    assert main(["train", str(design), "--epochs", "1", "--out", str(out), "--quiet", *FAST]) == 2  # run.exists
    assert "already holds a run" in capsys.readouterr().err


def test_json_events(design, tmp_path, capsys):
    assert (
        main(["train", str(design), "--epochs", "1", "--out", str(tmp_path / "r"), "--quiet", "--json-events", *FAST])
        == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [e["event"] for e in lines]
    assert kinds[0] == "RunStarted" and kinds[-1] == "Finished" and kinds.count("StepEnded") == 5


def test_exit_codes(design, tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.json")]) == 2
    g = fileformat.load(design)
    g.set_param("n4", "out_features", 0)
    bad = tmp_path / "bad.json"
    fileformat.save(g, bad)
    assert main(["train", str(bad), "--quiet", *FAST]) == 1
    # A setting or dataset name that is wrong: 1; a dataset that cannot be read: 2 (issue 13: never another code).
    assert main(["train", str(design), "--data", "imagenet:/x", "--quiet", *FAST]) == 1
    assert "unknown dataset" in capsys.readouterr().err
    assert main(["train", str(design), "--augment", "mixup", "--quiet", *FAST]) == 1
    assert main(["train", str(design), "--epochs", "0", "--quiet"]) == 1
    assert "'epochs'" in capsys.readouterr().err
    assert main(["train"]) == 1
    assert main(["train", str(design), "--data", f"folder:{tmp_path / 'nowhere'}", "--quiet", *FAST]) == 2


def test_data_class_mismatch_is_reported(design, tmp_path, capsys):
    from tests.test_data import write_folder

    folder = write_folder(tmp_path / "pets", per_class=3, size=12)
    g = fileformat.load(design)
    g["x"].params["shape"] = [3, 12, 12]
    fileformat.save(g, design)
    assert main(["train", str(design), "--data", f"folder:{folder}", "--quiet", *FAST]) == 1
    err = capsys.readouterr().err
    assert "2 classes (cat, dog)" in err and "hint: set the output layer 'n4' to 2 features" in err


def test_parser_and_training_api_do_not_import_torch_or_qt():
    code = (
        "import sys, designer.cli, designer.training.api; designer.cli.build_parser(); "
        "print('torch' in sys.modules, 'tqdm' in sys.modules, 'PySide6' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


class _CtrlCAt:
    """A stdout that presses Ctrl-C (raises SIGINT in this process) ``times`` times as step ``step``'s event goes by."""

    def __init__(self, step: int, times: int = 1):
        self.step, self.times, self.text = step, times, []

    def write(self, text: str) -> int:
        self.text.append(text)
        if '"event": "StepEnded"' in text and f'"step": {self.step},' in text:
            for _ in range(self.times):
                signal.raise_signal(signal.SIGINT)
        return len(text)

    def flush(self) -> None:
        pass


def test_ctrl_c_stops_after_the_step_and_a_second_one_aborts(design, tmp_path, monkeypatch, capsys):
    before = signal.getsignal(signal.SIGINT)
    out = tmp_path / "run"
    args = ["train", str(design), "--epochs", "2", "--out", str(out), "--quiet", "--json-events", *FAST]
    monkeypatch.setattr(sys, "stdout", _CtrlCAt(step=2))
    assert main(args) == 130
    assert capsys.readouterr().err.count("stopping after this step") == 1
    status = runs.read_json(out / "status.json")
    assert (status["status"], status["step"]) == ("stopped", 2)
    monkeypatch.setattr(sys, "stdout", _CtrlCAt(step=4, times=2))
    assert main(["train", "--resume", str(out), "--quiet", "--json-events"]) == 130
    assert capsys.readouterr().err.count("stopping after this step") == 1
    # Aborted at once: no stop was recorded and the last checkpoint is still the one of step 2.
    assert runs.read_json(out / "status.json")["status"] == "running"
    assert read_checkpoint(out / "last.pt").extra["step"] == 2
    assert signal.getsignal(signal.SIGINT) is before  # the CLI put the previous handler back
