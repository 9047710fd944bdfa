"""What every sub-command shares: exit codes, reading a design while gathering problems, reporting them."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Protocol

from ..model.diagnostics import Diagnostic, DiagnosticsError
from ..model.fileformat import load
from ..model.graph import Graph

#: Exit codes of every command: 0 done, 1 the design (or the run) failed, 2 unreadable input or bad usage.
EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


class SubCommands(Protocol):
    """What ``argparse.ArgumentParser.add_subparsers()`` returns, as far as a sub-command needs it."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """Add the sub-command ``name`` and return its parser."""
        ...


#: Failure codes (of a run, a dataset, a checkpoint) that mean something could not be read or written: exit 2.
UNUSABLE_CODES = (
    "io.",
    "data.missing",
    "data.unreadable",
    "weights.unreadable",
    "run.",
    "checkpoint.",
    "sweep.storage",
)


def exit_for(code: str) -> int:
    """The exit code of a failure with diagnostic ``code``: 2 when a file, folder or dataset cannot be read or
    written, else 1 (the design, the data or a setting is wrong)."""
    return EXIT_UNREADABLE if code.startswith(UNUSABLE_CODES) else EXIT_INVALID


def open_design(path: str) -> tuple[Graph, list[Diagnostic]]:
    """Load a project, gathering content problems instead of stopping at the first."""
    problems: list[Diagnostic] = []
    graph = load(path, error_handler=problems.append)
    return graph, problems


def report(path: str, diagnostics: list[Diagnostic]) -> None:
    """Print each diagnostic on its own line of stderr, prefixed with the file it is about."""
    for d in diagnostics:
        print(f"{path}: {d}", file=sys.stderr)


def last_resort(exc: Exception, where: str) -> int:
    """Report an exception no command caught as one line per problem; return 1 (the design or data is wrong) or 2
    (a file or folder that cannot be read or written). ``CNN_DESIGNER_TRACEBACK=1`` re-raises it for a bug report."""
    if os.environ.get("CNN_DESIGNER_TRACEBACK"):
        raise exc
    if isinstance(exc, DiagnosticsError):
        report(where, [d for d in exc.diagnostics if d.is_error] or exc.diagnostics)
        return EXIT_INVALID
    if isinstance(exc, OSError):
        name = os.fspath(exc.filename) if exc.filename else where
        print(f"{name}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    if isinstance(exc, MemoryError):
        print(f"{where}: out of memory", file=sys.stderr)
        return EXIT_INVALID
    text = " ".join(str(exc).split())[:300]
    print(
        f"{where}: error: {type(exc).__name__}: {text} "
        "(unexpected: please report it; CNN_DESIGNER_TRACEBACK=1 shows where it happened)",
        file=sys.stderr,
    )
    return EXIT_INVALID
