"""``summary FILE``: per-layer output shapes, parameters and mult-adds as torchinfo prints them; never imports torch."""

from __future__ import annotations

import argparse
import json

from .common import EXIT_INVALID, EXIT_OK, SubCommands, open_design, report


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(subparsers: SubCommands) -> None:
    """Add the ``summary`` sub-command."""
    p = subparsers.add_parser("summary", help="per-layer output shapes, parameters and mult-adds")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--batch-size", type=positive_int, default=1, help="batch size for mult-adds and memory")
    p.add_argument("--explain", action="store_true", help="print the shape and parameter formulas under each row")
    p.set_defaults(run=cmd_summary)


def cmd_summary(args: argparse.Namespace) -> int:
    """Run ``summary``: the table (or JSON), then the diagnostics."""
    from ..analysis import summary
    from ..analysis.validate import analyze

    graph, problems = open_design(args.file)
    analysis = analyze(graph)
    if problems:
        analysis.diagnostics[:0] = problems
    if args.json:
        print(json.dumps(summary.to_json(analysis, args.batch_size), indent=2))
    else:
        print(f"{graph.name} ({args.file})")
        print(summary.format_text(analysis, args.batch_size, explain=args.explain))
        report(args.file, analysis.diagnostics)
    return EXIT_OK if analysis.ok else EXIT_INVALID
