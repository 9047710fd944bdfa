"""``python -m designer lr-find FILE``: the learning-rate range test, as a CSV and a plot in the terminal.

The settings (data, optimiser, batch size, clipping) are the project's ``training`` section with the flags given
here on top. The plot is text: the core draws no charts (the Training dock plots the same CSV with pyqtgraph).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..training.config import OPTIMIZERS
from .common import EXIT_INVALID, EXIT_OK, SubCommands, exit_for, open_design, report

if TYPE_CHECKING:
    from ..training.lr_find import LrFindResult

CSV_NAME = "lr_find.csv"


def register(sub: SubCommands) -> None:
    """Add the ``lr-find`` sub-command."""
    p = sub.add_parser(
        "lr-find",
        help="learning-rate range test: loss against an exponentially rising lr, and a proposed lr",
        description="Train FILE for STEPS steps with the learning rate rising from START to END; write the curve "
        "as CSV, plot it and propose a learning rate (the steepest descent of the smoothed loss).",
    )
    p.add_argument("file")
    p.add_argument("--start", type=float, default=1e-7, help="first learning rate (1e-7)")
    p.add_argument("--end", type=float, default=10.0, help="last learning rate (10)")
    p.add_argument("--steps", type=int, default=100, help="steps, one per learning rate (100)")
    p.add_argument("--data", help="shapes | mnist:ROOT | fashion-mnist:ROOT | cifar10:ROOT | folder:PATH")
    p.add_argument("--samples", type=int, help="samples drawn for the shapes dataset")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--clip-grad-norm", type=float, help="clip gradients to this total norm (0: off)")
    p.add_argument("--device", help="auto, cpu, cuda, mps")
    p.add_argument("--workers", type=int, help="DataLoader workers (-1 picks for the device)")
    p.add_argument("-o", "--out", default=".", help="folder for lr_find.csv (default: here)")
    p.set_defaults(run=cmd_lr_find)


def cmd_lr_find(args: argparse.Namespace) -> int:
    """Run the test, write the CSV, print the plot and the proposal."""
    from ..analysis.validate import analyze
    from ..training.config import read_section
    from ..training.data import DataError
    from ..training.lr_find import find_lr
    from ..training.setup import TrainingError

    graph, problems = open_design(args.file)
    errors = [d for d in problems + analyze(graph).diagnostics if d.is_error]
    if errors:
        report(args.file, errors)
        return EXIT_INVALID
    try:
        flags = ("data", "samples", "batch_size", "optimizer", "clip_grad_norm", "device", "workers")
        config = read_section(graph, ignored=[]).replace(**{k: getattr(args, k) for k in flags})
        result = find_lr(graph, config, start=args.start, end=args.end, steps=args.steps)
    except ValueError as exc:  # ConfigError, or a range that does not rise
        print(f"{args.file}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except (TrainingError, DataError) as exc:
        print(f"{args.file}: {exc.message}" + (f" (hint: {exc.hint})" if exc.hint else ""), file=sys.stderr)
        return exit_for(exc.code)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / CSV_NAME).write_text(result.to_csv(), encoding="utf-8")
    print(text_plot(result))
    print(summary_line(result))
    print(f"curve: {out / CSV_NAME}")
    return EXIT_OK


def summary_line(result: LrFindResult) -> str:
    """What the test found, in one line."""
    p = result.proposal
    ended = {"diverged": "the loss diverged", "nonfinite": "the loss became NaN", "done": "all steps ran"}
    why = f"{len(result.lrs)} steps, {ended.get(result.ended, result.ended)}"
    if p.lr is None:
        return f"no proposal ({why})"
    steep = f"steepest descent at {p.steepest:.2g}, " if p.steepest is not None else "no descent, "
    return f"proposed lr {p.lr:.2g} ({steep}lowest loss at {p.minimum:.2g}; {why})"


def text_plot(result: LrFindResult, width: int = 64, height: int = 14) -> str:
    """The smoothed loss against log(lr) in characters; ``|`` marks the proposed learning rate."""
    pts = [(math.log10(lr), s) for lr, s in zip(result.lrs, result.smoothed) if math.isfinite(s)]
    if len(pts) < 2:
        return "(too few points to plot)"
    x0, x1 = pts[0][0], pts[-1][0]
    y0, y1 = min(s for _, s in pts), max(s for _, s in pts)
    grid = [[" "] * width for _ in range(height)]

    def col(x: float) -> int:
        return min(width - 1, int((x - x0) / max(x1 - x0, 1e-12) * (width - 1) + 0.5))

    if result.proposal.lr is not None and x0 <= math.log10(result.proposal.lr) <= x1:
        for row in grid:
            row[col(math.log10(result.proposal.lr))] = "|"
    for x, s in pts:
        grid[height - 1 - min(height - 1, int((s - y0) / max(y1 - y0, 1e-12) * (height - 1) + 0.5))][col(x)] = "*"
    lines = [f"{y1:9.4g} ┤" + "".join(grid[0])]
    lines += ["          │" + "".join(r) for r in grid[1:-1]]
    lines.append(f"{y0:9.4g} ┤" + "".join(grid[-1]))
    lines.append("          └" + "─" * width)
    left, right = f"lr {10**x0:.0e}", f"{10**x1:.0e}"
    lines.append(" " * 11 + left + " " * max(1, width - len(left) - len(right)) + right)
    return "\n".join(lines)
