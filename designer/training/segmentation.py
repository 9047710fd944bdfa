"""Segmentation: a class per pixel. Cross-entropy (with an optional Dice term), pixel accuracy, and intersection over
union per class from a confusion matrix over pixels accumulated on the device.

Outputs are logits ``[N, C, H, W]``, targets class ids ``[N, H, W]`` with ``IGNORE_INDEX`` (255) left out of both the
loss and the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from .config import HEADLINES, TASK_METRICS
from .tasks import Meter, SumMeter, sum_dtype

#: The class id of pixels the loss and the metrics leave out (torchvision's and VOC's convention).
IGNORE_INDEX = 255


class SegmentationTask:
    """Per-pixel classification into ``classes`` classes (class 0 the background)."""

    name = "segmentation"
    headline = HEADLINES["segmentation"]
    metric_names = TASK_METRICS["segmentation"]

    def __init__(self, classes: int, dice: bool = False, names: Sequence[str] | None = None) -> None:
        self.classes, self.dice = classes, dice
        self.names = tuple(names) if names is not None else tuple(str(c) for c in range(classes))

    def loss(self, out: Tensor, target: Tensor) -> Tensor:
        """Mean pixel cross-entropy, plus the Dice loss averaged over classes when ``dice`` is on."""
        ce = F.cross_entropy(out, target, ignore_index=IGNORE_INDEX)
        return ce + dice_loss(out, target) if self.dice else ce

    def train_score(self, out: Tensor, target: Tensor) -> Tensor:
        """The sum over the batch of each image's pixel accuracy (ignored pixels left out)."""
        valid = target != IGNORE_INDEX
        right = ((out.argmax(1) == target) & valid).sum((1, 2))
        return (right / valid.sum((1, 2)).clamp_min(1)).sum()

    def meter(self) -> Meter:
        """Pixel accuracy, mean IoU and the IoU of each class over the validation set."""
        return ConfusionMeter(self.classes, self.names)


def dice_loss(out: Tensor, target: Tensor, eps: float = 1.0) -> Tensor:
    """1 - the soft Dice coefficient of the softmax against the one-hot target, averaged over the classes."""
    valid = (target != IGNORE_INDEX).unsqueeze(1)
    probs = out.float().softmax(1) * valid
    onehot = F.one_hot(target.where(valid.squeeze(1), 0), out.shape[1]).permute(0, 3, 1, 2) * valid
    inter = (probs * onehot).sum((0, 2, 3))
    total = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    return 1 - ((2 * inter + eps) / (total + eps)).mean()


class ConfusionMeter(SumMeter):
    """A ``classes x classes`` count of pixels by (true class, predicted class), on the batches' device."""

    def __init__(self, classes: int, names: Sequence[str]) -> None:
        self.classes, self.names = classes, tuple(names)
        self.totals = torch.zeros(classes, classes)

    def update(self, out: Tensor, target: Tensor) -> None:
        """Count the pixels of a batch of logits ``[N, C, H, W]`` against class ids ``[N, H, W]``."""
        c = self.classes
        if self.totals.device != out.device or self.totals.dtype != sum_dtype(out.device):
            self.totals = self.totals.to(out.device, sum_dtype(out.device))
        valid = target != IGNORE_INDEX
        pairs = target[valid] * c + out.argmax(1)[valid]
        self.totals += torch.bincount(pairs, minlength=c * c).view(c, c)

    def compute(self) -> dict[str, float]:
        """``val_pixel_acc``, ``val_miou`` (the mean over classes that occur in the truth or the predictions) and
        ``val_iou/<class>`` for each such class."""
        cm = self.totals.double().cpu()
        if cm.sum() == 0:
            return {}
        inter = cm.diagonal()
        union = cm.sum(0) + cm.sum(1) - inter
        present = union > 0
        iou = inter / union.clamp_min(1)
        metrics = {"val_pixel_acc": float(inter.sum() / cm.sum()), "val_miou": float(iou[present].mean())}
        metrics.update({f"val_iou/{self.names[k]}": float(iou[k]) for k in range(self.classes) if present[k]})
        return metrics
