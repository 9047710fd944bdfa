"""Command line: ``python -m designer validate|summary|... FILE`` (also installed as ``cnn-designer``)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from typing import Sequence

from .diagnostics import Diagnostic
from .fileformat import ProjectError, load
from .graph import Graph

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


def _open(path: str) -> tuple[Graph, list[Diagnostic]]:
    """Load a project, gathering content problems instead of stopping at the first."""
    problems: list[Diagnostic] = []
    graph = load(path, error_handler=problems.append)
    return graph, problems


def _report(path: str, diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        print(f"{path}: {d}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    from .validate import analyze

    graph, problems = _open(args.file)
    analysis = analyze(graph)
    diagnostics = problems + analysis.diagnostics
    valid = not any(d.is_error for d in diagnostics)
    if args.json:
        print(json.dumps({"file": args.file, "valid": valid, "diagnostics": [d.to_json() for d in diagnostics]},
                         indent=2))
    else:
        _report(args.file, diagnostics)
        if valid:
            warn = sum(1 for d in diagnostics if not d.is_error)
            print(f"{args.file}: valid: {len(graph)} nodes, {analysis.total_params:,} parameters, "
                  f"{analysis.total_mult_adds:,} mult-adds" + (f", {warn} warning(s)" if warn else ""))
    return EXIT_OK if valid else EXIT_INVALID


def cmd_summary(args: argparse.Namespace) -> int:
    from . import summary
    from .validate import analyze

    graph, problems = _open(args.file)
    analysis = analyze(graph)
    if problems:
        analysis.diagnostics[:0] = problems
    if args.json:
        print(json.dumps(summary.to_json(analysis, args.batch_size), indent=2))
    else:
        print(f"{graph.name} ({args.file})")
        print(summary.format_text(analysis, args.batch_size, explain=args.explain))
        _report(args.file, analysis.diagnostics)
    return EXIT_OK if analysis.ok else EXIT_INVALID


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnn-designer", description="Design, check and summarise CNNs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    v = sub.add_parser("validate", help="check a design: exit 0 valid, 1 errors, 2 unreadable file")
    v.add_argument("file")
    v.add_argument("--json", action="store_true", help="print the diagnostics as JSON")
    v.set_defaults(run=cmd_validate)
    s = sub.add_parser("summary", help="per-layer output shapes, parameters and mult-adds")
    s.add_argument("file")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.add_argument("--batch-size", type=_positive, default=1, help="batch size for mult-adds and memory")
    s.add_argument("--explain", action="store_true", help="print the shape and parameter formulas under each row")
    s.set_defaults(run=cmd_summary)
    for module_name in COMMAND_MODULES:
        if importlib.util.find_spec(f"designer.{module_name}") is not None:
            importlib.import_module(f"designer.{module_name}").register(sub)
    return parser


#: Modules that contribute sub-commands, each through ``register(subparsers)``. They must not import torch at module
#: level: the parser is built for every command, including ``validate``, which never imports torch.
COMMAND_MODULES = ("cli_export", "cli_import", "cli_train", "cli_insight")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ProjectError as exc:
        print(f"{getattr(args, 'file', '')}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
