"""The loop itself: epochs of steps, reports, validation, pauses and checkpoints; ``Trainer`` sets it up."""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from . import distributed, runs
from .events import CheckpointSaved, EpochEnded, Finished, Note, Paused, Resumed, StepEnded
from .setup import TrainingError, set_train_mode
from .state import save_checkpoint


class TrainingLoop:
    """The training half of ``Trainer``: it reads the model, loaders and optimiser that ``Trainer._setup`` made."""

    def _train(self) -> Finished:
        self._clock = time.perf_counter() - self._elapsed0
        self._rate: float | None = None
        self._val_time: float | None = None
        while self.epoch < self.config.epochs:
            if self._train_epoch():
                return self._finish("stopped")
            self._end_epoch()
        return self._finish("completed")

    def elapsed(self) -> float:
        return time.perf_counter() - self._clock

    def _train_epoch(self) -> bool:
        """One epoch from ``batch_in_epoch``; True when asked to stop."""
        self.sampler.set_epoch(self.epoch, skip=self.batch_in_epoch * self.config.batch_size)
        set_train_mode(self.model, self.frozen)
        self._mark = time.perf_counter()
        single = not self.dist.enabled
        for x, y, broken in self.train_loader:
            if broken:
                self._skip_images(broken)
            if len(y):
                self._train_step(x, y)
            self.batch_in_epoch += 1
            self.step += 1
            if self.step % self.log_every == 0 or self.batch_in_epoch == self.steps_per_epoch:
                self._report()
                if not single and distributed.any_true(self._stop_flag.is_set(), self.dist, self.device):
                    return True
            if single and self._stop_flag.is_set():
                self._report()
                return True
            if not self._go.is_set():
                self._pause()
                if self._stop_flag.is_set():  # stopped while paused: the pause checkpoint is this very step
                    return True
        return False

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        x = torch.addcmul(self._shift, x.float(), self._scale)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        x, y = self._prep(x), y.to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, dtype=self._amp, enabled=self._amp is not None):
            out = self.wrapped(x)
            loss = self.loss_fn(out, y)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler.is_enabled():
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        if self.per_step_schedule:
            self.scheduler.step()
        n = len(y)
        with torch.no_grad():
            self._w_loss += loss.detach().float() * n
            self._w_correct += self.correct_fn(out.detach(), y)
            if self.log_every > 1:  # find the exact bad step without waiting for the device every step
                bad = (self._bad_step < 0) & ~torch.isfinite(loss.detach())
                self._bad_step = torch.where(bad, self.step + 1, self._bad_step)
        self._w_n += n
        self.samples += n * self.dist.world_size

    def _report(self) -> None:
        """Turn the steps since the last report into a ``StepEnded`` event and a ``metrics.csv`` row."""
        n = self._w_n
        if n == 0:
            return
        loss, acc = float(self._w_loss) / n, float(self._w_correct) / n
        finite = math.isfinite(loss)
        if self.dist.enabled:  # every rank stops together, or the healthy ones would wait for the failed one
            finite = not distributed.any_true(not finite, self.dist, self.device)
        if not finite:
            bad = int(self._bad_step) if self.log_every > 1 else self.step
            raise TrainingError(
                "loss.nonfinite",
                f"the training loss became {loss} at step {bad} (epoch {self.epoch + 1})",
                f"lower the learning rate (now {self.config.lr:g}), or train in fp32; the last good checkpoint is kept",
            )
        now = time.perf_counter()
        rate = n * self.dist.world_size / max(now - self._mark, 1e-9)
        self._mark = now
        self._rate = rate if self._rate is None else 0.8 * self._rate + 0.2 * rate
        self._ep[0] += loss * n
        self._ep[1] += acc * n
        self._ep[2] += n
        self._w_loss.zero_()
        self._w_correct.zero_()
        self._w_n = 0
        lr = self.optimizer.param_groups[0]["lr"] / self.optimizer.param_groups[0].get("lr_mult", 1.0)
        event = StepEnded(
            self.epoch + 1, self.step, self.total_steps, loss, acc, lr, self._rate, self._eta(), self.elapsed()
        )
        self._write_row("step", train_loss=loss, train_acc=acc, lr=lr, samples_per_s=self._rate)
        self._emit(event)

    def _eta(self) -> float:
        if not self._rate:
            return math.nan
        per_step = self.config.batch_size * self.dist.world_size / self._rate
        val = self._val_time if self._val_time is not None else 0.3 * len(self.bundle.val or ()) / self._rate
        return (self.total_steps - self.step) * per_step + val * (self.config.epochs - self.epoch)

    def _end_epoch(self) -> None:
        t0 = time.perf_counter()
        val_loss, val_acc = self._validate()
        self._val_time = time.perf_counter() - t0
        loss_sum, correct, n = distributed.all_sum(self._ep, self.dist, self.device)
        train_loss, train_acc = (loss_sum / n, correct / n) if n else (math.nan, math.nan)
        if self.scheduler is not None and not self.per_step_schedule:
            self.scheduler.step()
        self.epoch += 1
        self.batch_in_epoch = 0
        self._ep = [0.0, 0.0, 0.0]
        score = val_acc if val_acc is not None else train_acc
        is_best = self.best is None or score > self.best
        self.best = score if is_best else self.best
        lr = self.optimizer.param_groups[0]["lr"] / self.optimizer.param_groups[0].get("lr_mult", 1.0)
        self._write_row(
            "epoch",
            train_loss=train_loss,
            train_acc=train_acc,
            val_loss=val_loss,
            val_acc=val_acc,
            lr=lr,
            samples_per_s=self._rate,
        )
        self._emit(
            EpochEnded(
                self.epoch,
                self.config.epochs,
                self.step,
                train_loss,
                train_acc,
                val_loss,
                val_acc,
                lr,
                self._rate or 0.0,
                self._eta(),
                self.elapsed(),
                self.skipped,
            )
        )
        self._save(best=is_best)
        if self.dist.is_main:
            runs.write_status(self.run_dir, "running", epoch=self.epoch, step=self.step, best_val_accuracy=self.best)

    def _validate(self) -> tuple[float | None, float | None]:
        if self.val_loader is None:
            return None, None
        self.model.eval()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        n = 0
        with torch.no_grad(), torch.autocast(self.device.type, dtype=self._amp, enabled=self._amp is not None):
            for x, y, broken in self.val_loader:
                if broken:
                    self._skip_images(broken)
                if not len(y):
                    continue
                y = y.to(self.device, non_blocking=True)
                out = self.model(self._prep(x))
                loss_sum += self.loss_fn(out, y).float() * len(y)
                correct += self.correct_fn(out, y)
                n += len(y)
        total_loss, total_correct, total_n = distributed.all_sum(
            [float(loss_sum), float(correct), float(n)], self.dist, self.device
        )
        return (total_loss / total_n, total_correct / total_n) if total_n else (None, None)

    def _skip_images(self, paths: list[str]) -> None:
        self.skipped += len(paths)
        for p in paths:
            self._emit(Note("data.broken_image", f"skipped an unreadable image: {p}"))

    def _pause(self) -> None:
        self._report()
        self._save(best=False)
        if self.dist.is_main:
            runs.write_status(self.run_dir, "paused", epoch=self.epoch, step=self.step, best_val_accuracy=self.best)
        self._emit(Paused(self.step))
        t0 = time.perf_counter()
        self._go.wait()
        waited = time.perf_counter() - t0
        self._clock += waited  # paused time is not training time
        self._mark = time.perf_counter()
        if not self._stop_flag.is_set():
            if self.dist.is_main:
                runs.write_status(self.run_dir, "running", epoch=self.epoch, step=self.step)
            self._emit(Resumed(self.step))

    def _save(self, best: bool) -> None:
        if not self.dist.is_main:
            return
        path = save_checkpoint(self, self.run_dir / runs.LAST, best_copy=self.run_dir / runs.BEST if best else None)
        self._emit(CheckpointSaved(str(path), "last", self.epoch, self.step))
        if best:
            self._emit(CheckpointSaved(str(self.run_dir / runs.BEST), "best", self.epoch, self.step))

    def _write_row(self, kind: str, **values: Any) -> None:
        if self._writer is not None:
            self._writer.write(
                {
                    "kind": kind,
                    "epoch": self.epoch + (kind == "step"),
                    "step": self.step,
                    "samples": self.samples,
                    "elapsed_s": self.elapsed(),
                    **values,
                }
            )
