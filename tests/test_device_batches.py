"""In-memory data batched on the device (the GPU fast path of issue 15): the same batches as the DataLoader, and a
run through it trains exactly as one through the DataLoader. Forced on the CPU here; CUDA takes it by default."""

from __future__ import annotations

import pytest
import torch

from designer.export.checkpoint import read_checkpoint
from designer.training import loaders, runs
from designer.training.api import Finished, TrainConfig, Trainer, read_metrics
from designer.training.data import Augment, TensorImages
from designer.training.distributed import DistInfo
from designer.training.loaders import DeviceBatches, ResumableSampler, ShardSampler, make_loader, resident
from tests.test_train import BASE, tiny

CPU = torch.device("cpu")


def dataset(n: int = 50) -> TensorImages:
    g = torch.Generator().manual_seed(0)
    return TensorImages(torch.randint(0, 256, (n, 1, 12, 12), dtype=torch.uint8, generator=g), torch.arange(n) % 10)


@pytest.mark.parametrize(("train", "skip"), [(True, 0), (True, 24), (False, 0)])
def test_the_batches_are_the_dataloaders_in_order_and_size(monkeypatch, train, skip):
    data, info = dataset(), DistInfo()
    plain = make_loader(data, 16, _sampler(data, info, train, skip), 0, CPU, seed=3, train=train)
    monkeypatch.setattr(loaders, "RESIDENT_DEVICES", ("cpu",))
    fast = make_loader(data, 16, _sampler(data, info, train, skip), 0, CPU, seed=3, train=train)
    assert isinstance(fast, DeviceBatches) and not isinstance(plain, DeviceBatches)
    want, got = list(plain), list(fast)
    assert len(fast) == len(plain) == len(want) == len(got)
    for (x1, y1, b1), (x2, y2, b2) in zip(want, got):
        assert torch.equal(x1, x2) and torch.equal(y1, y2) and b1 == b2 == []


def _sampler(data, info, train, skip):
    if not train:
        return ShardSampler(len(data), info)
    sampler = ResumableSampler(data, info, seed=3)
    sampler.set_epoch(1, skip=skip)
    return sampler


def test_the_cpu_and_augmented_masks_keep_the_dataloader(monkeypatch):
    assert not resident(dataset(), CPU)  # the CPU gains nothing by default: the data is there already
    monkeypatch.setattr(loaders, "RESIDENT_DEVICES", ("cpu",))
    assert resident(dataset(), CPU)
    assert resident(dataset(), CPU, Augment(hflip=True))  # classification: DeviceAugment moves the images
    masks = TensorImages(dataset().images, torch.zeros(50, 12, 12, dtype=torch.long))
    assert resident(masks, CPU) and not resident(masks, CPU, Augment(hflip=True))  # a mask would have to move too


def test_a_run_on_device_batches_trains_exactly_as_one_through_the_dataloader(tmp_path, monkeypatch):
    config = TrainConfig(**BASE)
    plain = Trainer(tiny(), config, run_dir=tmp_path / "plain")
    assert isinstance(plain.run(), Finished)
    monkeypatch.setattr(loaders, "RESIDENT_DEVICES", ("cpu",))
    fast = Trainer(tiny(), config, run_dir=tmp_path / "fast")
    assert isinstance(fast.run(), Finished)
    columns = ("train_loss", "train_acc", "val_loss", "val_acc")
    rows = [[(r["kind"], *(r[c] for c in columns)) for r in read_metrics(tmp_path / d)] for d in ("plain", "fast")]
    assert rows[0] == rows[1] and len(rows[0]) > 2
    weights = [read_checkpoint(tmp_path / d / "last.pt").state_dict for d in ("plain", "fast")]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert runs.read_json(tmp_path / "fast" / "config.json")["resolved"]["data_on_device"] is True
    assert runs.read_json(tmp_path / "plain" / "config.json")["resolved"]["data_on_device"] is False
