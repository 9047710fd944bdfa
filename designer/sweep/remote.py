"""A sweep in a child process, for the window: spawned (never forked: the parent runs Qt's threads), its events read
on a thread and handed to a callback, ``stop()`` sent down a pipe. A crash or the OOM killer in the child ends the
sweep with a ``SweepFailed`` event while the window stays; the next run of the sweep resumes where it stopped.
"""

from __future__ import annotations

import multiprocessing
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from ..model.fileformat import loads
from ..training.events import EpochEnded, RunStarted
from .events import SweepCallback, SweepEnded, SweepEvent, SweepFailed, TrialProgress

if TYPE_CHECKING:
    from .runner import Sweep, SweepOptions

STOP = "stop"


@dataclass(frozen=True)
class SweepRequest:
    """What the child needs: the design as project text (a snapshot), its path (for the default folders), options."""

    project_json: str
    project_path: str | None
    options: SweepOptions


def serve(request: SweepRequest, events: Connection, control: Connection) -> None:
    """The child process: run the sweep, obey ``stop`` on a thread, send every event (and failures) on ``events``."""
    from .runner import SpaceError, Sweep
    from .study import SweepError

    lock = threading.Lock()

    def send(event: SweepEvent) -> None:
        # Step reports would flood the pipe; the window draws epochs and trial ends.
        if isinstance(event, TrialProgress) and not isinstance(event.event, (EpochEnded, RunStarted)):
            return
        with lock:
            events.send(event)

    try:
        sweep = Sweep(loads(request.project_json), request.options, project_path=request.project_path, on_event=send)
        threading.Thread(target=_obey, args=(control, sweep), name="sweep-control", daemon=True).start()
        sweep.run()
    except SpaceError as exc:
        send(SweepFailed("search.invalid", "; ".join(str(d) for d in exc.diagnostics[:5])))
    except SweepError as exc:
        send(SweepFailed(exc.code, exc.message + (f" ({exc.hint})" if exc.hint else "")))
    except Exception as exc:  # whatever else: the window shows it as a failed sweep
        send(SweepFailed("error", f"{type(exc).__name__}: {exc}"))


def _obey(control: Connection, sweep: Sweep) -> None:
    try:
        while control.recv() != STOP:
            pass
    except (EOFError, OSError):  # the parent is gone: stop too, resumably
        pass
    sweep.stop()


class RemoteSweep:
    """One sweep in a spawned process; events reach ``on_event`` on a reader thread, the last a ``SweepEnded`` or a
    ``SweepFailed``."""

    def __init__(self, request: SweepRequest, on_event: SweepCallback) -> None:
        self.request, self.on_event = request, on_event
        ctx = multiprocessing.get_context("spawn")
        self._events, events_end = ctx.Pipe(duplex=False)
        control_end, self._control = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=serve, args=(request, events_end, control_end), name="sweep")
        self._child_ends = (events_end, control_end)
        self._reader = threading.Thread(target=self._read, name="sweep-events", daemon=True)
        self._done = threading.Event()

    def start(self) -> None:
        """Start the sweep; the process is spawned on the reader thread, so this returns at once."""
        self._reader.start()

    @property
    def running(self) -> bool:
        """True until the last event has been handed to ``on_event``."""
        return self._reader.is_alive() and not self._done.is_set()

    def stop(self) -> None:
        """Stop after the current trial's current step (with a checkpoint); running the sweep again resumes it."""
        try:
            self._control.send(STOP)
        except (OSError, ValueError):  # the process has ended already
            pass

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the last event; True if it has come."""
        return not self._reader.is_alive() or self._done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Stop the sweep and wait for it; end the process if it takes longer than ``timeout`` seconds."""
        if self.running:
            self.stop()
            if not self.join(timeout) and self._process.pid is not None and self._process.exitcode is None:
                self._process.kill()
                self.join(5.0)

    def _read(self) -> None:
        self._process.start()
        for end in self._child_ends:
            end.close()  # the child holds its own copies; ours would keep the pipe open after it dies
        last: SweepEvent | None = None
        try:
            while True:
                last = self._events.recv()
                self.on_event(last)
                if isinstance(last, (SweepEnded, SweepFailed)):
                    break
        except (EOFError, OSError):
            self._process.join(5.0)
            code = self._process.exitcode
            self.on_event(SweepFailed("sweep.died", f"the sweep process ended without a word (exit code {code})"))
        finally:
            self._done.set()
            self._process.join(10.0)
