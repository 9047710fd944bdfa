"""Runs and trials as rows: what ``python -m designer runs`` prints and the Runs view lists, sorted by any metric.

A row is read from a run folder's own files (``status.json``, ``metrics.csv``, ``project.json``) and, for a sweep
trial, its ``trial.json``; nothing here needs Optuna or torch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..analysis.validate import analyze
from ..model.fileformat import ProjectError, load
from ..training import runs
from .trial import TRIAL_FILE

#: Metrics of a row, from the last epoch of ``metrics.csv`` (``best_val_acc`` is the best epoch's).
METRICS = ("val_acc", "val_loss", "train_acc", "train_loss", "best_val_acc")
#: Columns that sort smallest first by default; every other metric sorts largest first.
ASCENDING = ("val_loss", "train_loss", "params", "mult_adds", "name", "trial", "lr")
#: How deep under the folder given run folders are looked for (``runs/<design>/sweep-<study>/trial-0001``).
MAX_DEPTH = 4


@dataclass(frozen=True)
class RunRow:
    """One run folder (a sweep trial or a plain run) with its results, cost and, for a trial, its values."""

    path: Path
    name: str
    status: str
    epoch: int
    metrics: dict[str, float] = field(default_factory=dict)
    params: int | None = None
    mult_adds: int | None = None
    study: str | None = None
    trial: int | None = None
    state: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def project(self) -> Path:
        """The design this run trained (with a trial's values)."""
        return self.path / runs.PROJECT

    def get(self, key: str) -> Any:
        """A column's value: a metric, ``params``, ``mult_adds``, ``epoch``, ``trial``, ``name`` or a trial value."""
        if key in self.metrics:
            return self.metrics[key]
        if key in ("params", "mult_adds", "epoch", "trial", "name", "status", "state", "study"):
            return getattr(self, key)
        return self.values.get(key)


def find_run_dirs(root: str | os.PathLike[str]) -> list[Path]:
    """The run folders at or under ``root`` (folders holding a ``config.json``), in path order."""
    root = Path(root)
    found = []
    level = [root]
    for _ in range(MAX_DEPTH + 1):
        nxt = []
        for folder in level:
            if (folder / runs.CONFIG).is_file():
                found.append(folder)
            else:
                nxt.extend(sorted(p for p in _subfolders(folder)))
        level = nxt
    return sorted(found)


def _subfolders(folder: Path) -> Iterable[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return []


def read_row(path: Path, root: Path | None = None) -> RunRow:
    """The row of one run folder; missing files give empty cells, never an error."""
    status = _json(path / runs.STATUS)
    trial = _json(path / TRIAL_FILE)
    rows = [r for r in runs.read_metrics(path) if r.get("kind") == "epoch"]
    metrics = _last_metrics(rows)
    params, mult_adds = trial.get("params"), trial.get("mult_adds")
    if params is None:
        params, mult_adds = _cost(path / runs.PROJECT)
    name = str(path.relative_to(root)) if root is not None and path != root and path.is_relative_to(root) else path.name
    return RunRow(
        path=path,
        name=name,
        status=str(status.get("status", "unknown")),
        epoch=int(status.get("epoch", 0) or 0),
        metrics=metrics,
        params=params,
        mult_adds=mult_adds,
        study=trial.get("study"),
        trial=trial.get("number"),
        state=trial.get("state"),
        values=dict(trial.get("values", {})),
    )


def collect(root: str | os.PathLike[str]) -> list[RunRow]:
    """Every run and trial at or under ``root``."""
    root = Path(root)
    return [read_row(p, root) for p in find_run_dirs(root)]


def _json(path: Path) -> dict[str, Any]:
    try:
        data = runs.read_json(path)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _last_metrics(rows: list[dict[str, str]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in METRICS[:4]:
        cells = [_float(r.get(key)) for r in rows]
        values = [v for v in cells if v is not None]
        if values:
            out[key] = values[-1]
        if key == "val_acc" and values:
            out["best_val_acc"] = max(values)
    return out


def _float(cell: str | None) -> float | None:
    try:
        value = float(cell) if cell not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


#: Costs of run designs already analysed, by path and modification time: a run's project.json never changes, and the
#: Runs view lists the same runs again on every refresh.
_COSTS: dict[tuple[Path, int], tuple[int | None, int | None]] = {}


def _cost(project: Path) -> tuple[int | None, int | None]:
    try:
        key = (project, project.stat().st_mtime_ns)
        if key not in _COSTS:
            analysis = analyze(load(project))
            _COSTS[key] = (analysis.total_params, analysis.total_mult_adds) if analysis.ok else (None, None)
    except (ProjectError, OSError):
        return None, None
    return _COSTS[key]


def columns(rows: Sequence[RunRow]) -> list[str]:
    """The columns worth showing for ``rows``: metrics any row has, the costs, then every trial value key."""
    shown = [m for m in METRICS if any(m in r.metrics for r in rows)]
    values = list(dict.fromkeys(k for r in rows for k in r.values))
    return ["name", "trial", "state", "status", "epoch", *shown, "params", "mult_adds", *values]


def sort_rows(rows: Iterable[RunRow], key: str, descending: bool | None = None) -> list[RunRow]:
    """``rows`` sorted by a column; rows without a value go last. ``descending`` defaults to the column's sense."""
    if descending is None:
        descending = key not in ASCENDING
    have = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    try:
        have.sort(key=lambda r: r.get(key), reverse=descending)
    except TypeError:  # a column mixing numbers and text (a choice of both): compare as text
        have.sort(key=lambda r: str(r.get(key)), reverse=descending)
    return have + missing


def best(rows: Iterable[RunRow], key: str = "val_acc", descending: bool | None = None) -> RunRow | None:
    """The best run by a column, among those that finished (completed, or a complete trial) when any did."""
    rows = list(rows)
    done = [r for r in rows if r.status == "completed" and r.state in (None, "complete")]
    ranked = sort_rows(done or rows, key, descending)
    return ranked[0] if ranked and ranked[0].get(key) is not None else None


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: nothing cheaper (x) is at least as good (y), nothing as cheap is
    better. Sorted by x."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best_y = -math.inf
    for i in order:
        if points[i][1] > best_y:
            front.append(i)
            best_y = points[i][1]
    return front


def format_table(rows: Sequence[RunRow], cols: Sequence[str] | None = None) -> str:
    """A plain text table, one line per row, columns aligned."""
    cols = list(cols or columns(rows))
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(c), *(len(line[k]) for line in cells)]) for k, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
    for line in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip())
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
