"""Training without ``torch._dynamo`` when nothing is compiled (issue 15, point 8: every torch optimiser imported it,
1.7 s before the first step), in a fresh process: it is never imported, and the engine's weights still equal the
hand-written loop's with torch's own optimisers and schedulers (which import it, so they run last)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_CHILD = """
import pathlib, sys, warnings
warnings.filterwarnings("error", message=".*lr_scheduler.step")  # the order warning, had the step gone unrecorded
from designer.training.config import TrainConfig
from tests.test_train import BASE, assert_same_weights, reference, run, tiny
cases = [
    dict(optimizer="sgd", momentum=0.9, nesterov=True, weight_decay=1e-3, schedule="step", step_size=1, gamma=0.5),
    dict(optimizer="adamw", weight_decay=0.05, schedule="onecycle"),
]
states = []
for i, changes in enumerate(cases):
    trainer, result, _ = run(tiny(), pathlib.Path(sys.argv[1]), name=f"r{i}", **changes)
    assert result.status == "completed", result
    states.append(trainer.model_state_dict())
print("dynamo", "torch._dynamo" in sys.modules)
for changes, state in zip(cases, states):
    assert_same_weights(state, reference(tiny(), TrainConfig(**{**BASE, **changes})))
print("same")
"""


@pytest.mark.slow
def test_training_loads_no_dynamo_and_still_matches_torch(tmp_path):
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path)], capture_output=True, text=True, cwd=root)
    assert out.stdout.split() == ["dynamo", "False", "same"], out.stdout + out.stderr[-3000:]
