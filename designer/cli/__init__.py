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

#: One module per sub-command, each adding itself through ``register(subparsers)``; ``main`` imports only the module of
#: the command it runs (``--help`` imports them all). They must not import torch at module level.
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
    "predict",
)


def command_name(module_name: str) -> str:
    """The sub-command a module of ``COMMAND_MODULES`` adds: ``import_`` adds ``import``, ``lr_find`` ``lr-find``."""
    return module_name.rstrip("_").replace("_", "-")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``cnn-designer`` parser with every sub-command, or with the one named ``only``."""
    parser = argparse.ArgumentParser(prog="cnn-designer", description="Design, check and summarise CNNs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        if only is None or command_name(module_name) == only:
            importlib.import_module(f"{__package__}.{module_name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (2 for an unreadable project file, 130 when interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Import only the named command's module: `validate` and `summary` need none of what `sweep` or `train` load.
    named = argv[0] if argv and argv[0] in {command_name(m) for m in COMMAND_MODULES} else None
    args = build_parser(named).parse_args(argv)
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
