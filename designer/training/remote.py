"""The parent's end of a run in a child process (``child.serve``): what the window holds instead of a ``Trainer``.

``RemoteRun`` spawns the process (spawn, never fork: the parent runs Qt's threads), reads its events on a thread and
hands them to a callback, sends pause, resume and stop down a pipe, and keeps the latest weights the run sent. Its
``model`` is the design compiled here with those weights and its ``bundle`` the run's samples loaded here, both made
when first asked for, so the insight views explain the model being trained. When the process dies without a last word
(the OOM killer's SIGKILL, a segfault), the run ends with a ``Failed`` event that says so, the run folder's
``status.json`` says ``failed`` with the reason, and the temporary files of writes it was making are removed.
"""

from __future__ import annotations

import atexit
import math
import multiprocessing
import shutil
import signal
import threading
import time
import weakref
from dataclasses import replace
from multiprocessing.connection import wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.fileformat import ProjectError, load, loads
from . import runs
from .child import PAUSE, RESUME, STOP, WEIGHTS, RunRequest, Weights, read_weights, serve
from .config import TrainConfig
from .events import EpochEnded, Event, EventCallback, Failed, Finished, RunStarted, StepEnded

if TYPE_CHECKING:
    from torch import nn

    from ..model.graph import Graph
    from .data import DataBundle

#: The shortest time between two requests for fresh weights (each costs the run a copy of its model).
WEIGHTS_EVERY_S = 0.5
#: Seconds a process that has sent its last event may take to exit before it is ended.
EXIT_GRACE_S = 10.0


