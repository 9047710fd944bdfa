"""A whole-dataset evaluation as files: per-class precision and recall, CSV tables, and the pictures the command line
writes (bars and a scatter plot drawn with numpy alone, as ``images`` draws everything else)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..palette import TAB10
from .evaluate import Embedding, Evaluation

#: Class colours of the scatter plot and bars (Tableau 10): distinct, and readable on white.
PALETTE = np.array(TAB10, dtype=np.uint8)


def precision_recall(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class precision (of the samples predicted as a class, the share that are it) and recall; NaN if undefined."""
    c = confusion.astype(np.float64)
    hits = np.diag(c)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(c.sum(0) > 0, hits / c.sum(0), np.nan)
        recall = np.where(c.sum(1) > 0, hits / c.sum(1), np.nan)
    return precision, recall


def class_names(n: int, classes: Sequence[str] | None) -> list[str]:
    """The given class names, or the class indices, for ``n`` classes."""
    return [classes[k] if classes and k < len(classes) else str(k) for k in range(n)]


def per_class_csv(evaluation: Evaluation, classes: Sequence[str] | None = None) -> str:
    """``class,samples,predicted,precision,recall,f1``, one row per class."""
    c = evaluation.confusion
    precision, recall = precision_recall(c)
    rows = ["class,samples,predicted,precision,recall,f1"]
    for k, name in enumerate(class_names(len(c), classes)):
        p, r = precision[k], recall[k]
        f1 = 2 * p * r / (p + r) if np.isfinite(p) and np.isfinite(r) and p + r > 0 else np.nan
        rows.append(f"{_cell(name)},{int(c[k].sum())},{int(c[:, k].sum())},{_num(p)},{_num(r)},{_num(f1)}")
    return "\n".join(rows) + "\n"


def confusion_csv(evaluation: Evaluation, classes: Sequence[str] | None = None) -> str:
    """The confusion counts with a header row of predicted classes and a first column of true classes."""
    names = [_cell(n) for n in class_names(len(evaluation.confusion), classes)]
    rows = ["true\\predicted," + ",".join(names)]
    rows += [f"{name}," + ",".join(str(int(v)) for v in row) for name, row in zip(names, evaluation.confusion)]
    return "\n".join(rows) + "\n"


def mistakes_csv(evaluation: Evaluation, classes: Sequence[str] | None = None) -> str:
    """``rank,index,true,predicted,confidence`` of the most confident mistakes, in the order of the image grid."""
    names = class_names(len(evaluation.confusion), classes)
    rows = ["rank,index,true,predicted,confidence"]
    rows += [
        f"{i},{m.index},{_cell(names[m.true])},{_cell(names[m.predicted])},{m.confidence:.4f}"
        for i, m in enumerate(evaluation.mistakes)
    ]
    return "\n".join(rows) + "\n"


def embedding_csv(embedding: Embedding, classes: Sequence[str] | None = None) -> str:
    """``x,y,label`` per projected sample."""
    names = class_names(int(embedding.labels.max()) + 1 if len(embedding.labels) else 0, classes)
    rows = ["x,y,label"]
    rows += [f"{x:.6g},{y:.6g},{_cell(names[int(k)])}" for (x, y), k in zip(embedding.points, embedding.labels)]
    return "\n".join(rows) + "\n"


def bars_image(precision: np.ndarray, recall: np.ndarray, height: int = 160, bar: int = 12) -> np.ndarray:
    """Two bars per class, precision (blue) then recall (orange), heights 0 to 1 over ``height`` pixels; uint8 RGB.

    Classes sit left to right in order, a grey gap between them; an undefined value draws no bar.
    """
    n = len(precision)
    width = n * (2 * bar + bar) + bar
    img = np.full((height + 2, width, 3), 255, dtype=np.uint8)
    img[-2:] = 160  # the baseline
    for k in range(n):
        for j, value in enumerate((precision[k], recall[k])):
            if not np.isfinite(value):
                continue
            left = bar + k * 3 * bar + j * bar
            top = height - int(round(float(value) * height))
            img[top:height, left : left + bar] = PALETTE[j]
    return img


def scatter_image(points: np.ndarray, labels: np.ndarray, size: int = 480, dot: int = 5) -> np.ndarray:
    """Points coloured by class on white, scaled to fill ``size`` pixels with a margin; uint8 RGB."""
    img = np.full((size, size, 3), 255, dtype=np.uint8)
    if not len(points):
        return img
    lo, hi = points.min(0), points.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    margin = dot + 2
    xy = ((points - lo) / span * (size - 2 * margin - 1) + margin).round().astype(int)
    half = dot // 2
    for (x, y), k in zip(xy, labels):
        row = size - 1 - y  # y grows upwards, as in a plot
        img[row - half : row + half + 1, x - half : x + half + 1] = PALETTE[int(k) % len(PALETTE)]
    return img


def _num(value: float) -> str:
    return f"{value:.4f}" if np.isfinite(value) else ""


def _cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if "," in text or '"' in text else text
