"""Format migrations: a table of steps, each turning a version-N project into a version-N+1 one.

A file is read by migrating its parsed JSON step by step to the current version, then reading it as usual; saving
always writes the current version. When the format changes, bump ``FORMAT_VERSION`` in ``fileformat``, add the step
from the previous version here, and add ``tests/fixtures/formats/v<N>.json`` (the same design written in the new
version); the tests then check that every older fixture migrates to exactly what the newest one reads as.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Project = dict[str, Any]
Migration = Callable[[Project], Project]

#: The oldest version this code can read.
OLDEST_VERSION = 1


def _colons_out_of_ids(data: Project) -> Project:
    """1 -> 2: an input may name one output of a node with several, ``"split:1"``. No version-1 id could hold a
    colon (it was reported as a bad id, but read), so one that did is renamed with '_' for ':', and so is every
    reference to it: each still names the node it named."""

    def fixed(ref: Any) -> Any:
        return ref.replace(":", "_") if isinstance(ref, str) else ref

    nodes = data.get("nodes")
    if isinstance(nodes, list):
        data = {**data, "nodes": [_renamed(n, fixed) if isinstance(n, dict) else n for n in nodes]}
    if isinstance(data.get("outputs"), list):
        data = {**data, "outputs": [fixed(o) for o in data["outputs"]]}
    return data


def _renamed(node: dict[str, Any], fixed: Callable[[Any], Any]) -> dict[str, Any]:
    node = {**node, "id": fixed(node.get("id"))}
    if isinstance(node.get("inputs"), list):
        node["inputs"] = [fixed(s) for s in node["inputs"]]
    return node


#: ``MIGRATIONS[n]`` turns a version-``n`` project (parsed JSON) into a version ``n + 1`` project.
MIGRATIONS: dict[int, Migration] = {1: _colons_out_of_ids}


def migrate(data: Project, version: int, current: int, table: Mapping[int, Migration] = MIGRATIONS) -> Project:
    """Bring a version-``version`` project up to ``current`` by running each step of ``table`` in turn.

    Raises:
        LookupError: a step is missing from the table (a programming error: every version bump adds its step).
    """
    for step in range(version, current):
        if step not in table:
            raise LookupError(f"no migration from format version {step} to {step + 1}")
        data = table[step](data)
    return data
