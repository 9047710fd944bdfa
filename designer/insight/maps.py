"""What a layer computes and where the network looks: feature maps, filters, Grad-CAM, saliency, occlusion.

Every function takes a module (a compiled design or any ``nn.Module``), one input sample in the model's input space
(already normalised) and a node id, and answers with numpy arrays. The module is switched to evaluation mode for the
call and restored; parameter gradients are never touched (``torch.autograd.grad`` only), so calling these between
training steps changes nothing. Do not call them on a module another thread is training: give them
``live.snapshot(module)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..model.graph import Graph
from .probe import InsightError, Probe, as_batch, prepared, scores_of, unit_score


@dataclass(frozen=True)
class Heatmap:
    """A map over the input pixels, with what it explains: ``values`` is ``(H, W)`` (or ``(C, H, W)`` unreduced)."""

    values: np.ndarray
    node_id: str | None
    target: int
    score: float
    #: Occlusion only: the patch size and stride used.
    patch: int = 0
    stride: int = 0


def feature_maps(module: nn.Module, x: Any, node_id: str, *, graph: Graph | None = None) -> np.ndarray:
    """The output of ``node_id`` for one sample, with the node's shape (batch removed): ``(C, H, W)`` for a conv."""
    probe = Probe(module, graph)
    probe.check(node_id)
    with prepared(module), torch.no_grad():
        _, seen = probe.run(as_batch(x, module), [node_id], stop=True)
    return seen[node_id][0].float().cpu().numpy()


def filters(module: nn.Module, node_id: str, *, graph: Graph | None = None) -> np.ndarray:
    """The kernels of a Conv2d node as ``(out_channels, in_channels / groups, kH, kW)``."""
    probe = Probe(module, graph)
    probe.check(node_id)
    conv = probe.submodule(node_id)
    if not isinstance(conv, nn.Conv2d):
        raise InsightError(
            node_id,
            f"is a {probe.kind(node_id)}, not a Conv2d: only convolutions have filters to show",
            "insight.not_conv",
        )
    weights: np.ndarray = conv.weight.detach().float().cpu().numpy().copy()
    return weights


def conv_nodes(module: nn.Module, *, graph: Graph | None = None) -> list[str]:
    """Nodes that are Conv2d layers, in execution order."""
    probe = Probe(module, graph)
    return [i for i in probe.node_ids() if isinstance(probe.submodule(i), nn.Conv2d)]


def spatial_nodes(module: nn.Module, x: Any, *, graph: Graph | None = None) -> list[str]:
    """Nodes whose output is a feature map larger than 1x1 for this input, in execution order (Inputs left out)."""
    probe = Probe(module, graph)
    with prepared(module), torch.no_grad():
        _, seen = probe.run(as_batch(x, module), None)
    return [i for i, t in seen.items() if t.ndim == 4 and t.shape[2] * t.shape[3] > 1 and not probe.is_input(i)]


def grad_cam(
    module: nn.Module, x: Any, node_id: str | None = None, target: int | None = None, *, graph: Graph | None = None
) -> Heatmap:
    """Grad-CAM: channels of a spatial node weighted by the mean gradient of the class score, ReLU, upsampled.

    ``node_id`` defaults to the last spatial layer and ``target`` to the predicted class. ``values`` is ``(H, W)`` at
    the input's size, scaled to [0, 1] (all zero when nothing speaks for the class).
    """
    probe = Probe(module, graph)
    xb = as_batch(x, module)
    if node_id is None:
        spatial = spatial_nodes(module, xb, graph=graph)
        if not spatial:
            raise InsightError(
                None, "the model has no spatial layer (feature map larger than 1x1) for Grad-CAM", "insight.no_spatial"
            )
        node_id = spatial[-1]
    probe.check(node_id)
    with prepared(module):
        scores, seen, score_id = scores_of(probe, xb.requires_grad_(True), [node_id])
        act = seen[node_id]
        _require_spatial(probe, node_id, act)
        target = _target(scores, target)
        score = unit_score(scores, target, score_id)[0]
        grad = _grad(score, act, node_id, score_id)
        weights = grad.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * act).sum(1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=tuple(xb.shape[-2:]), mode="bilinear", align_corners=False)[0, 0]
    peak = float(cam.max())
    values = (cam / peak if peak > 0 else cam).cpu().numpy()
    return Heatmap(values, node_id, target, float(score.detach()))


