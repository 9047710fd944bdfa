"""Refreshing insight views while a model trains, within a budget of the training's time."""

from __future__ import annotations

import copy
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


class RefreshThrottle:
    """Decides when a live view may refresh so that its work takes at most ``budget`` of the wall-clock time.

    After a refresh that cost ``t`` seconds (the snapshot on the training thread plus the computation), the next one
    waits ``t * (1 - budget) / budget``: the work is then at most ``budget`` of the time, whatever the model's size
    or the machine's speed. ``min_steps`` additionally spaces refreshes by training steps, and only one refresh is
    in flight at a time. Thread-safe: the training thread asks, a worker reports.
    """

    def __init__(self, budget: float = 0.03, min_steps: int = 1, clock: Callable[[], float] = time.monotonic):
        if not 0 < budget <= 1:
            raise ValueError(f"budget must be in (0, 1], got {budget}")
        self.budget, self.min_steps, self.clock = budget, max(1, min_steps), clock
        self._lock = threading.Lock()
        self._busy = False
        self._next_at = float("-inf")
        self._last_step: int | None = None
        self.refreshes = 0
        self.spent = 0.0

    @property
    def busy(self) -> bool:
        """Whether a refresh is in flight."""
        return self._busy

    def claim(self, step: int) -> bool:
        """True (and the throttle is now busy) when a refresh may start at ``step``; the caller must call ``done``."""
        with self._lock:
            if self._busy or self.clock() < self._next_at:
                return False
            if self._last_step is not None and step - self._last_step < self.min_steps:
                return False
            self._busy, self._last_step = True, step
            return True

    def force(self) -> bool:
        """Claim regardless of time and steps (an epoch's end, the end of training); False only while busy."""
        with self._lock:
            if self._busy:
                return False
            self._busy = True
            return True

    def done(self, seconds: float) -> None:
        """The refresh finished after costing ``seconds`` of work."""
        with self._lock:
            self._busy = False
            self.refreshes += 1
            self.spent += seconds
            self._next_at = self.clock() + seconds * (1 - self.budget) / self.budget

    def reset(self) -> None:
        """Forget the history (a new run starts)."""
        with self._lock:
            self._busy, self._next_at, self._last_step = False, float("-inf"), None


def snapshot(module: nn.Module) -> nn.Module:
    """A frozen copy of ``module`` in evaluation mode, safe to probe while the original keeps training."""
    copied = copy.deepcopy(module)
    copied.eval()
    for p in copied.parameters():
        p.requires_grad_(False)
    return copied


class ShadowCopy:
    """A frozen copy of a module kept in step with it by copying its tensors in place.

    Rebuilding a copy costs far more than copying the weights (a ``GraphModule``'s deepcopy regenerates its code:
    about 10 ms for the Small CNN against 0.1 ms), and the copy is taken on the training thread. Whoever uses the
    copy must be done with it before the next ``update``.
    """

    def __init__(self) -> None:
        self._source: weakref.ref[nn.Module] | None = None
        self._copy: nn.Module | None = None
        self._layout: list[tuple[str, Any, Any, Any]] = []

    def update(self, module: nn.Module) -> nn.Module:
        """The copy, now holding ``module``'s current weights and buffers."""
        state = module.state_dict()
        layout = [(k, v.shape, v.dtype, v.device) for k, v in state.items()]
        if self._copy is None or self._source is None or self._source() is not module or layout != self._layout:
            self._copy, self._source, self._layout = snapshot(module), weakref.ref(module), layout
            return self._copy
        with torch.no_grad():
            for key, tensor in self._copy.state_dict().items():
                tensor.copy_(state[key])
        return self._copy
