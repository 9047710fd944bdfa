"""What every sub-command shares: exit codes, reading a design while gathering problems, reporting them."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Protocol

from ..model.diagnostics import Diagnostic
from ..model.fileformat import load
from ..model.graph import Graph

#: Exit codes of every command: 0 done, 1 the design (or the run) failed, 2 unreadable input or bad usage.
EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


class SubCommands(Protocol):
    """What ``argparse.ArgumentParser.add_subparsers()`` returns, as far as a sub-command needs it."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """Add the sub-command ``name`` and return its parser."""
        ...


def open_design(path: str) -> tuple[Graph, list[Diagnostic]]:
    """Load a project, gathering content problems instead of stopping at the first."""
    problems: list[Diagnostic] = []
    graph = load(path, error_handler=problems.append)
    return graph, problems


def report(path: str, diagnostics: list[Diagnostic]) -> None:
    """Print each diagnostic on its own line of stderr, prefixed with the file it is about."""
    for d in diagnostics:
        print(f"{path}: {d}", file=sys.stderr)
