"""Per-layer cost: the counts agree with the analysis and torch, the timer brackets every module's forward and
backward pass, and ``python -m designer profile`` prints it (counting alone never imports torch)."""

from __future__ import annotations

import json
import subprocess
import sys
from math import prod

import pytest

from designer.analysis.cost import count, format_table, measure, top
from designer.analysis.validate import analyze
from designer.model.fileformat import save
from tests.helpers import graph

RESIDUAL = graph(
    ("x", "Input", {"shape": [3, 16, 16]}, []),
    ("conv", "Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, ["x"]),
    ("relu", "ReLU", {}, ["conv"]),
    ("skip", "Conv2d", {"out_channels": 8, "kernel_size": 1}, ["x"]),
    ("add", "Add", {}, ["relu", "skip"]),
    ("flat", "Flatten", {}, ["add"]),
    ("fc", "Linear", {"out_features": 4}, ["flat"]),
)


def test_counts_are_the_analysis_figures_per_layer():
    analysis = analyze(RESIDUAL)
    costs = {c.node_id: c for c in count(analysis)}
    assert "x" not in costs  # an Input costs nothing
    assert costs["conv"].params == 8 * 3 * 9 + 8 and costs["conv"].mult_adds == costs["conv"].params * 16 * 16
    assert costs["add"].memory == 8 * 16 * 16 * 4 and costs["fc"].memory == 4 * 4
    assert sum(c.params for c in costs.values()) == analysis.total_params
    assert sum(c.mult_adds for c in costs.values()) == analysis.total_mult_adds
    assert [c.node_id for c in top(list(costs.values()), "params", 2)] == ["fc", "conv"]


def test_every_module_is_timed_forward_and_backward():
    torch = pytest.importorskip("torch")
    costs = {c.node_id: c for c in measure(RESIDUAL, batch_size=2, repeats=2, warmup=1)}
    for node_id in ("conv", "relu", "skip", "flat", "fc"):
        assert costs[node_id].forward_ms > 0 and costs[node_id].backward_ms > 0, node_id
    # Add is a function in the compiled module, not a module: no time of its own.
    assert costs["add"].forward_ms is None and costs["add"].time_ms is None
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1))
    assert costs["conv"].params == sum(p.numel() for p in model.parameters())
    table = format_table(list(costs.values()), "time", 3)
    assert len(table.splitlines()) == 2 + 3 + 1 and "time %" in table


def test_the_hooks_are_removed_and_the_timed_module_still_trains():
    # A second measurement of the same design times afresh; hooks left behind would double-count or raise.
    first = measure(RESIDUAL, batch_size=1, repeats=1, warmup=0)
    second = measure(RESIDUAL, batch_size=1, repeats=1, warmup=0)
    assert [c.node_id for c in first] == [c.node_id for c in second]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "designer", "profile", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_cli_counts_without_torch_and_times_with_it(tmp_path):
    path = tmp_path / "design.json"
    save(RESIDUAL, path)
    spy = (
        "import runpy, sys\n"
        f"sys.argv = ['designer', 'profile', {str(path)!r}, '--no-time', '--json']\n"
        "try:\n    runpy.run_module('designer', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO TORCH')\n"
    )
    out = subprocess.run([sys.executable, "-c", spy], capture_output=True, text=True)
    assert out.stdout.strip().endswith("NO TORCH"), out.stderr
    rows = json.loads(out.stdout[: out.stdout.rindex("]") + 1])
    assert [r["node_id"] for r in rows] == ["conv", "relu", "skip", "add", "flat", "fc"]
    assert rows[0]["memory"] == prod([8, 16, 16]) * 4 and rows[0]["forward_ms"] is None
    timed = _cli(str(path), "--device", "cpu", "--repeats", "1", "--batch-size", "2", "--top", "2")
    assert timed.returncode == 0, timed.stderr
    assert "median of 1 steps on cpu" in timed.stdout and "fwd ms" in timed.stdout
    assert _cli(str(path), "--device", "bogus").returncode == 2


def test_cli_refuses_a_broken_design(tmp_path):
    broken = graph(
        ("x", "Input", {"shape": [3, 4, 4]}, []),
        ("fc", "Linear", {"out_features": 2}, ["x"]),
        ("conv", "Conv2d", {"out_channels": 2, "kernel_size": 3}, ["fc"]),
    )
    path = tmp_path / "broken.json"
    save(broken, path)
    result = _cli(str(path), "--no-time")
    assert result.returncode == 1 and "node fc: error" in result.stderr
