"""Where the network errs and how it sorts the classes: confusion matrix, confident mistakes, embedding projection."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..model.graph import Graph
from .fast import Choice, FastScores
from .probe import InsightError, Probe, device_of, prepared

#: One batch: ``(inputs (B, C, H, W) float, labels (B,))``, optionally with the samples' dataset indices third.
Batch = tuple[Any, ...]


@dataclass(frozen=True)
class Mistake:
    """A misclassified sample: its index in the dataset, true and predicted class, and the predicted probability."""

    index: int
    true: int
    predicted: int
    confidence: float


@dataclass
class Evaluation:
    """Confusion counts (rows: true class, columns: predicted), accuracies and the most confident mistakes."""

    confusion: np.ndarray
    mistakes: list[Mistake] = field(default_factory=list)
    #: The runtime that computed the scores, and why (see ``designer.insight.fast``).
    runtime: Choice = field(default_factory=Choice)

    @property
    def samples(self) -> int:
        """How many samples were counted."""
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        """The share of samples classified correctly."""
        return float(np.trace(self.confusion) / max(1, self.samples))

    @property
    def per_class_accuracy(self) -> np.ndarray:
        """Recall of each class; NaN for a class with no samples."""
        totals = self.confusion.sum(1).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, np.diag(self.confusion) / totals, np.nan)


@dataclass(frozen=True)
class Embedding:
    """Samples projected to 2-D: ``points (N, 2)``, their ``labels``, the node and the method (``pca`` or ``tsne``)."""

    points: np.ndarray
    labels: np.ndarray
    node_id: str | None
    method: str


def normalize(images: Any, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 images (or floats in [0, 1]), ``(C, H, W)`` or ``(B, C, H, W)``, into the model's input space."""
    t = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    t = t.float().div(255) if t.dtype == torch.uint8 else t.float()
    shape = (-1, 1, 1)
    return (t - torch.tensor(mean, dtype=torch.float32).reshape(shape)) / torch.tensor(std).float().reshape(shape)


def iter_batches(
    dataset: Any, mean: Sequence[float], std: Sequence[float], batch_size: int = 128, limit: int | None = None
) -> Iterator[Batch]:
    """Normalised batches ``(x, y, indices)`` from a dataset of ``(image, label)``; unreadable samples are skipped."""
    n = len(dataset) if limit is None else min(limit, len(dataset))
    for start in range(0, n, batch_size):
        items = [(i, dataset[i]) for i in range(start, min(n, start + batch_size))]
        good = [(i, s) for i, s in items if isinstance(s, tuple)]
        if good:
            images = torch.stack([torch.as_tensor(s[0]) for _, s in good])
            targets = [torch.as_tensor(s[1]) for _, s in good]  # class ids, or a mask / boxes per image
            yield (
                normalize(images, mean, std),
                torch.stack(targets) if targets[0].ndim else torch.tensor([int(t) for t in targets]),
                torch.tensor([i for i, _ in good]),
            )


def evaluate(
    module: nn.Module,
    batches: Iterable[Batch],
    num_classes: int | None = None,
    *,
    graph: Graph | None = None,
    top: int = 16,
    samples: int | None = None,
    prefer: str | None = None,
) -> Evaluation:
    """Confusion matrix over ``batches`` and the ``top`` misclassified samples with the highest confidence.

    With masks for targets (``[N, H, W]``, segmentation) the confusion counts pixels (255 left out) and there are no
    mistakes to list. Given how many ``samples`` the batches hold, a long pass runs on onnxruntime when it measures
    faster, or whenever it agrees with torch if ``prefer`` names it (``designer.insight.fast``); ``Evaluation.runtime``
    says which ran and why.
    """
    probe = Probe(module, graph)
    fast = FastScores(probe, graph, samples, prefer=prefer)
    rows: list[np.ndarray] = []
    wrong: list[Mistake] = []
    seen = 0
    with prepared(module), torch.no_grad():
        for batch in batches:
            x, y = batch[0].to(device_of(module)), torch.as_tensor(batch[1]).cpu()
            idx = torch.as_tensor(batch[2]) if len(batch) > 2 else torch.arange(seen, seen + len(y))
            seen += len(y)
            scores = fast(x).float().cpu()
            if y.ndim == 3:  # segmentation: every pixel a sample, and no image is one mistake
                rows.append(_pixel_pairs(scores, y))
                num_classes = num_classes or scores.shape[1]
                continue
            logits = scores.reshape(len(y), -1)
            prob, pred = logits.softmax(1).max(1)
            rows.append(np.stack([y.numpy(), pred.numpy()], 1))
            miss = (pred != y).nonzero().flatten().tolist()
            wrong += [Mistake(int(idx[k]), int(y[k]), int(pred[k]), float(prob[k])) for k in miss]
            num_classes = num_classes or logits.shape[1]
    pairs = np.concatenate(rows) if rows else np.zeros((0, 2), dtype=np.int64)
    k = max(num_classes or 0, int(pairs.max()) + 1 if len(pairs) else 0)
    confusion = np.bincount(pairs[:, 0] * k + pairs[:, 1], minlength=k * k).reshape(k, k).astype(np.int64)
    wrong.sort(key=lambda m: -m.confidence)
    return Evaluation(confusion, wrong[:top], fast.choice)


