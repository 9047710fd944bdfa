"""Activation maximisation: the input a filter or a class score likes best, found by gradient ascent in input space.

The recipe is the regularised one of Yosinski et al., "Understanding Neural Networks Through Deep Visualization"
(2015): plain ascent finds high-frequency noise that no natural image contains, so each step decays the image towards
zero (L2 decay) and every few steps a Gaussian blur removes what the network sees but a person would not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..model.graph import Graph
from .probe import InsightError, Probe, device_of, prepared, unit_score


@dataclass(frozen=True)
class Maximized:
    """The image found (``(C, H, W)``, model input space), the unit it excites and the activation reached."""

    image: np.ndarray
    node_id: str | None
    unit: int
    activation: float


def maximize(
    module: nn.Module,
    x: Any,
    node_id: str | None = None,
    unit: int = 0,
    *,
    graph: Graph | None = None,
    steps: int = 100,
    lr: float = 0.1,
    decay: float = 0.01,
    blur_every: int = 4,
    blur_sigma: float = 0.5,
    where: str = "center",
    bounds: tuple[float, float] | None = (-3.0, 3.0),
    seed: int = 0,
) -> Maximized:
    """Gradient ascent on the input for unit ``unit`` of ``node_id`` (default: the class scores; ``unit`` is a class).

    ``x`` is a sample or a shape ``(C, H, W)``: only its shape is used; the ascent starts from small noise drawn with
    ``seed``, so the same call gives the same image. For a feature map, ``where="center"`` maximises the channel at
    the centre of the map (one unit, whose preferred pattern fits in its receptive field), ``"mean"`` the channel's
    mean. Each step moves by ``lr`` along the gradient scaled to unit mean magnitude, then shrinks by ``decay``;
    pixels stay within ``bounds`` (model input space, i.e. normalised; None: unbounded).
    """
    if where not in ("center", "mean"):
        raise InsightError(node_id, f"where={where!r}: use 'center' or 'mean'", "insight.bad_option")
    probe = Probe(module, graph)
    node_id = _node(probe, node_id)
    shape = tuple(x) if isinstance(x, (tuple, list)) else tuple(torch.as_tensor(np.asarray(x)).shape[-3:])
    gen = torch.Generator().manual_seed(seed)
    img = (torch.randn((1, *shape), generator=gen) * 0.1).to(device_of(module))
    kernel = _gaussian(blur_sigma, shape[0], img.device) if blur_every > 0 and blur_sigma > 0 else None
    with prepared(module):
        for step in range(steps):
            img.requires_grad_(True)
            value = _objective(probe, img, node_id, unit, where)
            (grad,) = torch.autograd.grad(value, img)
            with torch.no_grad():
                img = img + lr * grad / (grad.abs().mean() + 1e-12)
                img = img * (1.0 - decay)
                if kernel is not None and (step + 1) % blur_every == 0:
                    img = F.conv2d(F.pad(img, [kernel.shape[-1] // 2] * 4, mode="replicate"), kernel, groups=shape[0])
                if bounds is not None:
                    img = img.clamp(*bounds)
        with torch.no_grad():
            final = float(_objective(probe, img, node_id, unit, where))
    return Maximized(img[0].detach().cpu().numpy(), node_id, unit, final)


def _node(probe: Probe, node_id: str | None) -> str | None:
    if node_id is None:
        return probe.score_id()
    probe.check(node_id)
    if probe.is_input(node_id):
        raise InsightError(
            node_id, "is an Input: maximising it would only grow the image; pick a layer", "insight.input_node"
        )
    return node_id


def _objective(probe: Probe, img: torch.Tensor, node_id: str | None, unit: int, where: str) -> torch.Tensor:
    out, seen = probe.run(img, [node_id] if node_id else [], stop=node_id is not None)
    t = seen[node_id] if node_id else (out[0] if isinstance(out, (tuple, list)) else out)
    if t.ndim == 4 and where == "center":
        if not 0 <= unit < t.shape[1]:
            return unit_score(t, unit, node_id)[0]  # raises the out-of-range error
        return t[0, unit, t.shape[2] // 2, t.shape[3] // 2]
    return unit_score(t, unit, node_id)[0]


def _gaussian(sigma: float, channels: int, device: torch.device) -> torch.Tensor:
    """A depthwise Gaussian kernel of radius 2 sigma (at least 1)."""
    radius = max(1, int(round(2 * sigma)))
    r = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-(r**2) / (2 * sigma**2))
    k2 = torch.outer(g, g)
    k2 = k2 / k2.sum()
    return k2.expand(channels, 1, *k2.shape).contiguous().to(device)
