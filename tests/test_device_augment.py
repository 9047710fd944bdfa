"""The batch augmentation on the device: each transform does what ``build_augment``'s does, drawn per sample, and
seeded by its place in the run, so a resumed run on device batches equals an uninterrupted one."""

from __future__ import annotations

import pytest
import torch

from designer.training import loaders
from designer.training.api import Finished, StepEnded, Trainer, read_metrics
from designer.training.data import Augment
from designer.training.device_augment import DeviceAugment
from tests.test_train import _stable, run, tiny


def images(n: int = 64, c: int = 1, h: int = 15, w: int = 15) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, c, h, w), dtype=torch.uint8, generator=g)


def test_flips_are_exact_and_drawn_per_sample():
    x = images()
    out = DeviceAugment(Augment(hflip=True), seed=1)(x, epoch=0, batch=0)
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, x)]
    kept = [torch.equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and 10 < sum(flipped) < 54  # about half, each its own draw


def test_pad_and_crop_shifts_by_whole_pixels_within_an_eighth_of_the_side():
    x = images(32, 1, 16, 16)
    out = DeviceAugment(Augment(crop=True), seed=1)(x, epoch=0, batch=0)
    shifts = set()
    for o, i in zip(out, x):
        # the interior 8x8 of the output is the input's, moved by (dy, dx) with |d| <= 16 // 8
        found = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(o[:, 4:12, 4:12], i[:, 4 + dy : 12 + dy, 4 + dx : 12 + dx])
        ]
        assert found, "not a whole-pixel shift within the padding"
        shifts.add(found[0])
    assert len(shifts) > 5


@pytest.mark.parametrize("aug", [Augment(resized_crop=True), Augment(crop=True, hflip=True, vflip=True)])
def test_crops_and_flips_never_bring_in_a_border(aug):
    x = torch.full((16, 3, 20, 12), 77, dtype=torch.uint8)
    assert torch.equal(DeviceAugment(aug, seed=0)(x, epoch=3, batch=5), x)


def test_a_rotation_turns_about_the_centre_and_fills_the_corners_with_black():
    x = torch.full((16, 1, 15, 15), 200, dtype=torch.uint8)
    out = DeviceAugment(Augment(rotation=45), seed=0)(x, epoch=0, batch=0)
    assert (out[:, :, 7, 7] == 200).all()
    assert (out[:, :, 0, 0] < 200).sum() > 8  # most samples turn far enough to uncover a corner


def test_colour_jitter_scales_a_grey_image_within_its_strength_per_sample():
    x = torch.full((64, 1, 8, 8), 100, dtype=torch.uint8)
    out = DeviceAugment(Augment(color_jitter=0.4), seed=0)(x, epoch=0, batch=0)
    per_sample = out.float().flatten(1)
    assert (per_sample == per_sample[:, :1]).all()  # brightness and contrast keep a flat image flat
    assert per_sample[:, 0].min() >= 60 - 1 and per_sample[:, 0].max() <= 140 + 1
    assert len(per_sample[:, 0].unique()) > 20


def test_colour_jitter_keeps_grey_pixels_grey_and_changes_colours():
    grey = images(16, 1, 6, 6).expand(16, 3, 6, 6).contiguous()
    out = DeviceAugment(Augment(color_jitter=0.5), seed=0)(grey, epoch=0, batch=0)
    assert (out.max(1).values.int() - out.min(1).values.int()).abs().max() <= 1  # saturation and hue leave grey
    colour = images(16, 3, 6, 6)
    jittered = DeviceAugment(Augment(color_jitter=0.5), seed=0)(colour, epoch=0, batch=0)
    assert jittered.dtype == torch.uint8 and (jittered.int() - colour.int()).abs().float().mean() > 5


def test_draws_depend_on_seed_epoch_and_batch_only():
    x, aug = images(), Augment(hflip=True, rotation=10, color_jitter=0.2)
    a = DeviceAugment(aug, seed=1)(x, epoch=2, batch=3)
    assert torch.equal(a, DeviceAugment(aug, seed=1)(x, epoch=2, batch=3))
    assert not torch.equal(a, DeviceAugment(aug, seed=1)(x, epoch=2, batch=4))
    assert not torch.equal(a, DeviceAugment(aug, seed=1)(x, epoch=3, batch=3))
    assert not torch.equal(a, DeviceAugment(aug, seed=2)(x, epoch=2, batch=3))


def test_a_run_augmented_on_the_device_resumes_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "RESIDENT_DEVICES", ("cpu",))
    aug = {"hflip": True, "crop": True}
    whole, _, _ = run(tiny(), tmp_path, name="whole", augment=aug)

    def stop_at_7(trainer, e):
        if isinstance(e, StepEnded) and e.step == 7:
            trainer.stop()

    _, stopped, _ = run(tiny(), tmp_path, name="part", trainer_hook=stop_at_7, augment=aug)
    assert isinstance(stopped, Finished) and stopped.status == "stopped"
    resumed = Trainer.from_run_dir(tmp_path / "part")
    assert isinstance(resumed.run(), Finished)
    assert resumed.session is not None and resumed.session.data_on_device
    assert _stable(read_metrics(tmp_path / "part")) == _stable(read_metrics(tmp_path / "whole"))
    want, got = whole.model_state_dict(), resumed.model_state_dict()
    assert all(torch.equal(want[k], got[k]) for k in want)
