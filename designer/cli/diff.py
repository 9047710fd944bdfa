"""``python -m designer diff A B``: what changed between two designs, node by node, with parameter and mult-add deltas.

A and B are project files or run folders (a plain run or a sweep trial: its ``project.json`` is read), so a design
compares against what a run trained. Exit codes as diff(1): 0 the same, 1 different, 2 unreadable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..model.graph import Graph
from .common import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, SubCommands, open_design


def register(sub: SubCommands) -> None:
    """Add the ``diff`` sub-command."""
    p = sub.add_parser(
        "diff",
        help="compare two designs (files, runs or sweep trials) node by node",
        description="List added, removed and changed nodes and parameters of B against A, with the parameter and "
        "mult-add deltas per node and in total.",
    )
    p.add_argument("a", help="project file or run folder")
    p.add_argument("b", help="project file or run folder")
    p.add_argument("--json", action="store_true", help="print the differences as JSON")
    p.set_defaults(run=cmd_diff)


def design_path(path: str) -> Path:
    """The project file behind ``path``: the file itself, or a run folder's ``project.json``."""
    from ..training.runs import PROJECT

    p = Path(path)
    return p / PROJECT if p.is_dir() else p


def read(path: str) -> Graph:
    """Load the design behind ``path``; content problems are printed, not fatal (a diff shows them)."""
    graph, problems = open_design(str(design_path(path)))
    for d in problems:
        print(f"{path}: {d}", file=sys.stderr)
    return graph


def cmd_diff(args: argparse.Namespace) -> int:
    """Compare ``args.a`` with ``args.b``; returns the exit code."""
    from ..model.fileformat import ProjectError
    from ..sweep.diff import diff, format_diff, to_json

    graphs = []
    for path in (args.a, args.b):
        try:
            graphs.append(read(path))
        except ProjectError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    result = diff(graphs[0], graphs[1])
    if args.json:
        print(json.dumps(to_json(result), indent=2))
    else:
        print(format_diff(result, args.a, args.b))
    return EXIT_OK if result.same else EXIT_INVALID
