"""A minimal synchronous event emitter, so views can follow the model without the model knowing them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Callback = Callable[..., Any]


class Signal:
    """A named event: ``connect`` a callback, ``emit`` calls every callback in connection order."""

    __slots__ = ("name", "_callbacks", "_blocked")

    def __init__(self, name: str):
        self.name = name
        self._callbacks: list[Callback] = []
        self._blocked = 0

    def connect(self, callback: Callback) -> Callback:
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callback) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        if self._blocked:
            return
        for callback in list(self._callbacks):
            callback(*args)

    def blocked(self) -> _Blocker:
        """Context manager that silences this signal (for a view writing back a value it shows)."""
        return _Blocker(self)


class _Blocker:
    def __init__(self, signal: Signal):
        self._signal = signal

    def __enter__(self) -> None:
        self._signal._blocked += 1

    def __exit__(self, *exc: object) -> None:
        self._signal._blocked -= 1


class EventGroup:
    """A fixed set of signals, reached as attributes (``graph.events.node_added``)."""

    def __init__(self, *names: str):
        for name in names:
            setattr(self, name, Signal(name))
        self._names = names

    def signals(self) -> list[Signal]:
        return [getattr(self, name) for name in self._names]
