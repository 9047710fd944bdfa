"""One picture per insight method, as data: what the command line writes and the insight dock draws."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from ..model.graph import Graph
from ..training.config import read_section
from . import images
from .evaluate import Embedding, Evaluation, embed, evaluate, iter_batches, normalize
from .maps import conv_nodes, feature_maps, filters, grad_cam, occlusion, saliency, spatial_nodes
from .maximize import maximize
from .prediction import predict
from .probe import InsightError

#: Method names, as the command line spells them, with what the dock shows.
METHODS = {
    "featuremaps": "Feature maps",
    "filters": "Filters",
    "gradcam": "Grad-CAM",
    "saliency": "Saliency",
    "guided": "Guided backprop",
    "deconvnet": "Deconvnet",
    "occlusion": "Occlusion",
    "maximize": "Activation maximisation",
    "prediction": "Prediction",
}
#: Methods that need an input sample (filters and maximisation do not).
NEEDS_SAMPLE = frozenset({"featuremaps", "gradcam", "saliency", "guided", "deconvnet", "occlusion", "prediction"})


@dataclass(frozen=True)
class Options:
    """Settings of the methods: the class or unit, occlusion patch (None: automatic), ascent steps; ``fill`` is in
    model input space."""

    target: int | None = None
    patch: int | None = None
    stride: int | None = None
    fill: float | Sequence[float] = 0.0
    steps: int = 100
    seed: int = 0
    #: Pixel range of activation maximisation in model input space (None: unbounded).
    bounds: tuple[float, float] | None = (-3.0, 3.0)
    #: The sample's own target, drawn beside the prediction: a mask of class ids, or padded box rows.
    truth: Any = None


@dataclass
class View:
    """A picture: an RGB ``base`` (``(H, W, 3)``, [0, 1]) under a colour-mapped scalar image ``values``, both optional.

    ``values`` NaNs are gaps; ``levels`` are the values at the two ends of ``cmap``; ``alpha`` is the opacity of
    ``values`` over ``base``.
    """

    title: str
    base: np.ndarray | None = None
    values: np.ndarray | None = None
    cmap: str = "viridis"
    levels: tuple[float, float] = (0.0, 1.0)
    alpha: float = 1.0


def render(
    method: str,
    module: nn.Module,
    x: Any,
    node_id: str | None = None,
    *,
    graph: Graph | None = None,
    options: Options | None = None,
    classes: Sequence[str] | None = None,
) -> View:
    """Compute ``method`` for sample ``x`` at ``node_id`` and draw it (``InsightError`` when the node cannot).

    Without a node, feature maps show the first spatial layer and filters the first Conv2d; the other methods have
    their own defaults (see each function).
    """
    o = options or Options()
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if method == "featuremaps":
        node_id = node_id or _first(spatial_nodes(module, x, graph=graph), "spatial layer")
        maps = feature_maps(module, x, node_id, graph=graph)
        return View(
            f"{node_id}: output {list(maps.shape)}, each map scaled to its own range", values=images.feature_grid(maps)
        )
    if method == "filters":
        node_id = node_id or _first(conv_nodes(module, graph=graph), "Conv2d")
        weight = filters(module, node_id, graph=graph)
        grid, rgb = images.filter_grid(weight)
        if rgb:
            return View(f"{node_id}: {len(weight)} filters in colour (grey is 0)", base=grid)
        layout = "rows: filters, columns: input channels" if weight.shape[1] > 1 else "one per filter"
        return View(
            f"{node_id}: {len(weight)} filters ({layout})",
            values=grid,
            cmap="diverging",
            levels=images.levels_of(grid, symmetric=True),
        )
    if method == "prediction":  # the classes, the mask or the boxes, as the design's task has them
        p = predict(module, x, graph=graph, classes=classes, truth=o.truth)
        shown = "; ".join(p.lines[:3]).replace("\t", " ")
        return View(f"{p.title}: {shown}" if shown else p.title, base=p.picture / 255.0)
    if method == "maximize":
        shape = tuple(np.asarray(x).shape[-3:]) if x is not None else _input_shape(module, graph)
        found = maximize(
            module, shape, node_id, o.target or 0, graph=graph, steps=o.steps, seed=o.seed, bounds=o.bounds
        )
        return View(
            f"{_unit(node_id, found.unit, classes)}: the input it responds to most (activation {found.activation:.3g})",
            base=images.display(found.image),
        )
    return _attribution(method, module, x, node_id, graph, o, classes)


def _attribution(
    method: str,
    module: nn.Module,
    x: Any,
    node_id: str | None,
    graph: Graph | None,
    o: Options,
    classes: Sequence[str] | None,
) -> View:
    base = images.display(x)
    if method == "gradcam":
        h = grad_cam(module, x, node_id, o.target, graph=graph)
        return View(
            f"Grad-CAM at {h.node_id} for {_name(h.target, classes)} (score {h.score:.3g})",
            base=base,
            values=h.values,
            cmap="inferno",
            alpha=0.5,
        )
    if method in ("saliency", "guided", "deconvnet"):
        h = saliency(
            module, x, node_id, o.target, graph=graph, guided=method == "guided", deconvnet=method == "deconvnet"
        )
        word = {"guided": "guided backprop", "deconvnet": "deconvnet (Zeiler & Fergus)"}.get(
            method, "saliency |d score / d input|"
        )
        return View(
            f"{word} for {_unit(node_id, h.target, classes)}",
            values=h.values,
            cmap="inferno",
            levels=images.levels_of(h.values),
        )
    h = occlusion(module, x, node_id, o.target, graph=graph, patch=o.patch, stride=o.stride, fill=o.fill)
    return View(
        f"occlusion ({h.patch}px patch, stride {h.stride}): score drop for {_unit(node_id, h.target, classes)}"
        f" (unoccluded {h.score:.3g})",
        base=base,
        values=h.values,
        cmap="diverging",
        alpha=0.6,
        levels=images.levels_of(h.values, symmetric=True),
    )


def _first(ids: list[str], what: str) -> str:
    if not ids:
        raise InsightError(None, f"the model has no {what}; pick a node", "insight.no_default")
    return ids[0]


def _name(target: int, classes: Sequence[str] | None) -> str:
    return f"class {target} ({classes[target]})" if classes and 0 <= target < len(classes) else f"class {target}"


def _unit(node_id: str | None, target: int, classes: Sequence[str] | None) -> str:
    """A class when the score is the model's output (``node_id`` None), else a unit of that node."""
    return _name(target, classes) if node_id is None else f"{node_id} unit {target}"


