"""The learning-rate range test (Smith, 2017; fastai's lr_find): train with an exponentially rising learning rate,
watch the smoothed loss, and propose the rate where it falls fastest.

One step per learning rate, ``steps`` of them from ``start`` to ``end``; the run stops early once the smoothed loss
exceeds ``diverge`` times its best. The model is a fresh build of the design: nothing of the test is kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..model.graph import Graph
from .config import TrainConfig, read_section

#: Stop once the smoothed loss is this many times its lowest value (fastai's choice).
DIVERGE = 4.0
#: Weight of the past in the exponential moving average of the loss.
BETA = 0.98


@dataclass(frozen=True)
class Proposal:
    """Where the smoothed loss falls fastest, where it is lowest, and the rate proposed from them."""

    steepest: float | None
    minimum: float | None
    #: The steepest descent, but at least ten times below the minimum's rate (the loss is about to turn there).
    lr: float | None


@dataclass(frozen=True)
class LrFindResult:
    """One range test's curve and proposal; ``ended`` is ``diverged``, ``nonfinite``, ``done`` or ``stopped``."""

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]
    proposal: Proposal
    ended: str

    def to_csv(self) -> str:
        """``step,lr,loss,smoothed_loss`` rows."""
        rows = ["step,lr,loss,smoothed_loss"]
        rows += [
            f"{i},{lr:.6g},{x:.6g},{s:.6g}" for i, (lr, x, s) in enumerate(zip(self.lrs, self.losses, self.smoothed))
        ]
        return "\n".join(rows) + "\n"


def lr_schedule(start: float, end: float, steps: int) -> list[float]:
    """``steps`` learning rates rising geometrically from ``start`` to ``end``."""
    if steps < 2 or not 0 < start < end:
        raise ValueError(f"need 0 < start < end and at least 2 steps, got {start:g}, {end:g}, {steps}")
    ratio = (end / start) ** (1 / (steps - 1))
    return [start * ratio**i for i in range(steps)]


def smooth(losses: list[float], beta: float = BETA) -> list[float]:
    """The exponential moving average of ``losses``, bias-corrected so that the first values are not pulled to 0."""
    out, avg = [], 0.0
    for i, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def propose(lrs: list[float] | tuple[float, ...], smoothed: list[float] | tuple[float, ...]) -> Proposal:
    """The steepest descent of ``smoothed`` over log(lr) before its minimum, the minimum, and the proposal."""
    finite = [i for i, s in enumerate(smoothed) if math.isfinite(s)]
    if not finite:
        return Proposal(None, None, None)
    low = min(finite, key=lambda i: smoothed[i])
    slopes = {
        i: (smoothed[i + 1] - smoothed[i - 1]) / math.log(lrs[i + 1] / lrs[i - 1])
        for i in range(1, min(low + 1, len(smoothed) - 1))
        if math.isfinite(smoothed[i + 1]) and math.isfinite(smoothed[i - 1])
    }
    steep = min(slopes, key=lambda i: slopes[i]) if slopes else None
    steepest = lrs[steep] if steep is not None and slopes[steep] < 0 else None
    minimum = lrs[low]
    lr = min(steepest, minimum / 10) if steepest is not None else minimum / 10
    return Proposal(steepest, minimum, lr)


def find_lr(
    graph: Graph,
    config: TrainConfig | None = None,
    *,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
    on_step: Callable[[int, float, float, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> LrFindResult:
    """Run the range test on a fresh model of ``graph`` with ``config``'s data, optimiser, batch and clipping.

    ``on_step(step, lr, loss, smoothed)`` reports each step; ``should_stop()`` ends the test between steps.
    Raises the engine's ``TrainingError``/``DataError``/``ConfigError`` for what cannot be set up.
    """
    cfg = (config or read_section(graph)).replace(schedule="none", warmup_epochs=0.0)
    session, loaders = _open(graph, cfg)
    rates = lr_schedule(start, end, steps)
    t = session.trainables
    losses: list[float] = []
    smoothed: list[float] = []
    ended = "done"
    for (x, y), lr in zip(_batches(loaders), rates):
        for group in t.optimizer.param_groups:
            group["lr"] = lr * float(group.get("lr_mult", 1.0))
        loss = _step(session, cfg, x, y)
        losses.append(loss)
        smoothed.append(smooth(losses)[-1] if math.isfinite(loss) else math.nan)
        if on_step is not None:
            on_step(len(losses) - 1, lr, loss, smoothed[-1])
        ended = _verdict(smoothed)
        if ended != "done" or (should_stop is not None and should_stop()):
            ended = ended if ended != "done" else "stopped"
            break
    n = len(losses)
    return LrFindResult(tuple(rates[:n]), tuple(losses), tuple(smoothed), propose(rates[:n], smoothed), ended)


def _verdict(smoothed: list[float]) -> str:
    last = smoothed[-1]
    if not math.isfinite(last):
        return "nonfinite"
    return "diverged" if last > DIVERGE * min(smoothed) else "done"


def _open(graph: Graph, cfg: TrainConfig) -> tuple[Any, Any]:
    """The engine's set-up of a run (model, data, optimiser, loss, batch shaping), without a run folder."""
    import torch

    from .distributed import DistInfo
    from .engine import load_run_data
    from .session import Placement, open_session
    from .setup import build_model, check_classes, resolve_device, resolve_precision, set_train_mode

    cfg.check()
    device = resolve_device(cfg.device)
    precision, amp = resolve_precision(cfg.precision, device)
    torch.manual_seed(cfg.seed)
    info = build_model(graph, cfg.seed)
    bundle = load_run_data(cfg, info.input_shape)
    check_classes(info.outputs, info.output_id, bundle.classes, str(bundle.spec))
    session, loaders = open_session(graph, cfg, info, bundle, Placement(DistInfo(), device, precision, amp))
    set_train_mode(session.model, session.frozen)
    return session, loaders


def _batches(loaders: Any) -> Iterator[tuple[Any, Any]]:
    """Training batches, epoch after epoch, for as long as they are asked for."""
    epoch = 0
    while True:
        loaders.sampler.set_epoch(epoch, skip=0)
        seen = False
        for x, y, _ in loaders.train:
            if len(y):
                seen = True
                yield x, y
        if not seen:
            return
        epoch += 1


def _step(session: Any, cfg: TrainConfig, x: Any, y: Any) -> float:
    """One training step at the optimiser's current rates; the batch's loss."""
    import torch

    from .stepping import backward_and_step
    from .tasks import run_model

    t = session.trainables
    x, y = session.prep(x), y.to(session.device, non_blocking=True)
    with torch.autocast(session.device.type, dtype=session.amp, enabled=session.amp is not None):
        loss = session.loss_fn(run_model(session.task, session.wrapped, x, y), y)
    t.optimizer.zero_grad(set_to_none=True)
    if not torch.isfinite(loss):
        return math.nan
    backward_and_step(t.optimizer, t.scaler, loss, cfg.clip_grad_norm)
    return float(loss.detach())
