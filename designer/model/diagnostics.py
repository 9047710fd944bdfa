"""Diagnostics: what the validator and loader say about a design, as data."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Severity(str, enum.Enum):
    """How bad a diagnostic is; only errors make a design invalid."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a design, tied to a node where there is one.

    ``code`` is a stable dotted string (``shape.channels_mismatch``) that tests and tools match on; ``message`` names
    what is wrong and where, with expected and actual values; ``hint`` says what to change and to what.
    """

    severity: Severity
    code: str
    message: str
    node_id: str | None = None
    hint: str = ""
    port: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "node": self.node_id,
            "port": self.port,
            "message": self.message,
            "hint": self.hint,
        }

    def __str__(self) -> str:
        where = f"node {self.node_id}: " if self.node_id is not None else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}{self.severity.value}: {self.message}{hint}"


def error(code: str, message: str, node_id: str | None = None, hint: str = "", port: int | None = None) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, node_id, hint, port)


def warning(code: str, message: str, node_id: str | None = None, hint: str = "", port: int | None = None) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, node_id, hint, port)


class DesignError(Exception):
    """A problem a layer rule found; the validator turns it into a Diagnostic on the node."""

    def __init__(self, code: str, message: str, hint: str = "", port: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.port = port

    def __reduce__(self) -> tuple[type[DesignError], tuple[str, str, str, int | None]]:
        return (type(self), (self.code, self.message, self.hint, self.port))


class DiagnosticsError(Exception):
    """An operation refused for the reasons in ``diagnostics``.

    It pickles with them: exports run in a worker process, and the window must still name the node.
    """

    def __init__(self, diagnostics: list[Diagnostic], message: str):
        super().__init__(message)
        self.diagnostics = list(diagnostics)

    def __reduce__(self) -> tuple[type[DiagnosticsError], tuple[list[Diagnostic]]]:
        return (type(self), (self.diagnostics,))  # subclasses take the diagnostics alone and word the message
