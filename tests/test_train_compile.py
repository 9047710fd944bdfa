"""The ``compile`` training setting: the loop steps through ``torch.compile`` of the model when it is on (by default
only on CUDA), and checkpoints keep the plain model's weights. Whether compiling pays is bench/bench_train.py's
business; here torch.compile is replaced by a spy, since compiling for real costs tens of seconds on this CPU."""

from __future__ import annotations

import json

import pytest
import torch

from designer.training import session as session_module
from designer.training.api import Finished, TrainConfig
from designer.training.config import ConfigError
from designer.training.engine import Trainer
from tests.test_train import BASE, tiny


class _Spy(torch.nn.Module):
    """Stands for torch.compile's wrapper: runs the module and counts the steps that went through it."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.inner, self.calls = module, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.inner(x)


@pytest.mark.parametrize("setting, expected", [(True, True), (False, False), (None, False)])
def test_the_loop_steps_through_the_compiled_model_when_asked(tmp_path, monkeypatch, setting, expected):
    spies: list[_Spy] = []

    def fake_compile(module: torch.nn.Module) -> torch.nn.Module:
        spies.append(_Spy(module))
        return spies[-1]

    monkeypatch.setattr(session_module.torch, "compile", fake_compile)
    config = TrainConfig(**{**BASE, "epochs": 1, "compile": setting})
    end = Trainer(tiny(), config, run_dir=tmp_path / "run").run()
    assert isinstance(end, Finished)
    assert bool(spies) == expected  # None on the CPU: off, as measured slower there
    if expected:
        assert spies[0].calls == 5  # every training step of the epoch (80 samples in batches of 16)
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["resolved"]["compiled"] is expected
    saved = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert not any(k.startswith(("inner.", "_orig_mod.")) for k in saved["state_dict"])  # the plain model's names


def test_compile_must_be_a_boolean_or_null():
    assert TrainConfig.from_dict({"compile": None}).compile is None
    with pytest.raises(ConfigError, match="compile"):
        TrainConfig.from_dict({"compile": "yes"})