def saliency(
    module: nn.Module,
    x: Any,
    node_id: str | None = None,
    target: int | None = None,
    *,
    graph: Graph | None = None,
    guided: bool = False,
    reduce: bool = True,
    deconvnet: bool = False,
) -> Heatmap:
    """|d score / d input|, the maximum over channels (``reduce=False`` keeps ``(C, H, W)``).

    The score is unit ``target`` of ``node_id`` (default: the class scores, predicted class); for a feature map it is
    the mean of channel ``target``. ``guided=True`` is guided backpropagation: every ReLU passes back only positive
    gradients, and only where its input was positive. ``deconvnet=True`` is Zeiler and Fergus's deconvnet: every ReLU
    passes back the positive gradients wherever they are, whatever its input was.
    """
    probe = Probe(module, graph)
    xb = as_batch(x, module).requires_grad_(True)
    gate = _DeconvGate if deconvnet else _GuidedGate if guided else None
    with prepared(module), _relu_backward(module, gate):
        scores, node_id, seen = _unit_source(probe, xb, node_id)
        target = _target(scores, target)
        score = unit_score(scores, target, node_id)[0]
        grad = _grad(score, xb, node_id, None)[0].abs()
    values = grad.amax(0) if reduce else grad
    return Heatmap(values.cpu().numpy(), node_id, target, float(score.detach()))


def guided_backprop(
    module: nn.Module,
    x: Any,
    node_id: str | None = None,
    target: int | None = None,
    *,
    graph: Graph | None = None,
    reduce: bool = True,
) -> Heatmap:
    """Guided backpropagation (Springenberg et al. 2015); ``saliency(..., guided=True)``."""
    return saliency(module, x, node_id, target, graph=graph, guided=True, reduce=reduce)


def deconvnet(
    module: nn.Module,
    x: Any,
    node_id: str | None = None,
    target: int | None = None,
    *,
    graph: Graph | None = None,
    reduce: bool = True,
) -> Heatmap:
    """The deconvnet view (Zeiler and Fergus 2014); ``saliency(..., deconvnet=True)``."""
    return saliency(module, x, node_id, target, graph=graph, deconvnet=True, reduce=reduce)


def occlusion(
    module: nn.Module,
    x: Any,
    node_id: str | None = None,
    target: int | None = None,
    *,
    graph: Graph | None = None,
    patch: int | None = None,
    stride: int | None = None,
    fill: float | Sequence[float] = 0.0,
    batch_size: int = 64,
) -> Heatmap:
    """Occlusion sensitivity: the drop of the score when a ``patch`` square of ``fill`` covers each pixel.

    ``fill`` is in the model's input space (0 is the dataset mean once normalised; pass the normalised grey for a
    grey patch). Positions step by ``stride`` and always reach the last row and column; every pixel gets the mean
    drop over the patches that covered it. By default the patch is a seventh of the shorter side and the stride
    half the patch: about 170 occluded copies at any image size. Copies are scored ``batch_size`` at a time.
    """
    xb = as_batch(x, module)
    h, w = xb.shape[-2:]
    patch = patch or max(2, round(min(h, w) / 7))
    stride = stride or max(1, patch // 2)
    if patch < 1 or stride < 1:
        raise InsightError(node_id, f"patch ({patch}) and stride ({stride}) must be at least 1", "insight.bad_option")
    probe = Probe(module, graph)
    p_h, p_w = min(patch, h), min(patch, w)
    spots = [(i, j) for i in _starts(h, p_h, stride) for j in _starts(w, p_w, stride)]
    shade = torch.as_tensor(fill, dtype=xb.dtype, device=xb.device).reshape(-1, 1, 1)
    with prepared(module), torch.no_grad():
        scores, node_id, _ = _unit_source(probe, xb, node_id)
        target = _target(scores, target)
        base = unit_score(scores, target, node_id)[0]
        drops = []
        for k in range(0, len(spots), batch_size):
            batch = xb.repeat(len(spots[k : k + batch_size]), 1, 1, 1)
            for b, (i, j) in enumerate(spots[k : k + batch_size]):
                batch[b, :, i : i + p_h, j : j + p_w] = shade
            drops.append(base - unit_score(_unit_source(probe, batch, node_id)[0], target, node_id))
    total, count = torch.zeros(h, w, dtype=torch.float64), torch.zeros(h, w, dtype=torch.float64)
    for (i, j), d in zip(spots, torch.cat(drops).double().cpu()):
        total[i : i + p_h, j : j + p_w] += d
        count[i : i + p_h, j : j + p_w] += 1
    return Heatmap((total / count).float().numpy(), node_id, target, float(base), patch, stride)


def _starts(size: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, size - patch + 1, stride))
    return starts if starts[-1] == size - patch else [*starts, size - patch]


