"""``torchrun --nproc_per_node 2 -m designer sweep ...`` on CPU (gloo): rank 0 draws each trial, both ranks train it.

The oracle is Optuna's own record and DistributedDataParallel: the study holds the trials asked for (not one per
rank), and for each trial both ranks end with the same weights, shaped by that trial's drawn channel count (DDP
refuses ranks whose models differ, and would average different designs into nonsense).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from designer.model import fileformat
from designer.sweep.study import make_storage
from tests.helpers import chain

ROOT = Path(__file__).resolve().parent.parent

#: The real CLI in each process; every rank keeps each trial's final weights, named by rank and run folder.
LAUNCHER = """
import sys, torch
from pathlib import Path
from designer.training import engine
from designer.cli import main

original = engine.Trainer.run

def run_and_keep(self):
    result = original(self)
    torch.save(self.model_state_dict(), f"{sys.argv[1]}/rank{self.dist.rank}-{Path(self.run_dir).name}.pt")
    return result

engine.Trainer.run = run_and_keep
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_a_sweep_under_torchrun_trains_each_drawn_trial_on_every_rank(tmp_path):
    g = chain(
        [1, 12, 12],
        ("Conv2d", {"out_channels": 4, "kernel_size": 3}),
        ("ReLU", {}),
        ("Flatten", {}),
        ("Linear", {"out_features": 4}),
        name="ddp sweep",
    )
    g.extra["training"] = dict(
        data="shapes:4", samples=64, val_split=0.25, epochs=1, batch_size=8, device="cpu", workers=0, seed=1
    )
    g.extra["search"] = {"lr": {"float": [1e-3, 1e-1], "log": True}, "n1.out_channels": {"int": [2, 6]}}
    design = tmp_path / "tiny.json"
    fileformat.save(g, design)
    (tmp_path / "launch.py").write_text(LAUNCHER)
    storage, out = f"journal:{tmp_path / 'study.log'}", tmp_path / "sweep"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(tmp_path / "launch.py"), str(tmp_path), "sweep", str(design), "--trials", "2", "--pruner", "none",
           "--storage", storage, "--study", "s", "--out", str(out), "--quiet"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("trial 0 complete") == 1  # rank 0 reports, the other rank says nothing
    trials = optuna.load_study(study_name="s", storage=make_storage(storage)).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["trial-0000", "trial-0001"]
    for t in trials:
        name = f"trial-{t.number:04d}"
        w0 = torch.load(tmp_path / f"rank0-{name}.pt", weights_only=True)
        w1 = torch.load(tmp_path / f"rank1-{name}.pt", weights_only=True)
        assert w0["n1.weight"].shape[0] == t.params["n1.out_channels"]
        assert w0.keys() == w1.keys() and all(torch.equal(w0[k], w1[k]) for k in w0)
