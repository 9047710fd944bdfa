"""The loop itself: epochs of steps, reports, validation, pauses and checkpoints over a set-up ``Session``."""

from __future__ import annotations

import math
import time
from typing import Literal

import torch

from . import distributed, runs
from .control import Clock, RunControl
from .events import EpochEnded, Note, Paused, Resumed, StepEnded
from .outputs import RunOutputs
from .session import Loaders, Session
from .setup import TrainingError, set_train_mode
from .state import RunState
from .stepping import backward_and_step, warmup_factor, warmup_steps
from .tasks import GatherMeter, Meter, SumMeter, run_model, sum_dtype

Ending = Literal["completed", "stopped"]


class TrainingLoop:
    """Trains ``session`` from where ``state`` stands, advancing ``state`` in place and reporting to ``outputs``.

    ``control`` is read between steps: a pause waits there (after a checkpoint), a stop ends there (after one).
    """

    def __init__(
        self, session: Session, loaders: Loaders, state: RunState, control: RunControl, outputs: RunOutputs
    ) -> None:
        self.session, self.loaders, self.state = session, loaders, state
        self.control, self.outputs = control, outputs
        self.clock = Clock(state.elapsed_s)  # made just before run(): setting up is not training
        device = session.device
        # Sums since the last report, kept on the device so that a step does not wait for it.
        self._w_loss = torch.zeros((), device=device)
        self._w_score = torch.zeros((), dtype=sum_dtype(device), device=device)
        self._w_n = 0
        self._bad_step = torch.full((), -1, dtype=torch.long, device=device)
        self._first_loss: float | None = None  # the first reported loss: what divergence is measured against
        self._rate: float | None = None
        self._val_time: float | None = None
        self._mark = 0.0
        self._warm = 1.0  # the warm-up's factor on the learning rate at the last step

    def run(self) -> Ending:
        """Train the remaining epochs; ``stopped`` when asked to stop (a checkpoint of that step is saved)."""
        while self.state.epoch < self.session.config.epochs:
            if self._train_epoch():
                self._save(best=False)
                return "stopped"
            self._end_epoch()
        return "completed"

    def elapsed(self) -> float:
        """Seconds of training so far, earlier sessions of a resumed run included and pauses left out."""
        return self.clock.elapsed()

    def _train_epoch(self) -> bool:
        """One epoch from ``state.batch_in_epoch``; True when asked to stop."""
        s, st, control = self.session, self.state, self.control
        self.loaders.sampler.set_epoch(st.epoch, skip=st.batch_in_epoch * s.config.batch_size)
        set_train_mode(s.model, s.frozen)
        self._mark = time.perf_counter()
        single = not s.dist.enabled
        for x, y, broken in self.loaders.train:
            if broken:
                self._skip_images(broken)
            if len(y):
                self._train_step(x, y)
            st.batch_in_epoch += 1
            st.step += 1
            if st.step % s.log_every == 0 or st.batch_in_epoch == s.steps_per_epoch:
                self._report()
                if not single and distributed.any_true(control.stop_requested, s.dist, s.device):
                    return True
            if single and control.stop_requested:
                self._report()
                return True
            if control.paused:
                self._pause()
                if control.stop_requested:  # stopped while paused: the pause checkpoint is this very step
                    return True
        return False

    def _train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        s, t = self.session, self.session.trainables
        x, y = s.prep(x), y.to(s.device, non_blocking=True)
        with torch.autocast(s.device.type, dtype=s.amp, enabled=s.amp is not None):
            out = run_model(s.task, s.wrapped, x, y)
            loss = s.loss_fn(out, y)
        t.optimizer.zero_grad(set_to_none=True)
        self._warm = warmup_factor(self.state.step, warmup_steps(s.config.warmup_epochs, s.steps_per_epoch))
        backward_and_step(t.optimizer, t.scaler, loss, s.config.clip_grad_norm, self._warm)
        if s.per_step_schedule and t.scheduler is not None:
            t.scheduler.step()
        n = len(y)
        with torch.no_grad():
            self._w_loss += loss.detach().float() * n
            self._w_score += s.task.train_score(out, y)  # under no_grad: nothing to detach
            if s.log_every > 1:  # find the exact bad step without waiting for the device every step
                bad = (self._bad_step < 0) & ~torch.isfinite(loss.detach())
                self._bad_step = torch.where(bad, self.state.step + 1, self._bad_step)
        self._w_n += n
        self.state.samples += n * s.dist.world_size

    def _report(self) -> None:
        """Turn the steps since the last report into a ``StepEnded`` event and a ``metrics.csv`` row."""
        n, st = self._w_n, self.state
        if n == 0:
            return
        loss, acc = float(self._w_loss) / n, float(self._w_score) / n
        self._check_loss(loss)
        rate = self._measure_rate(n)
        st.epoch_sums[0] += loss * n
        st.epoch_sums[1] += acc * n
        st.epoch_sums[2] += n
        self._w_loss.zero_()
        self._w_score.zero_()
        self._w_n = 0
        lr, elapsed = self._lr(), self.elapsed()
        event = StepEnded(st.epoch + 1, st.step, self.session.total_steps, loss, acc, lr, rate, self._eta(), elapsed)
        self.outputs.row("step", st, elapsed, train_loss=loss, train_acc=acc, lr=lr, samples_per_s=rate)
        self.outputs.emit(event)

    def _check_loss(self, loss: float) -> None:
        """Stop the run when the loss is no longer finite, or has grown far beyond its first value (diverged)."""
        s, finite = self.session, math.isfinite(loss)
        grown = finite and diverged(self._first_loss, loss)
        if s.dist.enabled:  # every rank stops together, or the healthy ones would wait for the failed one
            finite = not distributed.any_true(not finite, s.dist, s.device)
            grown = distributed.any_true(grown, s.dist, s.device)
        if finite and not grown:
            if self._first_loss is None:
                self._first_loss = loss
            return
        step, epoch, lr = self.state.step, self.state.epoch + 1, self._lr()
        kept = self._kept_checkpoint()
        if not finite:
            bad = int(self._bad_step) if s.log_every > 1 else step
            raise TrainingError(
                "loss.nonfinite",
                f"the training loss became {loss} at step {bad} (epoch {epoch}, learning rate {lr:g})",
                f"lower the learning rate (e.g. {lr / 10:g}), or train in fp32; {kept}",
            )
        raise TrainingError(
            "loss.diverged",
            f"the training loss grew from {self._first_loss:.4g} to {loss:.4g} by step {step} (epoch {epoch}, "
            f"learning rate {lr:g}): the run diverged",
            f"lower the learning rate (e.g. {lr / 10:g}) or warm it up (the one-cycle schedule does); {kept}",
        )

    def _kept_checkpoint(self) -> str:
        folder = self.outputs.folder
        if folder is not None and (folder / runs.LAST).exists():
            return f"the last good checkpoint, {runs.LAST}, is kept"
        return "no checkpoint was written before it"

    def _measure_rate(self, n: int) -> float:
        """Samples per second since the last report, smoothed over reports."""
        now = time.perf_counter()
        rate = n * self.session.dist.world_size / max(now - self._mark, 1e-9)
        self._mark = now
        smoothed = rate if self._rate is None else 0.8 * self._rate + 0.2 * rate
        self._rate = smoothed
        return smoothed

    def _lr(self) -> float:
        """The base learning rate (the first group's, without its node's multiplier)."""
        group = self.session.trainables.optimizer.param_groups[0]
        return float(group["lr"]) / float(group.get("lr_mult", 1.0)) * self._warm

    def _eta(self) -> float:
        s, st = self.session, self.state
        if not self._rate:
            return math.nan
        per_step = s.config.batch_size * s.dist.world_size / self._rate
        val = self._val_time if self._val_time is not None else 0.3 * s.val_samples / self._rate
        return (s.total_steps - st.step) * per_step + val * (s.config.epochs - st.epoch)

    def _end_epoch(self) -> None:
        s, st, scheduler = self.session, self.state, self.session.trainables.scheduler
        t0 = time.perf_counter()
        val_loss, metrics = self._validate()
        self._val_time = time.perf_counter() - t0
        loss_sum, score, n = distributed.all_sum(st.epoch_sums, s.dist, s.device)
        train_loss, train_acc = (loss_sum / n, score / n) if n else (math.nan, math.nan)
        if scheduler is not None and not s.per_step_schedule:
            scheduler.step()
        st.epoch += 1
        st.batch_in_epoch = 0
        st.epoch_sums = [0.0, 0.0, 0.0]
        task = s.task
        val_acc = metrics.get(task.metric_names[0])
        headline = metrics.get(task.headline)
        score = headline if headline is not None else train_acc
        is_best = st.best_accuracy is None or score > st.best_accuracy
        if is_best:
            st.best_accuracy = score
        lr, rate, elapsed = self._lr(), self._rate, self.elapsed()
        values = dict(train_loss=train_loss, train_acc=train_acc, val_loss=val_loss, val_acc=val_acc, lr=lr)
        named = {k: metrics.get(k) for k in task.metric_names}
        self.outputs.row("epoch", st, elapsed, **{**named, **values}, samples_per_s=rate)
        event = EpochEnded(
            epoch=st.epoch,
            epochs=s.config.epochs,
            step=st.step,
            train_loss=train_loss,
            train_accuracy=train_acc,
            val_loss=val_loss,
            val_accuracy=val_acc,
            lr=lr,
            samples_per_s=rate or 0.0,
            eta_s=self._eta(),
            elapsed_s=elapsed,
            skipped_images=st.skipped_images,
            metrics=metrics,
            headline=task.headline,
        )
        self.outputs.emit(event)
        self._save(best=is_best)
        self.outputs.status("running", epoch=st.epoch, step=st.step, best_val_accuracy=st.best_accuracy)

    def _validate(self) -> tuple[float | None, dict[str, float]]:
        """Mean loss and the task's metrics over the validation set, summed over all ranks; None and {} without one."""
        s, val_loader = self.session, self.loaders.val
        if val_loader is None:
            return None, {}
        s.model.eval()
        loss_sum = torch.zeros((), device=s.device)
        meter = s.task.meter()
        n = 0
        with torch.no_grad(), torch.autocast(s.device.type, dtype=s.amp, enabled=s.amp is not None):
            for x, y, broken in val_loader:
                if broken:
                    self._skip_images(broken)
                if not len(y):
                    continue
                y = y.to(s.device, non_blocking=True)
                out = run_model(s.task, s.model, s.prep(x), y)
                loss_sum += s.loss_fn(out, y).float() * len(y)
                meter.update(out, y)
                n += len(y)
        total_loss, total_n = distributed.all_sum([float(loss_sum), float(n)], s.dist, s.device)
        if not total_n:
            return None, {}
        return total_loss / total_n, self._metrics(meter, n, total_n)

    def _metrics(self, meter: Meter, n: int, total_n: float) -> dict[str, float]:
        """The meter's metrics over every rank: sums are added before computing; other meters are averaged."""
        s = self.session
        if not s.dist.enabled:
            return meter.compute()
        if isinstance(meter, SumMeter):
            meter.reduce(lambda t: distributed.all_sum_tensor(t.to(s.device, sum_dtype(s.device)), s.dist))
            return meter.compute()
        if isinstance(meter, GatherMeter):  # mAP: every rank computes it over every rank's images
            meter.gather(lambda value: distributed.all_gather(value, s.dist))
            return meter.compute()
        mine = meter.compute() if n else {}
        names = s.task.metric_names  # the same on every rank, so every rank adds the same numbers
        totals = distributed.all_sum([mine.get(k, 0.0) * n for k in names], s.dist, s.device)
        return {k: v / total_n for k, v in zip(names, totals)}

    def _skip_images(self, paths: list[str]) -> None:
        self.state.skipped_images += len(paths)
        for p in paths:
            self.outputs.emit(Note("data.broken_image", f"skipped an unreadable image: {p}"))

    def _pause(self) -> None:
        st = self.state
        self._report()
        self._save(best=False)
        self.outputs.status("paused", epoch=st.epoch, step=st.step, best_val_accuracy=st.best_accuracy)
        self.outputs.emit(Paused(st.step))
        self.clock.leave_out(self.control.wait_while_paused())  # paused time is not training time
        self._mark = time.perf_counter()
        if not self.control.stop_requested:
            self.outputs.status("running", epoch=st.epoch, step=st.step)
            self.outputs.emit(Resumed(st.step))

    def _save(self, best: bool) -> None:
        self.state.elapsed_s = self.elapsed()
        self.outputs.checkpoint(self.state, best)


#: A loss this many times its first value means the run diverged (issue 13: 1e4).
DIVERGENCE_FACTOR = 1e4


def diverged(first: float | None, loss: float) -> bool:
    """Whether ``loss`` has grown past ``DIVERGENCE_FACTOR`` times the run's first reported loss."""
    return first is not None and loss > DIVERGENCE_FACTOR * max(first, 1e-6)
