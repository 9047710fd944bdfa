"""Memory budgets are checked before anything is allocated; counts the machine cannot serve are refused (issue 13)."""

from __future__ import annotations

import pytest

from designer import analyze
from designer.analysis.budgets import fmt_bytes, footprint, hard_limit, parse_size
from designer.training.config import ConfigError, TrainConfig

from .helpers import chain

#: 1.57 G parameters (6 GB of weights): it validated silently and its export went past 5 GB of memory.
HUGE_FC = chain([1570], ("Linear", {"out_features": 1_000_000}))


def test_footprint_counts_weights_and_outputs_per_sample():
    g = chain([3, 8, 8], ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}), ("ReLU", {}))
    fp = footprint(analyze(g).info.values())
    assert fp.param_bytes == (4 * 3 * 9 + 4) * 4
    assert fp.activation_bytes == 2 * 4 * 8 * 8 * 4  # the conv's and the ReLU's outputs; the Input is the data
    assert fp.top_params == ("n1", fp.param_bytes) and fp.top_activation == ("n1", 4 * 8 * 8 * 4)
    assert fp.bytes_for(batch=10, training=True) == fp.param_bytes * 4 + fp.activation_bytes * 10 * 2


def test_the_validator_warns_above_the_budget_naming_the_node(monkeypatch):
    analysis = analyze(HUGE_FC)
    warned = {d.code: d for d in analysis.diagnostics if not d.is_error}
    assert analysis.ok and warned["cost.memory"].node_id == "n1" and "5.86 GiB" in warned["cost.memory"].message
    assert warned["export.onnx_too_large"].node_id == "n1"
    monkeypatch.setenv("CNN_DESIGNER_MEMORY_BUDGET", "8G")
    assert "cost.memory" not in {d.code for d in analyze(HUGE_FC).diagnostics}


@pytest.mark.slow
def test_compile_export_and_train_refuse_above_the_hard_limit_before_allocating(monkeypatch, tmp_path):
    from designer.compiler import CompileError, compile_graph
    from designer.export import export
    from designer.training.setup import TrainingError, build_model

    monkeypatch.setenv("CNN_DESIGNER_MEMORY_LIMIT", "1G")
    for attempt in (lambda: compile_graph(HUGE_FC), lambda: export(HUGE_FC, tmp_path / "m.onnx", "onnx")):
        with pytest.raises(CompileError) as err:
            attempt()
        (problem,) = err.value.diagnostics
        assert problem.code == "cost.over_memory" and problem.node_id == "n1" and "1 GiB" in problem.message
    small = chain([3, 32, 32], ("Flatten", {}), ("Linear", {"out_features": 10}))
    with pytest.raises(TrainingError) as err:
        build_model(small, seed=0, batch=64, data_samples=10**7)  # 10M generated images: 114 GiB
    assert err.value.code == "cost.over_memory" and "data alone" in str(err.value)
    assert not list(tmp_path.iterdir())


def test_the_hard_limit_follows_the_memory_available(monkeypatch):
    monkeypatch.delenv("CNN_DESIGNER_MEMORY_LIMIT", raising=False)
    limit = hard_limit()
    assert limit is not None and 0 < limit
    with open("/proc/meminfo", encoding="ascii") as f:
        total = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    assert limit < total


def test_sizes_parse_and_print():
    assert [parse_size(t) for t in ("2G", "512 MiB", "1000", "1.5k", "lots", "")] == [
        2 * 2**30,
        512 * 2**20,
        1000,
        1536,
        None,
        None,
    ]
    assert [fmt_bytes(n) for n in (10, 1536, 6 * 2**30)] == ["10 B", "1.5 KiB", "6 GiB"]


@pytest.mark.parametrize(
    "setting, key",
    [
        ({"workers": 1_000_000}, "workers"),  # started forking before anything failed
        ({"workers": -5}, "workers"),
        ({"batch_size": 10**9}, "batch_size"),
        ({"samples": 10**12}, "samples"),
        ({"lr": 1e300}, "lr"),  # a RuntimeError traceback from inside Adam
    ],
)
def test_counts_the_machine_cannot_serve_are_config_errors(setting, key):
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict(setting)
    assert err.value.key == key


def test_a_design_too_big_for_torchs_exporters_to_be_quick_says_so_once():
    from designer.analysis.budgets import SLOW_EXPORT_NODES

    small = chain([8], *[("ReLU", {})] * (SLOW_EXPORT_NODES - 2))  # with its Input: one node short
    assert "export.slow" not in {d.code for d in analyze(small).diagnostics}
    big = chain([8], *[("ReLU", {})] * (SLOW_EXPORT_NODES - 1))
    analysis = analyze(big)
    (slow,) = [d for d in analysis.diagnostics if d.code == "export.slow"]
    assert analysis.ok and not slow.is_error and f"{SLOW_EXPORT_NODES:,} nodes" in slow.message
    assert "Python source" in slow.hint
