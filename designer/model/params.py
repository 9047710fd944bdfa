"""Parameter schema: what each layer parameter accepts, its default, its bounds, and how a raw file value is read."""

from __future__ import annotations

import enum
import functools
import math
from dataclasses import dataclass
from typing import Any

from .diagnostics import DesignError

#: Sizes above this are refused: no real design has them, and they would only overflow counts downstream.
MAX_SIZE = 1 << 24


class Kind(str, enum.Enum):
    """The value types a parameter can take, as written in a project file."""

    INT = "int"  # 3
    FLOAT = "float"  # 0.5
    BOOL = "bool"  # true
    CHOICE = "choice"  # "zeros"
    PAIR = "pair"  # 3 or [3, 5]
    PADDING = "padding"  # 1, [1, 2], "same" or "valid"
    OPT_INT = "opt_int"  # null or 2
    OPT_PAIR = "opt_pair"  # null, 2 or [2, 3] (pooling stride, Upsample size)
    OPT_FLOAT_PAIR = "opt_float_pair"  # null, 2.0 or [2.0, 1.5] (Upsample scale_factor)
    OPT_BOOL = "opt_bool"  # null or true (align_corners)
    ADAPTIVE = "adaptive"  # 7, [7, 7] or [7, null]
    PAD4 = "pad4"  # 1 or [left, right, top, bottom]
    SHAPE = "shape"  # [3, 224, 224]: positive sizes
    TARGET_SHAPE = "target_shape"  # [16, -1]: Reshape target, one -1 allowed
    INTS = "ints"  # normalized_shape
    DIMS = "dims"  # [0, 2, 3, 1]: dimension indices, batch = 0, negative from the end (Permute, Mean)


_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """One constructor argument of a layer, named as torch names it.

    ``inferred`` parameters (``in_channels``, ``num_features``, ...) are taken from the incoming shape; a file may
    still give one, and then it must agree.
    """

    name: str
    kind: Kind
    default: Any = _REQUIRED
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    inferred: bool = False
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED and not self.inferred

    @functools.cached_property
    def canonical_default(self) -> Any:
        """The default in canonical form (pairs as tuples)."""
        return None if self.default is _REQUIRED or self.default is None else self.read(self.default)

    def read(self, value: Any) -> Any:
        """Check a raw file value and return it in canonical form (pairs as tuples); raise DesignError if bad."""
        reader = _READERS[self.kind]
        return reader(self, value)

    def describe(self) -> str:
        """A short human statement of what this parameter accepts."""
        text = _KIND_TEXT[self.kind]
        if self.choices:
            text = " | ".join(repr(c) for c in self.choices)
        if self.low is not None and self.high is not None:
            text += f" in [{_num(self.low)}, {_num(self.high)}]"
        elif self.low is not None:
            text += f" >= {_num(self.low)}"
        return text


def required() -> Any:
    return _REQUIRED


def _num(x: float) -> str:
    if isinstance(x, int):  # float() of a 400-digit integer overflows; such a value is shown by its size
        return str(x) if x.bit_length() <= 64 else f"a {len(str(abs(x)))}-digit number"
    return str(int(x)) if x.is_integer() else str(x)


_KIND_TEXT = {
    Kind.INT: "an integer",
    Kind.FLOAT: "a number",
    Kind.BOOL: "true or false",
    Kind.CHOICE: "one of",
    Kind.PAIR: "an integer or a pair [h, w]",
    Kind.PADDING: 'an integer, a pair [h, w], "same" or "valid"',
    Kind.OPT_INT: "null or an integer",
    Kind.OPT_PAIR: "null, an integer or a pair [h, w]",
    Kind.OPT_FLOAT_PAIR: "null, a number or a pair of numbers",
    Kind.OPT_BOOL: "null, true or false",
    Kind.ADAPTIVE: "an integer or a pair [h, w] (null keeps that size)",
    Kind.PAD4: "an integer or [left, right, top, bottom]",
    Kind.SHAPE: "a list of positive integers",
    Kind.TARGET_SHAPE: "a list of positive integers with at most one -1",
    Kind.INTS: "a list of positive integers",
    Kind.DIMS: "a list of dimension indices",
}


def _bad_type(p: Param, value: Any) -> DesignError:
    return DesignError(
        "param.type",
        f"parameter '{p.name}' must be {p.describe()}, got {_short(value)}",
        hint=f"set {p.name} to {p.describe()}",
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))  # isfinite(10**400) overflows


def _bounds_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"in [{_num(low)}, {_num(high)}]"
    return f">= {_num(low)}" if low is not None else f"<= {_num(high)}" if high is not None else "finite"


