"""What a run is asked to do from outside (pause, resume, stop) and how long it has trained."""

from __future__ import annotations

import threading
import time


class RunControl:
    """Pause, resume and stop requests, made from any thread and read by the loop between steps."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._go = threading.Event()
        self._go.set()

    def stop(self) -> None:
        """Ask the run to end after the current step; a paused run wakes up to end."""
        self._stop.set()
        self._go.set()

    def pause(self) -> None:
        """Ask the run to wait after the current step until ``resume()`` or ``stop()``."""
        self._go.clear()

    def resume(self) -> None:
        """Let a paused run go on."""
        self._go.set()

    @property
    def stop_requested(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        """True between ``pause()`` and the next ``resume()`` or ``stop()``."""
        return not self._go.is_set()

    def wait_while_paused(self) -> float:
        """Block until resumed or stopped; returns the seconds waited."""
        t0 = time.perf_counter()
        self._go.wait()
        return time.perf_counter() - t0


class Clock:
    """Training seconds: wall time since the clock was made, plus ``before``, less the time left out (pauses)."""

    def __init__(self, before: float = 0.0) -> None:
        self._origin = time.perf_counter() - before

    def elapsed(self) -> float:
        """Seconds trained so far."""
        return time.perf_counter() - self._origin

    def leave_out(self, seconds: float) -> None:
        """Do not count ``seconds`` that just passed (a pause is not training time)."""
        self._origin += seconds
