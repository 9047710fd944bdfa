"""The search space: the project's optional ``search`` section, read into dimensions and applied to a design.

``"search": {"conv1.out_channels": {"int": [8, 64], "log": true}, "lr": {"float": [1e-4, 0.1], "log": true},
"optimizer": {"choice": ["sgd", "adam"]}}``: a key with a dot is ``node_id.param`` (the node id may hold dots
itself: the parameter is after the last one), a key without is a training setting. No torch and no Optuna here.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ..layers.registry import get_spec
from ..model import diagnostics as dg
from ..model.diagnostics import Diagnostic
from ..model.fileformat import dumps, loads
from ..model.graph import Graph
from ..training.config import TrainConfig, read_section, write_section

SECTION = "search"
KINDS = ("int", "float", "choice")


@dataclass(frozen=True)
class Dimension:
    """One searched value: ``kind`` is ``int``, ``float`` or ``choice``; ``node_id`` is None for a training setting."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    node_id: str | None = None
    param: str = ""

    def extremes(self) -> tuple[Any, ...]:
        """The values at the edges of this dimension: both ends of a range, every choice."""
        if self.kind == "choice":
            return self.choices
        if self.kind == "int":
            return (int(self.low), int(self.high))
        return (self.low, self.high)


@dataclass(frozen=True)
class SearchSpace:
    """The dimensions of a project's ``search`` section, in file order."""

    dimensions: tuple[Dimension, ...]

    def __bool__(self) -> bool:
        return bool(self.dimensions)

    @property
    def keys(self) -> list[str]:
        """The dimension keys, in file order."""
        return [d.key for d in self.dimensions]


def read_space(graph: Graph, problems: list[Diagnostic]) -> SearchSpace:
    """The design's search space; malformed entries go to ``problems`` (code ``search.*``) and are left out."""
    raw = graph.extra.get(SECTION)
    if raw is None:
        return SearchSpace(())
    if not isinstance(raw, dict):
        problems.append(dg.error("search.bad_section", "'search' must be an object of key: range entries"))
        return SearchSpace(())
    dims = []
    for key, entry in raw.items():
        try:
            dims.append(_read_dimension(graph, str(key), entry))
        except _EntryError as exc:
            problems.append(dg.error(exc.code, f"search '{key}': {exc}", exc.node_id, exc.hint))
    return SearchSpace(tuple(dims))


class _EntryError(ValueError):
    def __init__(self, code: str, message: str, hint: str = "", node_id: str | None = None):
        super().__init__(message)
        self.code, self.hint, self.node_id = code, hint, node_id


def _read_dimension(graph: Graph, key: str, entry: Any) -> Dimension:
    node_id, param = _target(graph, key)
    if not isinstance(entry, dict):
        raise _EntryError("search.bad_range", 'must be an object such as {"int": [8, 64]}', node_id=node_id)
    kinds = [k for k in KINDS if k in entry]
    if len(kinds) != 1:
        raise _EntryError(
            "search.bad_range", "needs exactly one of 'int', 'float' or 'choice'", 'e.g. {"float": [0.1, 0.6]}', node_id
        )
    kind, value, log = kinds[0], entry[kinds[0]], entry.get("log", False)
    if kind == "choice":
        if not isinstance(value, list) or not value:
            raise _EntryError("search.bad_range", "'choice' must be a non-empty list", node_id=node_id)
        return Dimension(key, kind, choices=tuple(value), node_id=node_id, param=param)
    low, high = _bounds(kind, value, node_id)
    if not isinstance(log, bool):
        raise _EntryError("search.bad_range", "'log' must be true or false", node_id=node_id)
    if log and low <= 0:
        raise _EntryError("search.bad_range", f"a log range must start above 0, not at {low}", node_id=node_id)
    step = entry.get("step")
    if step is not None and (not _is_number(step) or step <= 0 or log):
        raise _EntryError("search.bad_range", "'step' must be a positive number, without 'log'", node_id=node_id)
    return Dimension(key, kind, low, high, log, step, node_id=node_id, param=param)


def _bounds(kind: str, value: Any, node_id: str | None) -> tuple[float, float]:
    ok = isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)
    if ok and kind == "int":
        ok = all(isinstance(v, int) for v in value)
    if not ok:
        raise _EntryError("search.bad_range", f"'{kind}' must be a pair [low, high] of {kind}s", node_id=node_id)
    low, high = value
    if low > high:
        raise _EntryError("search.bad_range", f"low {low} is above high {high}", node_id=node_id)
    return low, high


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


_SETTINGS = tuple(f.name for f in dataclasses.fields(TrainConfig))


def _target(graph: Graph, key: str) -> tuple[str | None, str]:
    """``(node_id, param)`` of a node parameter key, ``(None, key)`` of a training setting."""
    if "." not in key:
        if key not in _SETTINGS:
            raise _EntryError(
                "search.unknown_setting", "no training setting has this name", f"one of {', '.join(_SETTINGS)}"
            )
        return None, key
    node_id, _, param = key.rpartition(".")
    if node_id not in graph:
        raise _EntryError("search.unknown_node", f"the design has no node '{node_id}'", "use 'node_id.param'")
    spec = get_spec(graph[node_id].type)
    names = [p.name for p in spec.params] if spec is not None else []
    if param not in names:
        hint = f"{graph[node_id].type} takes {', '.join(names)}" if names else "this node has no parameters"
        raise _EntryError("search.unknown_param", f"node '{node_id}' has no parameter '{param}'", hint, node_id)
    return node_id, param


def apply(graph: Graph, values: dict[str, Any], config: TrainConfig | None = None) -> tuple[Graph, TrainConfig]:
    """A copy of ``graph`` with ``values`` (``key: value``) set, and the training settings with theirs.

    The copy has no ``search`` section and its ``training`` section holds the resulting settings, so it is the
    ordinary project of one trial. Raises ``ConfigError`` for a setting the config refuses.
    """
    trial = loads(dumps(graph))
    settings: dict[str, Any] = {}
    for key, value in values.items():
        node_id, _, param = key.rpartition(".")
        if node_id:
            trial.set_param(node_id, param, value)
        else:
            settings[key] = value
    base = config if config is not None else read_section(trial, ignored=[])
    new_config = base.replace(**settings)
    trial.extra.pop(SECTION, None)
    write_section(trial, new_config)
    return trial, new_config


__all__ = ["KINDS", "SECTION", "Dimension", "SearchSpace", "apply", "read_space"]
