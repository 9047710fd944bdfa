"""A run in a child process, so that what torch does to its process (a segfault in a kernel, the OOM killer) ends the
run and not the program that started it.

The parent (``remote.RemoteRun``) spawns ``serve`` with two one-way pipes: events and weight snapshots come back on
one, ``pause``, ``resume``, ``stop`` and ``weights`` go out on the other, read by a small thread here. The model's
weights travel as ``torch.save`` bytes of a CPU ``state_dict``: at the start, at each epoch's end, at the end, and at
the next step after the parent asks. Importing this module does not import torch.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .events import EpochEnded, Event, Failed, Finished, Paused, RunStarted, StepEnded

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from torch import nn

    from .engine import Trainer

PAUSE, RESUME, STOP, WEIGHTS = "pause", "resume", "stop", "weights"
#: Events after which the parent always gets the weights: the model as set up, after each epoch, and as it ended.
ALWAYS_WEIGHTS = (RunStarted, EpochEnded, Finished, Failed)
#: Events sent between two steps, when the weights can be read whole (a snapshot asked for waits for one of them).
BETWEEN_STEPS = (*ALWAYS_WEIGHTS, StepEnded, Paused)


@dataclass(frozen=True)
class RunRequest:
    """What the child trains: a new run of a design (in ``run_dir`` if given, else in a new folder of
    ``runs_root``), or (``run_dir`` alone) the continuation of a stopped run."""

    project_json: str | None = None
    config: dict[str, Any] | None = None
    runs_root: str | None = None
    run_dir: str | None = None

    @classmethod
    def new(cls, project_json: str, config: dict[str, Any], runs_root: str) -> RunRequest:
        """A new run of the design ``project_json`` with the settings ``config``, in a new folder in ``runs_root``."""
        return cls(project_json=project_json, config=config, runs_root=runs_root)

    @classmethod
    def resume(cls, run_dir: str) -> RunRequest:
        """Continue the run in ``run_dir`` from its last checkpoint."""
        return cls(run_dir=run_dir)


@dataclass(frozen=True)
class Weights:
    """The model's weights between two steps (``step``): ``torch.save`` bytes of a CPU ``state_dict``."""

    step: int
    data: bytes


def make_trainer(request: RunRequest, on_event: Any) -> Trainer:
    """The ``Trainer`` a request asks for (this imports torch)."""
    from ..model.fileformat import loads
    from .config import TrainConfig
    from .engine import Trainer

    if request.project_json is None:
        if request.run_dir is None:
            raise ValueError("a run request names a design or a run folder")
        return Trainer.from_run_dir(request.run_dir, on_event=on_event)
    config = TrainConfig.from_dict(request.config or {})
    run_dir = request.run_dir  # a new run's folder, when the parent made it (``RemoteRun``)
    return Trainer(loads(request.project_json), config, run_dir=run_dir, runs_root=request.runs_root, on_event=on_event)


def serve(request: RunRequest, events: Connection, control: Connection) -> None:
    """The child process: build the trainer, obey ``control`` on a thread, run, and report everything on ``events``."""
    link = _Link(events)
    try:
        trainer = make_trainer(request, link.on_event)
    except Exception as exc:  # a bad run folder or setting: the parent shows it as it shows a failed run
        code, hint = str(getattr(exc, "code", "error")), str(getattr(exc, "hint", ""))
        link.send(Failed(code, str(getattr(exc, "message", exc)), hint))
        return
    link.trainer = trainer
    threading.Thread(target=link.obey, args=(control,), name="control", daemon=True).start()
    trainer.run()


def weights_bytes(model: nn.Module) -> bytes:
    """``model``'s ``state_dict`` on the CPU, as ``torch.save`` bytes."""
    import torch

    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    return buffer.getvalue()


def read_weights(data: bytes) -> dict[str, Any]:
    """The ``state_dict`` in ``Weights.data`` (tensors only: nothing in it can run code)."""
    import torch

    loaded: dict[str, Any] = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    return loaded


class _Link:
    """The child's end: sends events and weights to the parent, and turns its requests into trainer calls."""

    def __init__(self, events: Connection):
        self._events = events
        self._lock = threading.Lock()  # the training thread and the control thread both send
        self._wanted = threading.Event()
        self._waiting = False  # the run waits in a pause: its weights may be read at any time
        self._step = 0
        self.trainer: Trainer | None = None

    def send(self, message: Event | Weights) -> None:
        with self._lock:
            self._events.send(message)

    def on_event(self, event: Event) -> None:
        """The engine's callback, on the training thread."""
        self._step = getattr(event, "step", None) or self._step
        if isinstance(event, BETWEEN_STEPS) and (isinstance(event, ALWAYS_WEIGHTS) or self._wanted.is_set()):
            self._send_weights()
        self._waiting = isinstance(event, Paused)  # the loop waits right after it says so, until told to go on
        try:
            self.send(event)
        except OSError:  # the parent is gone: end with a checkpoint that can be resumed
            if self.trainer is not None:
                self.trainer.stop()

    def obey(self, control: Connection) -> None:
        """Read the parent's requests until the run ends (the control thread)."""
        trainer = self.trainer
        assert trainer is not None
        while True:
            try:
                command = control.recv()
            except (EOFError, OSError):  # the parent is gone
                trainer.stop()
                return
            if command in (RESUME, STOP):
                self._waiting = False
            if command == PAUSE:
                trainer.pause()
            elif command == RESUME:
                trainer.resume()
            elif command == STOP:
                trainer.stop()
            elif command == WEIGHTS:
                self._wanted.set()
                if self._waiting:
                    self._send_weights()

    def _send_weights(self) -> None:
        self._wanted.clear()
        model = self.trainer.model if self.trainer is not None else None
        if model is None:
            return
        try:
            data = weights_bytes(model)
        except Exception:  # a device that failed cannot be read: the event that follows says why
            return
        try:
            self.send(Weights(self._step, data))
        except OSError:
            pass  # the parent is gone; on_event stops the run
