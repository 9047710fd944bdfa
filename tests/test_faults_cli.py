"""Every command, given a fault, ends with clear lines on stderr and exit 1 or 2, never a traceback (issue 13).

The walk is generic: each sub-command in ``COMMAND_MODULES`` is called with its positional arguments pointing at a
missing file, a folder, a binary file and a malformed design; the ones that write are called again with writes failing
as a full disk or a read-only folder would.
"""

from __future__ import annotations

import argparse
import errno
from pathlib import Path

import pytest

from designer.cli import build_parser, main

from .conftest import EXAMPLE
from .faults import FaultInjector, leftovers


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


COMMANDS = _commands()


def _argv(name: str, target: str, out: Path) -> list[str]:
    """``name`` with every positional argument set to ``target`` and every required option given a usable value."""
    argv = [name]
    for action in COMMANDS[name]._actions:
        if not action.option_strings and action.dest not in ("help",):
            argv.append(target)
        elif action.required:
            value = action.choices and next(iter(action.choices)) or str(out)
            argv += [action.option_strings[-1], str(value)]
    return argv


def _faulty_inputs(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "folder.json"
    folder.mkdir()
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\x00\x9f\xff binary")
    malformed = tmp_path / "malformed.json"
    malformed.write_text(EXAMPLE.replace('"Conv2d"', '"Conv9d"').replace('"format"', '"fromat"', 0), encoding="utf-8")
    bad_design = tmp_path / "bad_design.json"
    bad_design.write_text(EXAMPLE.replace('"Conv2d"', '"Conv9d"'), encoding="utf-8")
    return {
        "missing": tmp_path / "missing.json",
        "folder": folder,
        "binary": binary,
        "bad_design": bad_design,
    }


#: Exits other than 1 or 2 that a command documents: ``diff`` compares designs whatever their errors.
ALLOWED = {("diff", "bad_design"): 0}


def _assert_clean(code: int, err: str, context: str, allowed: int = 1) -> None:
    assert code in (1, 2, allowed), (context, code, err)
    if code == 0:
        return
    assert "Traceback" not in err and err.strip(), (context, err)
    assert all(line.strip() for line in err.strip().splitlines()), (context, err)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_fails_cleanly_on_unreadable_input(name, tmp_path, capsys):
    for what, target in _faulty_inputs(tmp_path).items():
        argv = _argv(name, str(target), tmp_path / "out" / "result")
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse refuses the arguments themselves: exit 2 with a usage line
            code = int(exc.code or 0)
        _, err = capsys.readouterr()
        _assert_clean(code, err, f"{what}: {' '.join(argv)}", ALLOWED.get((name, what), 1))


@pytest.mark.slow
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_writing_commands_report_a_full_disk_or_read_only_folder(code, tmp_path, monkeypatch, capsys):
    design = tmp_path / "design.json"
    design.write_text(EXAMPLE, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    fast = ["--samples", "40", "--batch-size", "8", "--epochs", "1", "--device", "cpu", "--workers", "0", "--quiet"]
    calls = [
        ["export", str(design), "-f", "python", "-o", str(out / "m.py")],
        ["export", str(design), "-f", "checkpoint", "-o", str(out / "m.pt")],
        ["train", str(design), "--out", str(out / "run"), *fast],
        ["insight", str(design), "--method", "filters", "-o", str(out / "f.png")],
    ]
    injector = FaultInjector(monkeypatch, out, code)
    injector.armed = True
    for argv in calls:
        result = main(argv)
        _, err = capsys.readouterr()
        _assert_clean(result, err, " ".join(argv))
        assert injector.hits and leftovers(out) == [], argv


@pytest.mark.slow
def test_train_reports_a_missing_dataset_and_a_killed_worker(tmp_path, monkeypatch, capsys):
    import os
    import signal

    from designer.training import data

    from .test_data import write_folder

    design = tmp_path / "design.json"
    design.write_text(EXAMPLE, encoding="utf-8")
    fast = ["--batch-size", "4", "--epochs", "1", "--device", "cpu", "--quiet", "--out", str(tmp_path / "run")]
    code = main(["train", str(design), "--data", f"folder:{tmp_path / 'nowhere'}", "--workers", "0", *fast])
    _, err = capsys.readouterr()
    _assert_clean(code, err, "missing dataset")
    assert "nowhere" in err and code == 2  # a dataset that cannot be read: unusable input

    root = write_folder(tmp_path / "imgs", tuple(f"c{k}" for k in range(10)), per_class=2, size=8)
    real = data.FileImages.__getitem__

    def die_in_worker(self, i):
        import torch.utils.data

        if torch.utils.data.get_worker_info() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, i)

    monkeypatch.setattr(data.FileImages, "__getitem__", die_in_worker)
    code = main(
        ["train", str(design), "--data", f"folder:{root}", "--workers", "1", *fast[:-2], "--out", str(tmp_path / "r2")]
    )
    _, err = capsys.readouterr()
    _assert_clean(code, err, "killed worker")
    assert "worker" in err
