"""The project as a user's pip installs it: a built wheel in a fresh virtual environment, away from the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow

TEMPLATES = sorted(p.name for p in (ROOT / "templates").glob("*.json"))


#: Left behind by builds and runs; a copy without them builds as a fresh clone would.
_NOT_SOURCE = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "*_cache", "runs")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from the working tree, as ``pip install .`` builds it (not editable).

    It is built from a copy: setuptools builds in the source folder, and a stale ``build/`` there would both leak
    old modules into later wheels and hide a package missing from the project's list.
    """
    source, out = tmp_path_factory.mktemp("source") / "tree", tmp_path_factory.mktemp("dist")
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    [built] = out.glob("cnn_designer-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; the heavy dependencies come from the test's own environment.

    The dependencies' folder is added with a ``.pth`` path line, which does not run that folder's own ``.pth`` files,
    so the editable install of the checkout stays out of sight.
    """
    env = tmp_path_factory.mktemp("venv")
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    return env


def _run(env: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    environ["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.run(argv, cwd=cwd, env=environ, capture_output=True, text=True, timeout=300)


def test_the_wheel_holds_every_package_and_template(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    packages = {str(Path(n).parent).replace("/", ".") for n in names if n.endswith("/__init__.py")}
    in_tree = {
        str(p.parent.relative_to(ROOT)).replace(os.sep, ".")
        for top in ("designer", "widgets")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert packages == in_tree | {"designer.template_files"}, "pyproject's package list must name every package"
    assert (
        sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("designer/template_files/") and n.endswith(".json"))
        == TEMPLATES
    )


def test_the_installed_designer_reads_its_templates_from_the_wheel(installed: Path, tmp_path: Path):
    python = str(installed / "bin" / "python")
    code = (
        "import json, designer; from designer.editing.templates import list_templates, load_template;"
        "print(json.dumps({'file': designer.__file__, 'templates': [t.name + '.json' for t in list_templates()],"
        "'nodes': len(load_template('resnet50'))}))"
    )
    result = _run(installed, python, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert Path(seen["file"]).is_relative_to(installed), "the wheel's copy is imported, not the checkout"
    assert sorted(seen["templates"]) == TEMPLATES and seen["nodes"] > 100


def test_the_installed_commands_work(installed: Path, tmp_path: Path):
    template = tmp_path / "small.json"
    template.write_bytes((ROOT / "templates" / "small_cnn.json").read_bytes())
    result = _run(installed, str(installed / "bin" / "cnn-designer"), "validate", str(template), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    gui = installed / "bin" / "cnn-designer-gui"
    assert gui.is_file()
    code = (
        "from PySide6.QtWidgets import QApplication; app = QApplication([]);"
        "from widgets.app import create_window; w = create_window(); w.show(); app.processEvents();"
        "print(w.document.graph.name, len(w.document.graph)); w.document.undo_stack.clear(); w.close()"
    )
    result = _run(installed, str(installed / "bin" / "python"), "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == str(len(json.loads(template.read_text())["nodes"]))
