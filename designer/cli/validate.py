"""``validate FILE``: check a design; exit 0 valid, 1 errors, 2 unreadable file. Never imports torch."""

from __future__ import annotations

import argparse
import json

from .common import EXIT_INVALID, EXIT_OK, SubCommands, open_design, report


def register(subparsers: SubCommands) -> None:
    """Add the ``validate`` sub-command."""
    p = subparsers.add_parser("validate", help="check a design: exit 0 valid, 1 errors, 2 unreadable file")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print the diagnostics as JSON")
    p.set_defaults(run=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    """Run ``validate``: one line per problem, then a one-line verdict."""
    from ..analysis.validate import analyze

    graph, problems = open_design(args.file)
    analysis = analyze(graph)
    diagnostics = problems + analysis.diagnostics
    valid = not any(d.is_error for d in diagnostics)
    if args.json:
        print(
            json.dumps({"file": args.file, "valid": valid, "diagnostics": [d.to_json() for d in diagnostics]}, indent=2)
        )
    else:
        report(args.file, diagnostics)
        if valid:
            warn = sum(1 for d in diagnostics if not d.is_error)
            print(
                f"{args.file}: valid: {len(graph)} nodes, {analysis.total_params:,} parameters, "
                f"{analysis.total_mult_adds:,} mult-adds" + (f", {warn} warning(s)" if warn else "")
            )
    return EXIT_OK if valid else EXIT_INVALID