def _check_range(p: Param, value: float, what: str | None = None) -> None:
    low, high = p.low, p.high
    if low is None and p.kind not in (Kind.FLOAT, Kind.OPT_FLOAT_PAIR, Kind.PAD4, Kind.TARGET_SHAPE):
        low = 1  # sizes, counts and strides start at 1 unless the parameter says otherwise
    if high is None and p.kind not in (Kind.FLOAT, Kind.OPT_FLOAT_PAIR):
        high = MAX_SIZE
    name = what or p.name
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = _bounds_text(low, high)
        raise DesignError(
            "param.range",
            f"parameter '{name}' must be {bounds}, got {_num(value)}",
            hint=f"set {p.name} to a value {bounds}",
        )


def _read_int(p: Param, v: Any) -> int:
    if not _is_int(v):
        raise _bad_type(p, v)
    _check_range(p, v)
    return int(v)


def _read_float(p: Param, v: Any) -> float:
    if not _is_num(v):
        raise _bad_type(p, v)
    _check_range(p, v)
    try:
        return float(v)
    except OverflowError:  # an integer beyond any float
        raise DesignError(
            "param.range", f"parameter '{p.name}' is {_num(v)}, beyond any float", hint=f"set {p.name} to a number"
        ) from None


def _read_bool(p: Param, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _bad_type(p, v)
    return v


def _read_choice(p: Param, v: Any) -> str:
    if v not in p.choices:
        raise _bad_type(p, v)
    return str(v)


def _read_ints(p: Param, v: Any, n: int | None) -> tuple[int, ...]:
    if _is_int(v) and n is not None:
        v = [v] * n
    if not isinstance(v, (list, tuple)) or (n is not None and len(v) != n) or not all(_is_int(x) for x in v):
        raise _bad_type(p, v)
    for x in v:
        _check_range(p, x)
    return tuple(v)


def _read_pair(p: Param, v: Any) -> tuple[int, int]:
    first, second = _read_ints(p, v, 2)
    return first, second


def _read_padding(p: Param, v: Any) -> tuple[int, int] | str:
    if isinstance(v, str) and v in ("same", "valid"):
        return v
    return _read_pair(p, v)


def _read_opt_pair(p: Param, v: Any) -> tuple[int, int] | None:
    return None if v is None else _read_pair(p, v)


def _read_opt_int(p: Param, v: Any) -> int | None:
    return None if v is None else _read_int(p, v)


def _read_opt_bool(p: Param, v: Any) -> bool | None:
    return None if v is None else _read_bool(p, v)


def _read_opt_float_pair(p: Param, v: Any) -> tuple[float, float] | None:
    if v is None:
        return None
    if _is_num(v):
        v = [v, v]
    if not isinstance(v, (list, tuple)) or len(v) != 2 or not all(_is_num(x) for x in v):
        raise _bad_type(p, v)
    for x in v:
        _check_range(p, x)
    return (float(v[0]), float(v[1]))


def _read_adaptive(p: Param, v: Any) -> tuple[int | None, int | None]:
    if _is_int(v):
        v = [v, v]
    if not isinstance(v, (list, tuple)) or len(v) != 2 or not all(x is None or _is_int(x) for x in v):
        raise _bad_type(p, v)
    for x in v:
        if x is not None:
            _check_range(p, x)
    return (v[0], v[1])


def _read_pad4(p: Param, v: Any) -> tuple[int, int, int, int]:
    left, right, top, bottom = _read_ints(p, v, 4)
    return left, right, top, bottom


def _read_shape(p: Param, v: Any) -> tuple[int, ...]:
    if isinstance(v, (list, tuple)) and len(v) == 0:
        raise _bad_type(p, v)
    return _read_ints(p, v, None)


def _read_target_shape(p: Param, v: Any) -> tuple[int, ...]:
    if not isinstance(v, (list, tuple)) or not v or not all(_is_int(x) for x in v):
        raise _bad_type(p, v)
    if sum(1 for x in v if x == -1) > 1 or any(x == 0 or x < -1 for x in v):
        raise DesignError(
            "param.range",
            f"parameter '{p.name}' may hold one -1 and otherwise positive sizes, got {list(v)}",
            hint="use positive sizes and at most one -1 (inferred)",
        )
    for x in v:
        if x != -1:
            _check_range(p, x)
    return tuple(v)


_READERS = {
    Kind.INT: _read_int,
    Kind.FLOAT: _read_float,
    Kind.BOOL: _read_bool,
    Kind.CHOICE: _read_choice,
    Kind.PAIR: _read_pair,
    Kind.PADDING: _read_padding,
    Kind.OPT_INT: _read_opt_int,
    Kind.OPT_PAIR: _read_opt_pair,
    Kind.OPT_FLOAT_PAIR: _read_opt_float_pair,
    Kind.OPT_BOOL: _read_opt_bool,
    Kind.ADAPTIVE: _read_adaptive,
    Kind.PAD4: _read_pad4,
    Kind.SHAPE: _read_shape,
    Kind.TARGET_SHAPE: _read_target_shape,
    Kind.INTS: _read_shape,
    Kind.DIMS: _read_shape,
}
