"""``python -m designer runs DIR``: the runs and sweep trials under DIR as a table, sorted by any column.

``--best`` prints the path of the best run's design instead (``project.json`` with a trial's values), ready for
``export``, ``insight`` or ``train --init-weights``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, SubCommands

if TYPE_CHECKING:
    from ..sweep.table import RunRow


def register(sub: SubCommands) -> None:
    """Add the ``runs`` sub-command."""
    p = sub.add_parser(
        "runs",
        help="list the runs and sweep trials under a folder, sorted by a metric",
        description="List the run folders under DIR (plain runs and sweep trials) with results, cost and values.",
    )
    p.add_argument("dir", help="a runs folder, a sweep folder or one run folder")
    p.add_argument(
        "--sort",
        default="val_acc",
        metavar="COLUMN",
        help="val_acc (default), val_loss, train_acc, train_loss, best_val_acc, params, mult_adds, epoch, trial, "
        "name, or a searched value such as lr",
    )
    order = p.add_mutually_exclusive_group()
    order.add_argument("--asc", dest="descending", action="store_false", default=None, help="smallest first")
    order.add_argument("--desc", dest="descending", action="store_true", help="largest first")
    p.add_argument("--best", action="store_true", help="print only the best run's design path (by --sort)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(run=cmd_runs)


def cmd_runs(args: argparse.Namespace) -> int:
    """List the runs under ``args.dir``; returns the exit code."""
    from ..sweep.table import best, collect, format_table, sort_rows

    root = Path(args.dir)
    if not root.is_dir():
        print(f"{args.dir}: error: not a folder", file=sys.stderr)
        return EXIT_UNREADABLE
    rows = collect(root)
    if not rows:
        print(f"{args.dir}: no runs here (a run folder holds config.json)", file=sys.stderr)
        return EXIT_INVALID
    if args.best:
        top = best(rows, args.sort, args.descending)
        if top is None:
            print(f"{args.dir}: no run has a value for {args.sort!r}", file=sys.stderr)
            return EXIT_INVALID
        print(top.project)
        return EXIT_OK
    rows = sort_rows(rows, args.sort, args.descending)
    if args.json:
        print(json.dumps([_as_json(r) for r in rows], indent=2, default=str))
    else:
        print(format_table(rows))
    return EXIT_OK


def _as_json(row: RunRow) -> dict[str, Any]:
    data = asdict(row)
    data["path"] = str(row.path)
    return data
