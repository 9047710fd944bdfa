"""``torchrun --nproc_per_node 2 -m designer train ...`` on CPU (gloo): both ranks end with the same weights, the
ones a single process gets from the same 16-sample batches, and only rank 0 writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from designer.compiler import compile_graph
from designer.export.checkpoint import read_checkpoint
from designer.model import fileformat
from designer.training import runs
from designer.training.data import load_data
from tests.helpers import chain

ROOT = Path(__file__).resolve().parent.parent

#: Runs the real CLI in each process, keeping every rank's final weights for the comparison.
LAUNCHER = """
import sys, torch
from designer.training import engine
from designer.cli import main

original = engine.Trainer.run

def run_and_keep(self):
    result = original(self)
    torch.save(self.model_state_dict(), f"{sys.argv[1]}/rank{self.dist.rank}.pt")
    return result

engine.Trainer.run = run_and_keep
sys.exit(main(sys.argv[2:]))
"""

SEED, SAMPLES, BATCH, LR = 3, 100, 8, 0.05


def reference(graph) -> dict[str, torch.Tensor]:
    """One process, one batch per step made of both ranks' shards: rank r reads every other sample from r."""
    b = load_data("shapes", (1, 12, 12), val_split=0.2, samples=SAMPLES, seed=SEED)
    mean, std = torch.tensor(b.mean).view(1, -1, 1, 1), torch.tensor(b.std).view(1, -1, 1, 1)
    x, y = b.train.images.float() * (1 / (255 * std)) + (-mean / std), b.train.labels
    model = compile_graph(graph, seed=SEED)
    opt = torch.optim.SGD(model.parameters(), LR, momentum=0.9)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED))
    shards = [perm[0::2], perm[1::2]]
    for k in range(len(shards[0]) // BATCH):
        idx = torch.cat([s[k * BATCH : (k + 1) * BATCH] for s in shards])
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.state_dict()


@pytest.mark.slow
def test_two_process_torchrun_on_cpu(tmp_path):
    g = chain(
        [1, 12, 12],
        ("Conv2d", {"out_channels": 4, "kernel_size": 3}),
        ("ReLU", {}),
        ("Flatten", {}),
        ("Linear", {"out_features": 10}),
        name="ddp tiny",
    )
    design = tmp_path / "tiny.json"
    fileformat.save(g, design)
    (tmp_path / "launch.py").write_text(LAUNCHER)
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(tmp_path / "launch.py"),
        str(tmp_path),
        "train",
        str(design),
        "--data",
        "shapes",
        "--samples",
        str(SAMPLES),
        "--val-split",
        "0.2",
        "--epochs",
        "1",
        "--batch-size",
        str(BATCH),
        "--optimizer",
        "sgd",
        "--lr",
        str(LR),
        "--momentum",
        "0.9",
        "--seed",
        str(SEED),
        "--device",
        "cpu",
        "--workers",
        "0",
        "--out",
        str(out),
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert w0.keys() == w1.keys() and all(torch.equal(w0[k], w1[k]) for k in w0)
    initial = compile_graph(g, seed=SEED).state_dict()
    assert not torch.equal(w0["n1.weight"], initial["n1.weight"])
    expected = reference(g)
    for k in expected:
        assert torch.allclose(w0[k], expected[k], atol=1e-5), k
    # Rank 0 alone reports and writes: one line per epoch, one row per step, one checkpoint of its weights.
    assert proc.stdout.count("epoch 1/1: train loss") == 1
    rows = runs.read_metrics(out)
    assert [r["kind"] for r in rows] == ["step"] * 5 + ["epoch"]
    assert int(rows[-1]["samples"]) == 80
    assert runs.read_json(out / "config.json")["resolved"]["world_size"] == 2
    ck = read_checkpoint(out / "last.pt")
    assert all(torch.equal(ck.state_dict[k], w0[k]) for k in w0)