def _input_shape(module: nn.Module, graph: Graph | None) -> tuple[int, ...]:
    if graph is None or not graph.input_ids():
        raise ValueError("activation maximisation needs a sample or the design to know the input shape")
    return tuple(int(v) for v in graph[graph.input_ids()[0]].params["shape"])


def confusion_view(evaluation: Evaluation, classes: Sequence[str] | None = None) -> View:
    """The confusion matrix as row-normalised rates (each row: how one true class was predicted)."""
    c = evaluation.confusion.astype(np.float64)
    rates = c / np.maximum(c.sum(1, keepdims=True), 1)
    worst = np.nanargmin(evaluation.per_class_accuracy) if evaluation.samples else 0
    return View(
        f"confusion (rows: true, columns: predicted): accuracy {evaluation.accuracy:.1%} on "
        f"{evaluation.samples} samples; weakest {_name(int(worst), classes)}",
        values=rates,
    )


def pixel_confusion_view(evaluation: Evaluation, classes: Sequence[str] | None = None) -> View:
    """The confusion over pixels as row-normalised rates, titled with pixel accuracy and each class's IoU."""
    c = evaluation.confusion.astype(np.float64)
    inter = np.diag(c)
    union = c.sum(0) + c.sum(1) - inter
    ious = ", ".join(f"{_short(k, classes)} {inter[k] / union[k]:.2f}" for k in range(len(c)) if union[k])
    present = union > 0
    miou = float((inter[present] / union[present]).mean()) if present.any() else float("nan")
    return View(
        f"confusion over {evaluation.samples} pixels (rows: true, columns: predicted): pixel accuracy "
        f"{evaluation.accuracy:.1%}, mean IoU {miou:.2f}; IoU per class: {ious}",
        values=c / np.maximum(c.sum(1, keepdims=True), 1),
    )


