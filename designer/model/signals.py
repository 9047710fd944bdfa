"""A small synchronous event emitter, so views can follow the model without the model knowing them.

A ``Signal`` keeps bound methods by weak reference (a view that goes away stops receiving events without
disconnecting by hand, as psygnal and Qt do) and plain functions strongly (a lambda has no other owner).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import MethodType
from typing import Any, Generic, ParamSpec

P = ParamSpec("P")

_Ref = Callable[[], Callable[..., Any] | None]


def _reference(callback: Callable[..., Any]) -> _Ref:
    if isinstance(callback, MethodType):
        return weakref.WeakMethod(callback)
    return lambda: callback


class Signal(Generic[P]):
    """A named event: ``connect`` a callback, ``emit`` calls every live callback in connection order."""

    __slots__ = ("name", "_refs", "_blocked")

    def __init__(self, name: str):
        self.name = name
        self._refs: list[_Ref] = []
        self._blocked = 0

    def connect(self, callback: Callable[P, object]) -> Callable[P, object]:
        """Call ``callback`` on every emit (once, however often it is connected); returns it, for use as decorator."""
        if callback not in self.callbacks():
            self._refs.append(_reference(callback))
        return callback

    def disconnect(self, callback: Callable[P, object]) -> None:
        """Stop calling ``callback``; nothing happens if it is not connected."""
        self._refs = [ref for ref in self._refs if ref() not in (None, callback)]

    def callbacks(self) -> list[Callable[..., Any]]:
        """The live callbacks, in connection order."""
        return [cb for cb in (ref() for ref in self._refs) if cb is not None]

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every live callback with these arguments, unless the signal is blocked."""
        if self._blocked:
            return
        if any(ref() is None for ref in self._refs):
            self._refs = [ref for ref in self._refs if ref() is not None]
        for callback in self.callbacks():
            callback(*args, **kwargs)

    @contextmanager
    def blocked(self) -> Iterator[None]:
        """Silence this signal inside the ``with`` block (for a view writing back a value it shows)."""
        self._blocked += 1
        try:
            yield
        finally:
            self._blocked -= 1