def _pixel_pairs(logits: torch.Tensor, masks: torch.Tensor) -> np.ndarray:
    """(true, predicted) class of every pixel of ``masks`` that is not ignored (255)."""
    known = masks != 255
    pairs: np.ndarray = torch.stack([masks[known], logits.argmax(1)[known]], 1).numpy()
    return pairs


def embed(
    module: nn.Module,
    batches: Iterable[Batch],
    node_id: str | None = None,
    *,
    graph: Graph | None = None,
    method: str = "pca",
    limit: int = 2000,
    seed: int = 0,
) -> Embedding:
    """The outputs of ``node_id`` (default: the penultimate layer) projected to 2-D by PCA, or t-SNE with scikit-learn.

    ``method="auto"`` uses t-SNE when scikit-learn is installed and PCA otherwise.
    """
    method = _method(method)
    probe = Probe(module, graph)
    node_id = node_id or probe.penultimate_id()
    if node_id is None:
        raise InsightError(
            None, "this model has no known penultimate layer; name the node to project", "insight.no_penultimate"
        )
    probe.check(node_id)
    feats, labels = _features(probe, batches, node_id, limit)
    if method == "tsne":
        return Embedding(_tsne(feats, seed), labels, node_id, method)
    return Embedding(pca(feats, seed), labels, node_id, method)


def _method(method: str) -> str:
    if method not in ("pca", "tsne", "auto"):
        raise InsightError(None, f"unknown projection {method!r}: use pca, tsne or auto", "insight.bad_option")
    has_sklearn = _has_sklearn()
    if method == "tsne" and not has_sklearn:
        raise InsightError(
            None, "t-SNE needs scikit-learn (pip install scikit-learn); PCA works without it", "insight.no_sklearn"
        )
    return ("tsne" if has_sklearn else "pca") if method == "auto" else method


def _has_sklearn() -> bool:
    import importlib.util

    return importlib.util.find_spec("sklearn") is not None


def _features(probe: Probe, batches: Iterable[Batch], node_id: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    feats, labels, count = [], [], 0
    module = probe.module
    with prepared(module), torch.no_grad():
        for batch in batches:
            if count >= limit:
                break
            _, seen = probe.run(batch[0].to(device_of(module)), [node_id], stop=True)
            f = seen[node_id].float().reshape(len(batch[1]), -1).cpu()
            feats.append(f[: limit - count])
            labels.append(torch.as_tensor(batch[1])[: limit - count])
            count += len(f)
    if not feats:
        raise InsightError(node_id, "no samples to project", "insight.no_samples")
    return torch.cat(feats).numpy(), torch.cat(labels).numpy()


def pca(feats: np.ndarray, seed: int = 0) -> np.ndarray:
    """The first two principal components of ``(N, D)`` rows, each component's sign fixed for reproducibility."""
    x = torch.as_tensor(feats, dtype=torch.float64)
    x = x - x.mean(0)
    if x.shape[0] < 2 or float(x.abs().max()) == 0.0:
        return np.zeros((x.shape[0], 2))
    v = _components(x, 2, seed)
    signs = torch.sign(v.gather(0, v.abs().argmax(0, keepdim=True)))
    pts = (x @ (v * signs)).numpy()
    return pts if pts.shape[1] == 2 else np.pad(pts, ((0, 0), (0, 2 - pts.shape[1])))


#: Up to this many rows or columns the components are exact (an eigendecomposition of the smaller Gram matrix).
EXACT_PCA = 1500


def _components(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """The top ``n`` right singular vectors of centred ``x`` as ``(D, n)``."""
    rows, cols = x.shape
    if min(rows, cols) <= EXACT_PCA:
        if cols <= rows:
            _, vecs = torch.linalg.eigh(x.T @ x)
            top: torch.Tensor = vecs[:, -n:].flip(1)
            return top
        _, vecs = torch.linalg.eigh(x @ x.T)
        v = x.T @ vecs[:, -n:].flip(1)
        unit: torch.Tensor = v / v.norm(dim=0).clamp_min(1e-12)
        return unit
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the randomised solver draws a test matrix
        _, _, v = torch.pca_lowrank(x, q=min(n + 10, *x.shape), center=False, niter=8)
    first: torch.Tensor = v[:, :n]
    return first


def _tsne(feats: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE  # type: ignore[import-not-found]  # optional, for t-SNE only

    reduced = feats if feats.shape[1] <= 50 else _pca_n(feats, 50, seed)
    perplexity = float(min(30, max(2, (len(feats) - 1) // 3)))
    points: np.ndarray = TSNE(n_components=2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(
        reduced
    )
    return points


def _pca_n(feats: np.ndarray, n: int, seed: int) -> np.ndarray:
    x = torch.as_tensor(feats, dtype=torch.float64)
    x = x - x.mean(0)
    return (x @ _components(x, min(n, *x.shape), seed)).numpy()
