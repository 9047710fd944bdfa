"""Training faults end the run with one message, status.json 'failed' with the reason and no temporary files (13)."""

from __future__ import annotations

import errno

import pytest

from designer.training import runs
from designer.training.api import EpochEnded, Failed, TrainConfig, Trainer
from designer.training.data import Augment, DataError, load_data

from .faults import FaultInjector, leftovers
from .test_data import write_folder
from .test_train import BASE, tiny


def _train_until_faulted(tmp_path, monkeypatch, pattern, code=errno.ENOSPC, epochs=3):
    injector = FaultInjector(monkeypatch, tmp_path / "run", code, pattern)

    def arm(e):
        if isinstance(e, EpochEnded):
            injector.armed = True

    trainer = Trainer(tiny(), TrainConfig(**{**BASE, "epochs": epochs}), run_dir=tmp_path / "run", on_event=arm)
    result = trainer.run()
    injector.armed = False
    return result, injector


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "No space left"), (errno.EROFS, "Read-only")])
def test_a_checkpoint_that_cannot_be_written_fails_the_run_cleanly(tmp_path, monkeypatch, code, words):
    result, injector = _train_until_faulted(tmp_path, monkeypatch, "*.pt*", code)
    assert injector.hits and isinstance(result, Failed) and result.code == "io.write_failed", result
    assert "\n" not in result.message and words in result.message and "run" in result.message
    assert not result.details  # no traceback for the window or the CLI to show
    status = runs.read_json(tmp_path / "run" / "status.json")
    assert status["status"] == "failed" and status["code"] == "io.write_failed"
    assert leftovers(tmp_path / "run") == []
    assert result.checkpoint is None or (tmp_path / "run" / "last.pt").exists()


def test_a_run_folder_that_refuses_every_write_still_ends_with_one_message(tmp_path, monkeypatch):
    result, _ = _train_until_faulted(tmp_path, monkeypatch, "*")
    assert isinstance(result, Failed) and result.code == "io.write_failed" and not result.details
    assert leftovers(tmp_path / "run") == []


def test_a_folder_dataset_trains_a_one_channel_design(tmp_path):
    """Every 1-channel design failed on a folder dataset: the statistics always had 3 channels."""
    root = write_folder(tmp_path / "imgs", per_class=4, size=12)
    bundle = load_data(f"folder:{root}", (1, 12, 12), val_split=0.25, seed=0)
    assert len(bundle.mean) == len(bundle.std) == 1
    assert bundle.train[0][0].shape[0] == 1


def test_an_empty_class_folder_is_an_error_not_a_class(tmp_path):
    root = write_folder(tmp_path / "imgs", per_class=2, size=8)
    (root / "zebra").mkdir()
    with pytest.raises(DataError) as err:
        load_data(f"folder:{root}", (3, 8, 8), val_split=0.0, seed=0)
    assert err.value.code == "data.empty_class" and "zebra" in err.value.message


@pytest.mark.parametrize("augment", [{"rotation": "x"}, {"hflip": 1}, {"rotation": -5}, {"color_jitter": [1]}])
def test_a_malformed_augmentation_is_a_data_error(tmp_path, augment):
    """``augment: {"rotation": "x"}`` was a ValueError traceback from torchvision at the first batch."""
    with pytest.raises(DataError) as err:
        Augment.from_dict(augment)
    assert err.value.code == "data.bad_augment"
    result = Trainer(tiny(), TrainConfig(**{**BASE, "augment": augment}), run_dir=tmp_path / "run").run()
    assert isinstance(result, Failed) and result.code == "data.bad_augment" and not result.details
