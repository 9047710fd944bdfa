"""What happens between backward and the optimiser's step: gradient clipping and a linear learning-rate warm-up.

The warm-up scales the learning rates for the step only and puts the scheduled ones back afterwards, so that it
composes with any schedule (which keeps seeing its own values).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from . import eager_optim


def warmup_steps(warmup_epochs: float, steps_per_epoch: int) -> int:
    """The warm-up's length in steps (at least one when there is any warm-up)."""
    return max(1, round(warmup_epochs * steps_per_epoch)) if warmup_epochs > 0 else 0


def warmup_factor(step: int, steps: int) -> float:
    """The multiplier of the learning rate at 0-based ``step``: rising linearly to 1 at the end of the warm-up."""
    return 1.0 if step >= steps else (step + 1) / steps


@contextlib.contextmanager
def scaled_lr(optimizer: torch.optim.Optimizer, factor: float) -> Iterator[None]:
    """Every group's learning rate times ``factor`` inside the block, the scheduled value again after it."""
    if factor == 1.0:
        yield
        return
    saved = [group["lr"] for group in optimizer.param_groups]
    for group, lr in zip(optimizer.param_groups, saved):
        group["lr"] = lr * factor
    try:
        yield
    finally:
        for group, lr in zip(optimizer.param_groups, saved):
            group["lr"] = lr


def clip_gradients(optimizer: torch.optim.Optimizer, max_norm: float, scaler: torch.amp.GradScaler) -> None:
    """Scale the gradients down to a total norm of ``max_norm`` (0: off), unscaling fp16 gradients first."""
    if max_norm <= 0:
        return
    if scaler.is_enabled():
        scaler.unscale_(optimizer)
    params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    torch.nn.utils.clip_grad_norm_(params, max_norm)


def backward_and_step(
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    loss: torch.Tensor,
    max_norm: float = 0.0,
    lr_factor: float = 1.0,
) -> None:
    """Backward, clip to ``max_norm`` (0: off), then step with the learning rates times ``lr_factor``.

    In fp16 the loss is scaled for backward and the step goes through the scaler.
    """
    # torch.autograd.backward(loss) is loss.backward(), whose own signature torch leaves unannotated.
    if scaler.is_enabled():
        torch.autograd.backward(scaler.scale(loss))
        clip_gradients(optimizer, max_norm, scaler)
        with scaled_lr(optimizer, lr_factor):
            scaler.step(optimizer)
        scaler.update()
    else:
        torch.autograd.backward(loss)
        clip_gradients(optimizer, max_norm, scaler)
        with scaled_lr(optimizer, lr_factor):
            eager_optim.step(optimizer)