def mistakes_view(samples: Sequence[Any], evaluation: Evaluation, classes: Sequence[str] | None = None) -> View:
    """The most confident mistakes side by side; ``samples[k]`` is the image of ``evaluation.mistakes[k]``."""
    if not samples:
        return View("no misclassified samples", base=np.ones((8, 8, 3)))
    tiles = np.stack([images.display(s) for s in samples])
    grid = images.tile(tiles)
    grid[np.isnan(grid)] = 1.0
    words = ", ".join(
        f"{_short(m.true, classes)}→{_short(m.predicted, classes)} {m.confidence:.0%}"
        for m in evaluation.mistakes[: len(samples)]
    )
    return View(f"most confident mistakes (true→predicted): {words}", base=grid)


def _short(k: int, classes: Sequence[str] | None) -> str:
    return classes[k] if classes and 0 <= k < len(classes) else str(k)


def compose(view: View, scale: int = 1) -> np.ndarray:
    """The view as one ``(H, W, 3)`` uint8 image, pixels repeated ``scale`` times."""
    if view.values is None:
        rgb = images.to_uint8(view.base if view.base is not None else np.ones((1, 1, 3)))
    elif view.base is None or view.base.shape[:2] != view.values.shape[:2]:
        rgb = images.colorize(view.values, view.cmap, view.levels)
    else:
        rgb = images.overlay(view.base, view.values, view.cmap, view.alpha, view.levels)
    return images.upscale(rgb, scale)


#: Views of a whole dataset, as the dock names them.
DATASET_METHODS = {"confusion": "Confusion matrix", "mistakes": "Misclassified", "embedding": "Embedding (PCA)"}


def dataset_view(
    method: str,
    module: nn.Module,
    data: Any,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    graph: Graph | None = None,
    classes: Sequence[str] | None = None,
    limit: int = 1000,
) -> View | Embedding:
    """The confusion matrix, the most confident mistakes or the embedding over the first ``limit`` samples of
    ``data`` (a dataset of ``(uint8 image, label)``), normalised with ``mean`` and ``std``."""
    if method not in DATASET_METHODS:
        raise ValueError(f"unknown dataset view {method!r}; use one of {', '.join(DATASET_METHODS)}")
    task = read_section(graph).task if graph is not None else "classification"
    if task != "classification" and (method != "confusion" or task == "detection"):
        raise InsightError(
            None,
            f"the {DATASET_METHODS[method].lower()} view is for "
            + ("classification and segmentation" if method == "confusion" else "classification")
            + f"; this design trains for {task} (its validation metrics are in the training curves)",
            "insight.wrong_task",
        )
    batches = iter_batches(data, mean, std, limit=limit)
    if method == "embedding":
        return embed(module, batches, graph=graph, method="auto")
    samples = min(limit, len(data))
    evaluation = evaluate(module, batches, len(classes) if classes else None, graph=graph, samples=samples)
    if task == "segmentation":
        return pixel_confusion_view(evaluation, classes)
    if method == "confusion":
        return confusion_view(evaluation, classes)
    pictures = [normalize(data[m.index][0], mean, std) for m in evaluation.mistakes]
    return mistakes_view(pictures, evaluation, classes)
