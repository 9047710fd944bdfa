"""Architecture templates: the project files under the repository's ``templates/`` folder, listed and loaded by name.

The files are ordinary projects (``templates/build_templates.py`` regenerates them from ``designer.blocks``); a
template's name is its file name without ``.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .fileformat import load
from .graph import Graph

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

#: The template a new document starts from (small and quick to train).
DEFAULT_TEMPLATE = "small_cnn"


@dataclass(frozen=True)
class TemplateInfo:
    """One template: ``name`` (what ``load_template`` takes), ``title`` (the design's name), file and description."""

    name: str
    title: str
    file: Path
    description: str


def list_templates(directory: Path | None = None) -> list[TemplateInfo]:
    """Every template, the default first, then by name."""
    folder = TEMPLATES_DIR if directory is None else Path(directory)
    infos = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        infos.append(TemplateInfo(path.stem, str(data.get("name", path.stem)), path, str(data.get("description", ""))))
    return sorted(infos, key=lambda info: (info.name != DEFAULT_TEMPLATE, info.name))


def template_path(name: str, directory: Path | None = None) -> Path:
    """The file of template ``name``.

    Raises:
        KeyError: there is no such template (the message lists the ones there are).
    """
    folder = TEMPLATES_DIR if directory is None else Path(directory)
    path = folder / f"{name}.json"
    if "/" in name or "\\" in name or not path.is_file():
        known = ", ".join(info.name for info in list_templates(folder))
        raise KeyError(f"no template named {name!r}; templates: {known}")
    return path


def load_template(name: str, directory: Path | None = None) -> Graph:
    """A fresh graph of template ``name`` (edit it freely: the file is not touched).

    Raises:
        KeyError: there is no such template.
    """
    return load(template_path(name, directory))