class RemoteRun:
    """A run in a spawned process, offering what the window used of a ``Trainer``.

    ``pause``, ``resume``, ``stop`` and ``paused`` as on a ``Trainer``; ``model``, ``graph``, ``bundle`` and
    ``model_state_dict()`` as of the latest weights the run sent. Events reach ``on_event`` on a reader thread, the
    last one always a ``Finished`` or a ``Failed``.
    """

    def __init__(self, request: RunRequest, on_event: EventCallback):
        request, self._made_dir = _with_folder(request)
        self.request, self.on_event = request, on_event
        #: The run's folder: made here for a new run, so that a process that dies before its first event still
        #: leaves its run marked failed (None only if the runs folder cannot be written: the run then says why).
        self.run_dir: Path | None = Path(request.run_dir) if request.run_dir else None
        ctx = multiprocessing.get_context("spawn")
        self._events, events_end = ctx.Pipe(duplex=False)
        control_end, self._control = ctx.Pipe(duplex=False)
        self._child_ends = (events_end, control_end)
        self._process = ctx.Process(target=serve, args=(request, events_end, control_end), name="training")
        self._reader = threading.Thread(target=self._read, name="training-events", daemon=True)
        self._done = threading.Event()  # the last event is handed over (the process may still be exiting)
        self._send_lock, self._bundle_lock, self._model_lock = threading.Lock(), threading.Lock(), threading.Lock()
        self._paused = False
        self._ending: str | None = None  # why we ended the process ourselves
        self._step: int | None = None
        self._started: RunStarted | None = None
        self._weights: Weights | None = None
        self._applied: Weights | None = None
        self._asked_at = -math.inf
        self._design: tuple[Graph, TrainConfig] | None = None
        self._model: nn.Module | None = None
        self._bundle: DataBundle | None = None

    def start(self) -> None:
        """Start the run; the process is spawned on the reader thread, so this returns at once."""
        _stop_at_exit(self)
        self._reader.start()

    @property
    def running(self) -> bool:
        """True until the last event has been handed to ``on_event``."""
        return self._reader.is_alive() and not self._done.is_set()

    @property
    def pid(self) -> int | None:
        """The child process's id (None until it is spawned)."""
        return self._process.pid

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run's last event; True if it has come."""
        return not self._reader.is_alive() or self._done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Stop the run and wait for its checkpoint; end the process if it takes longer than ``timeout`` seconds."""
        if not self.running:
            return
        self.stop()
        if not self.join(timeout):
            self._ending = f"the training process did not stop within {timeout:.0f} s and was ended"
            if self._process.exitcode is None and self._process.pid is not None:
                self._process.kill()
            self.join(EXIT_GRACE_S)

    # -- control ------------------------------------------------------------------------------------------------------

    def pause(self) -> None:
        """Wait after the current step, with a checkpoint saved, until ``resume()`` or ``stop()``."""
        self._paused = True
        self._send(PAUSE)

    def resume(self) -> None:
        """Go on after ``pause()``."""
        self._paused = False
        self._send(RESUME)

    def stop(self) -> None:
        """End after the current step, saving a checkpoint the run can be resumed from."""
        self._paused = False
        self._send(STOP)

    @property
    def paused(self) -> bool:
        """True between ``pause()`` and the next ``resume()`` or ``stop()``."""
        return self._paused

    def request_weights(self) -> None:
        """Ask for the weights as of the next step, unless asked less than ``WEIGHTS_EVERY_S`` ago."""
        now = time.monotonic()
        if now - self._asked_at >= WEIGHTS_EVERY_S:
            self._asked_at = now
            self._send(WEIGHTS)

    def _send(self, command: str) -> None:
        with self._send_lock:
            try:
                self._control.send(command)
            except (OSError, ValueError):  # the process has ended: there is nothing left to control
                pass

    # -- what the run trains ------------------------------------------------------------------------------------------

    @property
    def graph(self) -> Graph | None:
        """The design the run trains (None if its run folder cannot be read)."""
        design = self._read_design()
        return design[0] if design is not None else None

    @property
    def model(self) -> nn.Module | None:
        """The design compiled here with the latest weights the run sent (None before the first); asks for newer."""
        weights = self._weights
        if weights is None:
            return None
        if self.running:
            self.request_weights()
        with self._model_lock:
            if self._model is None:
                from .setup import build_model

                graph, config = self._require_design()
                self._model = build_model(graph, config.seed).model
            if self._applied is not weights:
                self._model.load_state_dict(read_weights(weights.data))
                self._applied = weights
            return self._model

    def model_state_dict(self) -> dict[str, Any]:
        """The latest weights the run sent (the final ones once it has ended)."""
        weights = self._weights
        if weights is None:
            raise RuntimeError("the run has not sent its weights yet")
        return read_weights(weights.data)

    @property
    def bundle(self) -> DataBundle | None:
        """The run's samples, loaded here when first asked for after the run has started (None before)."""
        if self._started is None:
            return None
        with self._bundle_lock:
            if self._bundle is None:
                from ..analysis.validate import analyze
                from .engine import load_run_data

                graph, config = self._require_design()
                shape = analyze(graph).shape(graph.input_ids()[0]) or ()
                self._bundle = load_run_data(config, tuple(shape))
            return self._bundle

    def _read_design(self) -> tuple[Graph, TrainConfig] | None:
        if self._design is None:
            try:
                self._design = _design_of(self.request)
            except (OSError, ValueError, KeyError, ProjectError):  # a damaged run folder: the run says what is wrong
                return None
        return self._design

    def _require_design(self) -> tuple[Graph, TrainConfig]:
        design = self._read_design()
        if design is None:
            raise RuntimeError(f"cannot read the design of the run in {self.request.run_dir}")
        return design

    # -- the reader thread --------------------------------------------------------------------------------------------

    def _read(self) -> None:
        try:
            self._process.start()
        except Exception as exc:  # no memory or processes left to start one
            self._deliver(Failed("process.start", f"the training process could not start: {exc}"))
            return
        finally:
            for end in self._child_ends:  # the child's ends: with them closed here, its death reads as an end of file
                end.close()
        try:
            self._receive_all()
        except Exception as exc:  # a message that cannot be read: a run that cannot be followed is ended
            self._ending = f"the training process sent what could not be read ({type(exc).__name__}: {exc})"
            self._process.kill()
        self._process.join(EXIT_GRACE_S)
        if self._process.exitcode is None:  # it sent its last event but hangs on its way out
            self._process.kill()
            self._process.join()
        if self._made_dir and self.run_dir is not None and not (self.run_dir / runs.CONFIG).exists():
            # the run never made the folder its own (this process made it new): leave neither it nor what a child
            # killed mid-write left in it (a half-written config's temporary file); before the end is delivered,
            # which is when a caller waiting on the run looks
            shutil.rmtree(self.run_dir, ignore_errors=True)
        if not self._done.is_set():
            self._deliver(self._crash_event(self._process.exitcode))
        self._events.close()
        with self._send_lock:
            self._control.close()

    def _receive_all(self) -> None:
        conn, died = self._events, self._process.sentinel
        while True:
            if conn not in wait([conn, died]) and not conn.poll(0):
                return  # the process died and nothing it sent is left (its data loaders may hold the pipe open)
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if isinstance(message, Weights):
                self._weights = message
            else:
                self._deliver(message)

    def _deliver(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.run_dir, self._started = Path(event.run_dir), event
        elif isinstance(event, (StepEnded, EpochEnded)):
            self._step = event.step
        self.on_event(event)
        if isinstance(event, (Finished, Failed)):
            self._done.set()

    def _crash_event(self, exitcode: int | None) -> Failed:
        code, message, hint = crash_reason(exitcode)
        if self._ending is not None:
            code, message, hint = "process.ended", self._ending, ""
        checkpoint = None
        run_dir = self.run_dir if self.run_dir is not None and (self.run_dir / runs.CONFIG).exists() else None
        if run_dir is not None:
            record_failure(run_dir, code, message, self._step)
            last = run_dir / runs.LAST
            checkpoint = str(last) if last.exists() else None
        return Failed(code, message, hint, self._step, str(run_dir) if run_dir else None, checkpoint)


def _with_folder(request: RunRequest) -> tuple[RunRequest, bool]:
    """``request`` with a new folder made for a new run, and whether one was made (the run's own ``runs_root`` error
    says what is wrong when none can be)."""
    if request.project_json is None or request.run_dir is not None or request.runs_root is None:
        return request, False
    try:
        return replace(request, run_dir=str(runs.new_run_dir(request.runs_root))), True
    except OSError:
        return request, False


_running: weakref.WeakSet[RemoteRun] = weakref.WeakSet()


def _stop_at_exit(run: RemoteRun) -> None:
    """Stop ``run`` if this interpreter exits first: multiprocessing's exit handler waits for the process, which
    would otherwise train to its last epoch (ours runs first: registered after it, and exit handlers run in reverse)."""
    if not _running:
        atexit.unregister(_stop_all)
        atexit.register(_stop_all)
    _running.add(run)


def _stop_all() -> None:
    for run in list(_running):
        run.stop()


def crash_reason(exitcode: int | None) -> tuple[str, str, str]:
    """``(code, message, hint)`` for a training process that ended with ``exitcode`` without saying why."""
    if exitcode == -signal.SIGKILL:
        return (
            "process.killed",
            "the training process was killed by the system (out of memory?)",
            "a smaller batch size, model or dataset needs less memory",
        )
    if exitcode is not None and exitcode < 0:
        try:
            name = f" ({signal.Signals(-exitcode).name})"
        except ValueError:
            name = ""
        return (
            "process.crashed",
            f"the training process crashed with signal {-exitcode}{name}",
            "the crash report is in the terminal the designer was started from",
        )
    return "process.crashed", f"the training process ended unexpectedly (exit code {exitcode})", ""


def record_failure(run_dir: Path, code: str, message: str, step: int | None) -> None:
    """Mark the run in ``run_dir`` failed with the reason, keeping what its status said; remove half-written files.

    Only for a run whose process has died: its temporary files (``.last.pt.<random>.tmp``...) belong to no writer.
    """
    if not (run_dir / runs.CONFIG).exists():
        return  # the run died before making its folder its own
    try:
        before = runs.read_json(run_dir / runs.STATUS) if (run_dir / runs.STATUS).exists() else {}
    except (OSError, ValueError):
        before = {}
    kept = {k: v for k, v in before.items() if k not in ("status", "updated", "code", "message")}
    if step is not None:
        kept["step"] = max(step, int(kept.get("step", 0)))
    try:
        for leftover in run_dir.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)
        runs.write_status(run_dir, "failed", **kept, code=code, message=message)
    except OSError:
        pass  # a folder that cannot be written: the window still says what happened


def _design_of(request: RunRequest) -> tuple[Graph, TrainConfig]:
    if request.project_json is not None:
        return loads(request.project_json), TrainConfig.from_dict(request.config or {})
    run_dir = Path(request.run_dir or "")
    config = TrainConfig.from_dict(runs.read_json(run_dir / runs.CONFIG)["config"], ignored=[])
    return load(run_dir / runs.PROJECT), config
