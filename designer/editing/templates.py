"""Architecture templates: the project files shipped as package data (``designer.template_files``), by name.

The files are ordinary projects kept in the repository's ``templates/`` folder (``tools/build_templates.py``
regenerates them from ``designer.blocks``); setuptools installs that folder as the package ``designer.template_files``,
so an editable checkout and an installed wheel read them the same way, through ``importlib.resources``. A template's
name is its file name without ``.json``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from importlib import resources

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:
    from importlib.abc import Traversable

from ..model.fileformat import loads
from ..model.graph import Graph

#: The package whose data files are the templates.
TEMPLATE_PACKAGE = "designer.template_files"

#: The template a new document starts from (small and quick to train).
DEFAULT_TEMPLATE = "small_cnn"


@dataclass(frozen=True)
class TemplateInfo:
    """One template: ``name`` (what ``load_template`` takes), ``title`` (the design's name), file and description."""

    name: str
    title: str
    file: Traversable
    description: str


def templates_folder() -> Traversable:
    """Where the shipped templates are (a folder of the installed package, or of the checkout when editable)."""
    return resources.files(TEMPLATE_PACKAGE)


def _json_files(folder: Traversable) -> list[Traversable]:
    return sorted((f for f in folder.iterdir() if f.name.endswith(".json") and f.is_file()), key=lambda f: f.name)


def list_templates(directory: Traversable | None = None) -> list[TemplateInfo]:
    """Every template, the default first, then by name."""
    folder = templates_folder() if directory is None else directory
    infos = []
    for file in _json_files(folder):
        data = json.loads(file.read_text(encoding="utf-8"))
        name = file.name.removesuffix(".json")
        infos.append(TemplateInfo(name, str(data.get("name", name)), file, str(data.get("description", ""))))
    return sorted(infos, key=lambda info: (info.name != DEFAULT_TEMPLATE, info.name))


def template_file(name: str, directory: Traversable | None = None) -> Traversable:
    """The file of template ``name``.

    Raises:
        KeyError: there is no such template (the message lists the ones there are).
    """
    folder = templates_folder() if directory is None else directory
    file = folder / f"{name}.json"
    if "/" in name or "\\" in name or not file.is_file():
        known = ", ".join(info.name for info in list_templates(folder))
        raise KeyError(f"no template named {name!r}; templates: {known}")
    return file


def load_template(name: str, directory: Traversable | None = None) -> Graph:
    """A fresh graph of template ``name`` (edit it freely: the file is not touched).

    Raises:
        KeyError: there is no such template.
    """
    return loads(template_file(name, directory).read_text(encoding="utf-8"))
