"""Run folders: the exact project, the resolved configuration, ``metrics.csv``, checkpoints and a status file.

A run folder is everything needed to look at a run again or to resume it, whatever happened to the design since.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model.fileformat import write_atomic

PROJECT, CONFIG, METRICS, STATUS = "project.json", "config.json", "metrics.csv", "status.json"
LAST, BEST = "last.pt", "best.pt"
#: ``kind`` is ``step`` (training averages since the previous step row) or ``epoch`` (epoch averages, validation).
METRIC_COLUMNS = (
    "kind",
    "epoch",
    "step",
    "samples",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "lr",
    "samples_per_s",
    "elapsed_s",
)
#: Columns that depend on the machine's speed, not on the training; reproducibility compares the others.
TIMING_COLUMNS = ("samples_per_s", "elapsed_s")


def default_runs_root(project_path: str | os.PathLike[str] | None, design_name: str) -> Path:
    """Where runs of a design go: ``runs/<file stem>`` beside its project file, or ``./runs/<name>`` if unsaved."""
    if project_path:
        p = Path(project_path)
        return p.parent / "runs" / p.stem
    return Path.cwd() / "runs" / slug(design_name)


def slug(name: str) -> str:
    """``name`` made safe as a folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._") or "design"


def new_run_dir(root: str | os.PathLike[str]) -> Path:
    """A fresh folder under ``root`` named by the start time (``20250131-142501``, then ``-2``, ``-3``...)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stem = time.strftime("%Y%m%d-%H%M%S")
    for k in range(1, 1000):
        path = root / (stem if k == 1 else f"{stem}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot make a new run folder under {root}")


def versions() -> dict[str, str]:
    """Versions that decide what a run computes."""
    from importlib import metadata

    import numpy
    import torch

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:  # e.g. running from a checkout that was never installed
            return "unknown"

    # torchvision's version from its metadata: importing it only to read the version would cost seconds.
    return {
        "cnn-designer": version("cnn-designer"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": version("torchvision"),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    write_atomic(path, (json.dumps(data, indent=2, default=str) + "\n").encode("utf-8"))


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_status(run_dir: Path, status: str, **fields: Any) -> None:
    """Record how the run stands (``running``, ``paused``, ``completed``, ``stopped``, ``failed``)."""
    write_json(Path(run_dir) / STATUS, {"status": status, "updated": time.strftime("%Y-%m-%dT%H:%M:%S"), **fields})


class MetricsWriter:
    """Appends rows to ``metrics.csv``, flushed per row so a crash keeps every reported point.

    ``extra`` names the task's validation metrics beyond ``METRIC_COLUMNS`` (``val_miou``...), columns after them.
    """

    def __init__(self, path: Path, truncate_after_step: int | None = None, extra: tuple[str, ...] = ()):
        columns = METRIC_COLUMNS + tuple(c for c in extra if c not in METRIC_COLUMNS)
        if truncate_after_step is not None and path.exists():
            keep = [r for r in read_metrics(path) if int(r["step"]) <= truncate_after_step]
            _write_rows(path, keep, columns)
        new = not path.exists()
        self._file = open(path, "a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, fieldnames=columns, extrasaction="ignore")
        if new:
            self._writer.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (missing columns stay empty) and flush it."""
        self._writer.writerow({k: _fmt(v) for k, v in row.items()})
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value


def _write_rows(path: Path, rows: Iterable[dict[str, Any]], columns: tuple[str, ...]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The rows of a ``metrics.csv`` (or of the one in a run folder), as strings; empty when there is none."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def metric_series(rows: list[dict[str, str]], kind: str, column: str) -> tuple[list[float], list[float]]:
    """``(steps, values)`` of one column over the rows of one kind, leaving out empty cells."""
    xs, ys = [], []
    for r in rows:
        if r.get("kind") == kind and r.get(column) not in (None, ""):
            xs.append(float(r["step"]))
            ys.append(float(r[column]))
    return xs, ys


@dataclass(frozen=True)
class RunInfo:
    """One past run, as the runs list shows it."""

    path: Path
    status: str
    epoch: int
    best_val_accuracy: float | None
    data: str
    message: str = ""

    @property
    def name(self) -> str:
        """The run folder's name (its start time)."""
        return self.path.name


def list_runs(root: str | os.PathLike[str]) -> list[RunInfo]:
    """The run folders under ``root``, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = []
    for path in sorted((p for p in root.iterdir() if (p / CONFIG).exists()), reverse=True):
        try:
            status = read_json(path / STATUS) if (path / STATUS).exists() else {}
            config = read_json(path / CONFIG)
        except (OSError, ValueError):
            continue  # a folder being written or damaged is not worth failing the list for
        runs.append(
            RunInfo(
                path,
                status.get("status", "unknown"),
                int(status.get("epoch", 0)),
                status.get("best_val_accuracy"),
                config.get("config", {}).get("data", "?"),
                status.get("message", ""),
            )
        )
    return runs
