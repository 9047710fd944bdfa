"""Alternatives to one convolution that keep its output shape: a 3x3 stack, depthwise-separable, a 1x1 bottleneck.

Each alternative is a chain of layers with its parameters and mult-adds, counted by the same analysis as the design
itself, so the figures are the ones the summary will show once it is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..layers.registry import Shape, get_spec
from ..model.graph import Graph, Node, NodeId
from .validate import Analysis, analyze

#: (layer type, parameters) in the order they replace the convolution; the last one takes the convolution's id.
Layer = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Alternative:
    """One way to compute what a convolution computes, with the figures to compare."""

    name: str
    why: str
    layers: tuple[Layer, ...]
    params: int
    mult_adds: int
    shape: Shape


def alternatives(analysis: Analysis, node_id: str) -> list[Alternative]:
    """The alternatives to the ``Conv2d`` ``node_id`` that fit its input and give its output shape (none: [])."""
    ni = analysis.info.get(NodeId(node_id))
    if ni is None or ni.node.type != "Conv2d" or ni.ctx is None or ni.shape is None:
        return []
    p, x = ni.ctx.p, ni.ctx.x0
    if p["groups"] != 1:
        return []
    found = []
    for name, why, layers in (_stack(p), _separable(p), _bottleneck(p)):
        if layers:
            alt = _measure(name, why, layers, x)
            if alt is not None and alt.shape == ni.shape:
                found.append(alt)
    return found


def _kernel(p: dict[str, Any]) -> int | None:
    """The square kernel size, or None for a rectangular one."""
    kh, kw = p["kernel_size"]
    return int(kh) if kh == kw else None


#: What turns a convolution's parameters into those of a 1x1 one at stride 1.
_POINTWISE: dict[str, Any] = {"kernel_size": 1, "stride": 1, "padding": 0, "dilation": 1, "padding_mode": "zeros"}


def _conv(p: dict[str, Any], **changes: Any) -> Layer:
    keep = {k: p[k] for k in ("out_channels", "kernel_size", "stride", "padding", "dilation", "bias", "padding_mode")}
    spec = get_spec("Conv2d")
    assert spec is not None
    params = {}
    for name, value in {**keep, **changes}.items():
        default = spec.param(name).canonical_default
        pair = (value, value) if isinstance(value, int) and isinstance(default, tuple) else value
        if pair != default or name == "kernel_size":
            params[name] = list(value) if isinstance(value, tuple) else value
    return ("Conv2d", params)


def _stack(p: dict[str, Any]) -> tuple[str, str, list[Layer]]:
    """n = (k-1)/2 3x3 convolutions with ReLUs between see the k x k window of one; the stride moves to the last."""
    k = _kernel(p)
    name = "Stack of 3x3"
    if k is None or k < 5 or k % 2 == 0 or p["dilation"] != (1, 1) or p["padding"] == "valid":
        return name, "", []
    ph, pw = ((k - 1) // 2,) * 2 if p["padding"] == "same" else p["padding"]
    if ph != pw:
        return name, "", []
    n = (k - 1) // 2
    pads = [ph // n + (1 if i < ph % n else 0) for i in range(n)]
    layers: list[Layer] = []
    for i, pad in enumerate(pads):
        last = i == n - 1
        layers.append(_conv(p, kernel_size=3, padding=pad, stride=p["stride"] if last else 1))
        if not last:
            layers.append(("ReLU", {}))
    why = f"{n} 3x3 convolutions see the same {k}x{k} window, with {n - 1} more nonlinearities (VGG)"
    return name, why, layers


def _separable(p: dict[str, Any]) -> tuple[str, str, list[Layer]]:
    """A depthwise k x k convolution (one filter per channel), then a 1x1 one that mixes the channels."""
    c_in = p["in_channels"]
    if p["kernel_size"] == (1, 1) or c_in < 2:
        return "Depthwise-separable", "", []
    depthwise = _conv(p, out_channels=c_in, groups=c_in, bias=False)
    pointwise = _conv(p, **_POINTWISE)
    why = "filter each channel alone, then mix channels with 1x1 (Xception, MobileNet)"
    return "Depthwise-separable", why, [depthwise, pointwise]


def _bottleneck(p: dict[str, Any]) -> tuple[str, str, list[Layer]]:
    """A 1x1 convolution down to a quarter of the channels, a ReLU, then the k x k convolution."""
    c_in = p["in_channels"]
    if p["kernel_size"] == (1, 1) or c_in < 8:
        return "1x1 bottleneck", "", []
    r = c_in // 4
    reduce = _conv(p, **{**_POINTWISE, "out_channels": r})
    why = f"reduce {c_in} channels to {r} with 1x1 before the {p['kernel_size'][0]}x{p['kernel_size'][1]} (GoogLeNet)"
    return "1x1 bottleneck", why, [reduce, ("ReLU", {}), _conv(p)]


def _measure(name: str, why: str, layers: list[Layer], x: Shape) -> Alternative | None:
    """Count the chain by analysing it on the convolution's input; None if it does not fit."""
    nodes = [Node(NodeId("x"), "Input", {"shape": list(x)})]
    for i, (type_, params) in enumerate(layers):
        nodes.append(Node(NodeId(f"n{i}"), type_, dict(params), [nodes[-1].id]))
    result = analyze(Graph("alternative", nodes))
    last = result.shape(nodes[-1].id)
    if not result.ok or last is None:
        return None
    infos = [result.info[n.id] for n in nodes[1:]]
    return Alternative(
        name, why, tuple(layers), sum(i.params for i in infos), sum(i.mult_adds for i in infos), tuple(last)
    )
