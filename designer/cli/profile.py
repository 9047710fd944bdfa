"""``profile FILE``: what each layer costs: parameters, mult-adds, activation memory, and its measured forward and
backward time on this machine's CPU or GPU; the costliest layers first.

Exit codes: 0 measured, 1 the design has errors (they are listed), 2 unreadable file or unusable device.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from .common import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, SubCommands, open_design, report
from .summary import positive_int


def register(subparsers: SubCommands) -> None:
    """Add the ``profile`` sub-command."""
    from ..analysis.cost import METRICS

    p = subparsers.add_parser("profile", help="per-layer parameters, mult-adds, memory and measured time")
    p.add_argument("file")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: cuda when there is one)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="samples per timed step (default 8)")
    p.add_argument("--repeats", type=positive_int, default=5, help="timed steps; each layer's median is shown")
    p.add_argument("--sort", choices=sorted(METRICS), default="time", help="rank layers by this (default: time)")
    p.add_argument("--top", type=positive_int, help="show only the N costliest layers")
    p.add_argument("--no-time", action="store_true", help="count only: no torch, nothing run")
    p.add_argument("--json", action="store_true", help="print every layer's figures as JSON")
    p.set_defaults(run=cmd_profile)


def cmd_profile(args: argparse.Namespace) -> int:
    """Run ``profile``: count from the analysis, then time the compiled module unless ``--no-time``."""
    from ..analysis.cost import count, format_table, measure
    from ..analysis.validate import analyze

    graph, problems = open_design(args.file)
    analysis = analyze(graph)
    report(args.file, problems + [d for d in analysis.diagnostics if d.is_error])
    if any(d.is_error for d in problems) or not analysis.ok:
        return EXIT_INVALID
    if args.no_time:
        costs = count(analysis)
        sort = "mult_adds" if args.sort == "time" else args.sort
    else:
        device = _device(args.device)
        if device is None:
            print(f"profile: device {args.device!r} is not available here", file=sys.stderr)
            return EXIT_UNREADABLE
        costs = measure(graph, analysis, device=device, batch_size=args.batch_size, repeats=args.repeats)
        sort = args.sort
    if args.json:
        print(json.dumps([{**asdict(c), "time_ms": c.time_ms} for c in costs], indent=2))
        return EXIT_OK
    timing = "" if args.no_time else f", batch {args.batch_size}, median of {args.repeats} steps on {device}"
    print(f"{graph.name} ({args.file}){timing}; sorted by {sort}")
    print(format_table(costs, sort, args.top))
    return EXIT_OK


def _device(name: str) -> str | None:
    """The torch device ``name`` means here, or None when it is not available."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        return None
    if device.type == "cuda" and not torch.cuda.is_available():
        return None
    return None if device.type not in ("cpu", "cuda") else name