def _unit_source(
    probe: Probe, xb: torch.Tensor, node_id: str | None
) -> tuple[torch.Tensor, str | None, dict[str, torch.Tensor]]:
    """The tensor whose units are scored: the class scores by default, else the output of ``node_id``."""
    if node_id is None:
        scores, seen, score_id = scores_of(probe, xb)
        return scores, score_id, seen
    probe.check(node_id)
    if probe.is_input(node_id):
        raise InsightError(
            node_id, "is an Input: its score would not depend on any layer; pick a layer", "insight.input_node"
        )
    _, seen = probe.run(xb, [node_id], stop=True)
    return seen[node_id], node_id, seen


def _target(scores: torch.Tensor, target: int | None) -> int:
    if target is not None:
        return int(target)
    flat = scores.detach()[0].reshape(scores.shape[1], -1).mean(1) if scores.ndim > 1 else scores.detach()
    return int(flat.argmax())


def _require_spatial(probe: Probe, node_id: str, act: torch.Tensor) -> None:
    if act.ndim != 4:
        shape = list(act.shape[1:])
        raise InsightError(
            node_id,
            f"is a {probe.kind(node_id)} with output {shape}, not a spatial feature map "
            "[C, H, W]; pick a convolutional layer",
            "insight.not_spatial",
        )


def _grad(score: torch.Tensor, wrt: torch.Tensor, node_id: str | None, score_id: str | None) -> torch.Tensor:
    """d score / d wrt, or ``InsightError`` (``insight.no_gradient``) when the score does not depend on it."""
    grad = None
    if wrt.requires_grad and score.requires_grad:
        (grad,) = torch.autograd.grad(score, wrt, allow_unused=True)
    if grad is None:
        of = f"the score of '{score_id}'" if score_id else "the model's output"
        raise InsightError(node_id, f"has no gradient path to {of}; pick a layer that feeds it", "insight.no_gradient")
    return grad


class _GuidedGate(torch.autograd.Function):
    """Identity forward; backward lets through only positive gradients where the ReLU's output was positive."""

    @staticmethod
    def forward(ctx: Any, out: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(out)
        return out.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (out,) = ctx.saved_tensors
        gated: torch.Tensor = grad.clamp(min=0) * (out > 0)
        return gated


class _DeconvGate(torch.autograd.Function):
    """ReLU forward; backward lets through the positive gradients, ignoring where the input was negative."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad.clamp(min=0)


class _relu_backward:
    """While active, every ReLU's backward pass is ``gate``'s (None: autograd's own)."""

    def __init__(self, module: nn.Module, gate: type[torch.autograd.Function] | None):
        self.relus = [m for m in module.modules() if isinstance(m, nn.ReLU)] if gate is not None else []
        self.gate = gate
        self.handles: list[Any] = []
        self.inputs: dict[int, torch.Tensor] = {}

    def __enter__(self) -> None:
        for m in self.relus:
            if self.gate is _DeconvGate:
                self.handles.append(m.register_forward_pre_hook(self._keep_input))
                self.handles.append(m.register_forward_hook(self._deconv))
            else:
                self.handles.append(m.register_forward_hook(self._guided))

    def _keep_input(self, m: nn.Module, inputs: tuple[torch.Tensor, ...]) -> Any:
        # The deconvnet gate replaces the ReLU and takes its input, so that no mask of the forward pass reaches the
        # backward one; an in-place ReLU gets a copy to overwrite.
        self.inputs[id(m)] = inputs[0]
        return (inputs[0].clone(),) if getattr(m, "inplace", False) else None

    def _deconv(self, m: nn.Module, _inputs: Any, _out: torch.Tensor) -> torch.Tensor:
        gated: torch.Tensor = _DeconvGate.apply(self.inputs.pop(id(m)))
        return gated

    @staticmethod
    def _guided(_m: nn.Module, _inputs: Any, out: torch.Tensor) -> torch.Tensor:
        gated: torch.Tensor = _GuidedGate.apply(out)  # after the ReLU: its output tells where the input was positive
        return gated

    def __exit__(self, *exc: object) -> None:
        for h in self.handles:
            h.remove()
