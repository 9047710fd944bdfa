"""``python -m designer runs``: run folders and sweep trials as rows, sorted by any column, the best design, Pareto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from designer import dumps
from designer.cli import main
from designer.sweep.table import best, collect, columns, format_table, pareto_front, sort_rows
from designer.training import runs
from tests.helpers import chain


def design(out_channels: int = 4):
    conv = ("Conv2d", {"out_channels": out_channels, "kernel_size": 3})
    return chain([1, 8, 8], conv, ("Flatten", {}), ("Linear", {"out_features": 10}), name="r")


def make_run(folder: Path, epochs: list[tuple[float, float]], status="completed", trial=None, channels=4) -> Path:
    """A run folder written with the engine's own writers: (val_acc, val_loss) per epoch."""
    folder.mkdir(parents=True)
    (folder / runs.PROJECT).write_text(dumps(design(channels)))
    runs.write_json(folder / runs.CONFIG, {"config": {"data": "shapes"}})
    runs.write_status(folder, status, epoch=len(epochs))
    writer = runs.MetricsWriter(folder / runs.METRICS)
    for k, (acc, loss) in enumerate(epochs, start=1):
        writer.write({"kind": "step", "epoch": k, "step": k * 10 - 5, "train_loss": 9.0})
        writer.write({"kind": "epoch", "epoch": k, "step": k * 10, "val_acc": acc, "val_loss": loss})
    writer.close()
    if trial is not None:
        runs.write_json(folder / "trial.json", trial)
    return folder


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "runs"
    make_run(root / "plain" / "20250101-000000", [(0.3, 2.0), (0.5, 1.5)])
    sweep = root / "plain" / "sweep-s"
    trial = dict(study="s", params=999, mult_adds=5)
    make_run(
        sweep / "trial-0000", [(0.6, 1.2)], trial={**trial, "number": 0, "state": "complete", "values": {"lr": 0.1}}
    )
    make_run(
        sweep / "trial-0001", [(0.4, 1.0)], trial={**trial, "number": 1, "state": "complete", "values": {"lr": 0.01}}
    )
    make_run(
        sweep / "trial-0002",
        [(0.9, 0.5)],
        status="stopped",
        trial={**trial, "number": 2, "state": "pruned", "values": {"lr": 0.5}},
    )
    (root / "notes").mkdir()
    return root


def names(rows):
    return [r.name for r in rows]


def test_rows_read_the_run_folders_own_files(tree):
    rows = {r.name: r for r in collect(tree)}
    assert sorted(rows) == [
        "plain/20250101-000000",
        "plain/sweep-s/trial-0000",
        "plain/sweep-s/trial-0001",
        "plain/sweep-s/trial-0002",
    ]
    plain = rows["plain/20250101-000000"]
    # the last epoch's numbers (step rows are averages within an epoch, not results)
    assert plain.metrics == {"val_acc": 0.5, "val_loss": 1.5, "best_val_acc": 0.5}
    # the cost of a plain run comes from its design: Conv2d 1->4 3x3 (40) and Linear 144->10 (1,450)
    assert (plain.params, plain.mult_adds) == (40 + 1450, 40 * 36 + 1450)
    assert (plain.trial, plain.values) == (None, {})
    t = rows["plain/sweep-s/trial-0000"]
    assert (t.trial, t.state, t.values, t.params) == (0, "complete", {"lr": 0.1}, 999)
    assert columns(collect(tree))[-1] == "lr"


def test_sorting_by_any_column_in_its_natural_sense(tree):
    rows = collect(tree)
    assert names(sort_rows(rows, "val_acc"))[0].endswith("trial-0002")  # accuracies: largest first
    assert names(sort_rows(rows, "val_loss"))[:2] == ["plain/sweep-s/trial-0002", "plain/sweep-s/trial-0001"]
    assert names(sort_rows(rows, "val_loss", descending=True))[0] == "plain/20250101-000000"
    by_lr = sort_rows(rows, "lr")
    assert [r.values.get("lr") for r in by_lr] == [0.01, 0.1, 0.5, None]  # a plain run has no lr: last


def test_the_best_is_among_finished_trials_not_a_pruned_one(tree):
    assert best(collect(tree)).name == "plain/sweep-s/trial-0000"
    assert best(collect(tree), "val_loss").name == "plain/sweep-s/trial-0001"


def test_cli_lists_a_table_and_prints_the_best_design(tree, capsys):
    assert main(["runs", str(tree), "--sort", "val_loss"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "trial", "state"]
    assert lines[1].startswith("plain/sweep-s/trial-0002") and len(lines) == 5
    assert main(["runs", str(tree), "--best"]) == 0
    assert capsys.readouterr().out.strip() == str(tree / "plain" / "sweep-s" / "trial-0000" / "project.json")
    assert main(["runs", str(tree), "--json", "--sort", "lr", "--desc"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["values"].get("lr") for d in data] == [0.5, 0.1, 0.01, None]


def test_cli_on_a_missing_or_empty_folder(tmp_path, capsys):
    assert main(["runs", str(tmp_path / "nope")]) == 2
    assert main(["runs", str(tmp_path)]) == 1
    assert "no runs here" in capsys.readouterr().err


def test_a_table_aligns_its_columns(tree):
    text = format_table(sort_rows(collect(tree), "name"))
    lines = text.splitlines()
    col = lines[0].index("val_acc")
    assert all(line[col - 2 : col] == "  " for line in lines)


@pytest.mark.parametrize(
    ("points", "front"),
    [
        ([(10, 0.5), (20, 0.7), (15, 0.4), (30, 0.7), (5, 0.1)], [4, 0, 1]),
        ([(1, 0.5), (1, 0.6), (2, 0.6)], [1]),
        ([], []),
    ],
)
def test_pareto_front_keeps_what_nothing_cheaper_beats(points, front):
    assert pareto_front(points) == front
