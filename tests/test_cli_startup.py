"""The command line imports only the sub-command it runs, so `validate` and `summary` start fast."""

from __future__ import annotations

import subprocess
import sys

import pytest

from designer.cli import COMMAND_MODULES, build_parser, command_name


@pytest.mark.parametrize("module_name", COMMAND_MODULES)
def test_each_module_adds_the_command_it_is_named_for(module_name):
    name = command_name(module_name)
    parser = build_parser(only=name)
    choices = parser._subparsers._group_actions[0].choices  # where argparse keeps its sub-commands
    assert list(choices) == [name]


def test_validate_loads_no_other_command(tmp_path):
    code = (
        "import runpy, sys\n"
        "sys.argv = ['designer', 'validate', 'templates/small_cnn.json']\n"
        "try:\n    runpy.run_module('designer', run_name='__main__')\n"
        "except SystemExit as exit:\n    code = exit.code\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('designer.sweep', 'designer.training', "
        "'designer.insight', 'designer.cli.train', 'optuna', 'torch', 'tempfile', 'difflib', 'glob')))\n"
        "print(code, heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=_root())
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr


def test_help_still_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "designer", "--help"], capture_output=True, text=True, cwd=_root())
    assert out.returncode == 0
    for module_name in COMMAND_MODULES:
        assert command_name(module_name) in out.stdout


def _root() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent)
