"""The command line, one module per sub-command: ``python -m designer validate|summary|... FILE``.

Also installed as ``cnn-designer``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..model.fileformat import ProjectError
from .common import EXIT_UNREADABLE, last_resort

#: One module per sub-command, each adding itself through ``register(subparsers)``. They must not import torch at
#: module level: the parser is built for every command, including ``validate``, which never imports torch.
COMMAND_MODULES = (
    "validate",
    "summary",
    "export",
    "import_",
    "train",
    "insight",
    "sweep",
    "runs",
    "diff",
    "profile",
    "lr_find",
    "evaluate",
)


def build_parser() -> argparse.ArgumentParser:
    """The ``cnn-designer`` parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="cnn-designer", description="Design, check and summarise CNNs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{module_name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (2 for an unreadable project file, 130 when interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ProjectError as exc:
        print(f"{getattr(args, 'file', '')}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last net: one line and an exit code, never a traceback (issue 13)
        return last_resort(exc, getattr(args, "file", "") or args.command)


if __name__ == "__main__":
    sys.exit(main())
