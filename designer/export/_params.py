"""The arguments of a shared class, found by comparing its instances' constructor calls.

Every value a layer of the class is built with is a *column*: one value per instance. A column with one value is
written as it is; the others become ``__init__`` arguments, one per distinct column: ``in_channels`` and
``out_channels`` where a column follows the channels the class takes and gives, a multiple of an argument where it
is one (``out_channels // 4``, Bottleneck's width), else the layer's own argument name (``stride``), prefixed with
the child's path for another channel count or a name that is taken (``branch2_0_out_channels``). An optional
step's presence is a ``bool``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..compiler import RESERVED_NAMES, python_name
from ._calls import Call, py, same

#: A column's value in an instance that does not build that layer (an optional step it lacks).
WILD: Any = type("Wild", (), {"__repr__": lambda self: "WILD"})()
NO_DEFAULT: Any = type("NoDefault", (), {"__repr__": lambda self: "NO_DEFAULT"})()

#: Arguments that count channels or features (a depthwise convolution's ``groups`` too): only these follow the
#: class's channels, stand for each other or are a multiple of an argument.
CHANNEL_KEYS = frozenset({"in_channels", "out_channels", "num_features", "in_features", "out_features", "groups"})

Path = tuple[str, ...]


@dataclass
class Param:
    """An ``__init__`` argument: its values by instance and its default."""

    name: str
    values: list[Any]
    key: str
    default: Any = NO_DEFAULT
    channels: bool = False

    def value(self, i: int) -> Any:
        """Instance ``i``'s value; one that does not use the argument gets the default (or any value it takes)."""
        if self.values[i] is not WILD:
            return self.values[i]
        if self.default is not NO_DEFAULT:
            return self.default
        return next(v for v in self.values if v is not WILD)

    def fits(self, values: list[Any]) -> bool:
        """The column has this argument's value wherever both are known."""
        return all(a is WILD or b is WILD or same(a, b) for a, b in zip(self.values, values))

    def absorb(self, values: list[Any]) -> None:
        """Take a fitting column's values where this argument had none."""
        self.values = [b if a is WILD else a for a, b in zip(self.values, values)]


@dataclass
class Expr:
    """How a column is written in the class: a constant or an expression over the arguments."""

    text: str
    value: Any = NO_DEFAULT

    @property
    def literal(self) -> bool:
        """Written as a constant."""
        return self.value is not NO_DEFAULT


@dataclass
class Column:
    """One value per instance at a path of the constructor calls, with what the calls say about it."""

    values: list[Any]
    default: Any = NO_DEFAULT
    droppable: bool = False


@dataclass
class Signature:
    """A class's ``__init__`` arguments and how each column is written."""

    params: list[Param] = field(default_factory=list)
    exprs: dict[Path, Expr] = field(default_factory=dict)
    droppable: set[Path] = field(default_factory=set)

    def ordered(self) -> list[Param]:
        """Arguments without defaults first, each group in the order found."""
        return [p for p in self.params if p.default is NO_DEFAULT] + [
            p for p in self.params if p.default is not NO_DEFAULT
        ]

    def instance_call(self, callee: Any, i: int) -> Call:
        """Instance ``i``'s call of the class."""
        params = self.ordered()
        args = {p.name: p.value(i) for p in params}
        defaults = {p.name: p.default for p in params if p.default is not NO_DEFAULT}
        return Call(callee, args, defaults, tuple(p.name for p in params))


def flatten(call: Call, prefix: Path) -> Iterator[tuple[Path, Any, Call]]:
    """Every argument in a call tree, with its path: ``(child, item, ..., argument name)``."""
    if call.items:
        for name, item in call.items:
            yield from flatten(item, (*prefix, name))
        return
    for name in call.order:
        if name in call.args:
            yield (*prefix, name), call.args[name], call


def signature(columns: dict[Path, Column], channels: dict[str, list[Any]]) -> Signature:
    """Arguments for the columns, in column order (see the module doc). ``channels`` maps ``in_channels`` (or
    ``in_features``) and ``out_channels`` to the channel counts each instance takes and gives."""
    sig = Signature()
    taken = set(RESERVED_NAMES) | {"self"}
    for name, counts in channels.items():
        if None not in counts and any(_follows(path, column, counts) for path, column in columns.items()):
            sig.params.append(Param(name, list(counts), name, channels=True))
            taken.add(name)
    for path, column in columns.items():
        if column.droppable:
            sig.droppable.add(path)
        sig.exprs[path] = _column_expr(sig, path, column, taken)
    return sig


def _follows(path: Path, column: Column, counts: list[Any]) -> bool:
    """A channel column that varies as the class's channels do."""
    known = [v for v in column.values if v is not WILD]
    varies = any(not same(v, known[0]) for v in known)
    return path[-1] in CHANNEL_KEYS and varies and Param("", counts, "").fits(column.values)


def _column_expr(sig: Signature, path: Path, column: Column, taken: set[str]) -> Expr:
    values, key = column.values, path[-1]
    known = [v for v in values if v is not WILD]
    if len(known) == len(values) and all(same(v, known[0]) for v in known):
        return Expr(py(known[0]), known[0])
    for p in sig.params:
        if p.fits(values) and (p.key == key or (p.key in CHANNEL_KEYS and key in CHANNEL_KEYS)):
            p.absorb(values)
            return Expr(p.name)
    derived = _derived(sig, values) if key in CHANNEL_KEYS else None
    if derived is not None:
        return Expr(derived)
    if all(same(v, known[0]) for v in known):
        return Expr(py(known[0]), known[0])
    # A part's channel count is not the class's: ``squeeze_out_channels``, ``branch2_0_out_channels``.
    name = key if key not in CHANNEL_KEYS and key not in taken else "_".join(path)
    param = Param(python_name(name, taken), list(values), key, column.default)
    taken.add(param.name)
    sig.params.append(param)
    return Expr(param.name)


def _derived(sig: Signature, values: list[Any]) -> str | None:
    """``p * k`` or ``p // k`` for an argument ``p`` of whole numbers and a whole ``k`` >= 2, where that gives every
    instance's value."""
    for p in sig.params:
        pairs = [(a, b) for a, b in zip(p.values, values) if a is not WILD and b is not WILD]
        if not pairs or not all(type(a) is int and type(b) is int and a > 0 and b > 0 for a, b in pairs):
            continue
        a, b = pairs[0]
        if b % a == 0 and b // a >= 2 and all(y == x * (b // a) for x, y in pairs):
            return f"{p.name} * {b // a}"
        if a % b == 0 and a // b >= 2 and all(x == y * (a // b) for x, y in pairs):
            return f"{p.name} // {a // b}"
    return None
