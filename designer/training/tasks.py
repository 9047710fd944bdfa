"""What a run learns: the loss, the running training score and the validation metrics of each task (issue 16).

The loop, validation, ``metrics.csv``, events and the best checkpoint ask the run's ``Task`` for these, so
classification, segmentation and detection share one engine. Targets are tensors (class ids ``[N]``, a class per
pixel ``[N, H, W]``, padded boxes ``[N, K, 5]``) so loaders, samplers and collate stay the same for every task.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from .config import HEADLINES, TASK_METRICS, TrainConfig, detection_head, detection_kind, roi_count


class Meter(Protocol):
    """Accumulates a task's validation metrics over batches, on the device (``update`` never waits for it)."""

    def update(self, out: Any, target: Tensor) -> None:
        """Add one batch of model outputs (what ``run_model`` gives) and targets."""

    def compute(self) -> dict[str, float]:
        """The metrics of everything added so far, under the task's ``metric_names`` (and any detail keys)."""


class Task(Protocol):
    """The loss, the training score and the validation metrics of one kind of learning."""

    name: str
    #: The validation metric that picks the best checkpoint and that sweeps optimise, e.g. ``val_miou``.
    headline: str
    #: Every validation metric written to ``metrics.csv`` and carried by ``EpochEnded.metrics``; the first is the
    #: validation counterpart of ``train_score`` (what the ``val_acc`` column and ``val_accuracy`` carry).
    metric_names: tuple[str, ...]

    def loss(self, out: Any, target: Tensor) -> Tensor:
        """The mean loss of a batch (``out``: what ``run_model`` gives)."""

    def train_score(self, out: Any, target: Tensor) -> Tensor:
        """The sum over the batch of a per-sample score in [0, 1]: the loop's running ``train_acc``."""

    def meter(self) -> Meter:
        """A fresh accumulator of the validation metrics."""


def run_model(task: Task, model: nn.Module, x: Tensor, target: Tensor) -> Any:
    """A batch's output as the task's loss and meter read it: ``model(x)``, or the task's own ``forward`` when it
    has one (Fast R-CNN's adds the proposals it makes from the targets; ``roi_detection``)."""
    forward = getattr(task, "forward", None)
    return model(x) if forward is None else forward(model, x, target)


def sum_dtype(device: torch.device) -> torch.dtype:
    """Exact sums of counts: float64, except on Apple's MPS, which has none."""
    return torch.float32 if device.type == "mps" else torch.float64


@runtime_checkable
class GatherMeter(Meter, Protocol):
    """A meter whose metric does not add up over parts of the data (mAP): under torchrun it first gathers what every
    process kept, so that each computes the metric of the whole validation set."""

    def gather(self, all_gather: Callable[[Any], list[Any]]) -> None: ...


class SumMeter:
    """A meter whose whole state is one tensor of sums, so that torchrun adds it over the ranks before ``compute``."""

    totals: Tensor

    def reduce(self, add_over_ranks: Callable[[Tensor], Tensor]) -> None:
        """Replace the sums with their totals over every process."""
        self.totals = add_over_ranks(self.totals)


#: ``(outputs, labels) -> tensor``: the loss of a batch, or (for ``make_loss``'s second function) its correct count.
Loss = Callable[[Tensor, Tensor], Tensor]


def make_loss(outputs: int, label_smoothing: float) -> tuple[Loss, Loss]:
    """``(loss, correct)``: cross-entropy over the classes, or BCE-with-logits for a one-output design.

    ``correct`` counts the right predictions of a batch, as a tensor on the batch's device.
    """
    if outputs == 1:

        def bce(out: Tensor, y: Tensor) -> Tensor:
            target = y.to(out.dtype).view_as(out)
            # Label smoothing for one logit pulls the targets towards 0.5, as cross-entropy pulls them to uniform.
            target = target * (1 - label_smoothing) + 0.5 * label_smoothing
            return nn.functional.binary_cross_entropy_with_logits(out, target)

        return bce, lambda out, y: ((out.view(-1) > 0).long() == y).sum()
    ce = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    return ce, lambda out, y: (out.argmax(1) == y).sum()


class ClassificationTask:
    """One label per image: cross-entropy (BCE for one output) and accuracy."""

    name = "classification"
    headline = HEADLINES["classification"]
    metric_names = TASK_METRICS["classification"]

    def __init__(self, outputs: int, label_smoothing: float = 0.0) -> None:
        self._loss, self._correct = make_loss(outputs, label_smoothing)

    def loss(self, out: Tensor, target: Tensor) -> Tensor:
        """Cross-entropy over the classes, or BCE-with-logits for one output."""
        return self._loss(out, target)

    def train_score(self, out: Tensor, target: Tensor) -> Tensor:
        """How many images of the batch are classified right."""
        return self._correct(out, target)

    def meter(self) -> Meter:
        """Validation accuracy."""
        return _AccuracyMeter(self._correct)


class _AccuracyMeter(SumMeter):
    def __init__(self, correct: Loss) -> None:
        self._correct = correct
        self.totals = torch.zeros(2)

    def update(self, out: Tensor, target: Tensor) -> None:
        if self.totals.device != out.device or self.totals.dtype != sum_dtype(out.device):
            self.totals = self.totals.to(out.device, sum_dtype(out.device))
        self.totals[0] += self._correct(out, target)
        self.totals[1] += len(target)

    def compute(self) -> dict[str, float]:
        correct, n = self.totals.tolist()
        return {"val_acc": correct / n} if n else {}


def task_for(
    config: TrainConfig,
    classes: int,
    outputs: int | None = None,
    names: Sequence[str] | None = None,
    image_size: tuple[int, int] | None = None,
) -> Task:
    """The task ``config`` names, for data of ``classes`` classes (``names``: theirs, for per-class metrics).

    ``outputs`` is a classifier's output count (1 for a two-class dataset trains with BCE); it defaults to ``classes``.
    ``image_size`` is the Input's (H, W): detection targets are in its pixels (required for detection).
    """
    if config.task == "segmentation":
        from .segmentation import SegmentationTask

        return SegmentationTask(classes, dice=config.dice, names=names)
    if config.task == "detection" and detection_kind(config) == "roi":
        if image_size is None:
            raise ValueError("a detection task needs the Input's image size: its targets are in input pixels")
        from .roi_detection import RoIDetectionTask

        return RoIDetectionTask(classes=classes, image_size=image_size, rois=roi_count(config))
    if config.task == "detection":
        # Imported by name: the detection module is the detection helper's and may be absent from a partial build.
        detection = importlib.import_module(".detection", __package__)
        grid, boxes = detection_head(config)
        if image_size is None:
            raise ValueError("a detection task needs the Input's image size: its targets are in input pixels")
        task: Task = detection.DetectionTask(grid=grid, boxes=boxes, classes=classes, image_size=image_size)
        return task
    return ClassificationTask(classes if outputs is None else outputs, config.label_smoothing)
