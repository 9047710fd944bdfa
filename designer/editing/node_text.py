"""The short texts the canvas shows: key parameters (``3x3 /2, 64``), shapes (``64×56×56``) and counts (``1.2M``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from designer.analysis.validate import NodeInfo
from designer.model.graph import Node


def fmt_shape(shape: tuple[int, ...] | None) -> str:
    """A shape as ``64×56×56`` (``?`` when unknown)."""
    return "?" if shape is None else "×".join(str(d) for d in shape) or "scalar"


def fmt_outputs(ports: Sequence[tuple[int, ...] | None]) -> str:
    """A node's output shape, or a Split's parts: ``2 × 32×8×8`` when equal, else each (``16×8×8 | 48×8×8``)."""
    if len(ports) > 1 and len(set(ports)) == 1:
        return f"{len(ports)} × {fmt_shape(ports[0])}"
    return " | ".join(fmt_shape(p) for p in ports)


def fmt_count(n: int) -> str:
    """1234 -> 1.2k, 11689512 -> 11.7M."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _pair(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        a, b = v
        return f"{a}x{b}" if a != b else f"{a}x{a}"
    return f"{v}x{v}"


def _single(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        return str(v[0]) if v[0] == v[1] else f"{v[0]},{v[1]}"
    return str(v)


def _conv(p: dict[str, Any]) -> str:
    text = _pair(p.get("kernel_size", "?"))
    stride = p.get("stride") or 1
    if _single(stride) != "1":
        text += f" /{_single(stride)}"
    text += f", {p.get('out_channels', '?')}"
    if p.get("groups", 1) not in (1, None):
        text += f" g{p['groups']}"
    if p.get("dilation") not in (None, 1, (1, 1), [1, 1]):
        text += f" d{_single(p['dilation'])}"
    return text


def _pool(p: dict[str, Any]) -> str:
    k = p.get("kernel_size", "?")
    stride = p.get("stride")
    return _pair(k) + (f" /{_single(stride if stride is not None else k)}")


def _adaptive(p: dict[str, Any]) -> str:
    size = p.get("output_size", "?")
    if isinstance(size, (tuple, list)):
        return "to " + "x".join("*" if s is None else str(s) for s in size)
    return f"to {size}x{size}"


def _upsample(p: dict[str, Any]) -> str:
    if p.get("size") is not None:
        return f"to {_pair(p['size'])}, {p.get('mode', 'nearest')}"
    return f"×{_single(p.get('scale_factor', '?'))}, {p.get('mode', 'nearest')}"


def _pad4(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        return str(v[0]) if len(set(v)) == 1 else ",".join(map(str, v))
    return str(v)


_KEY_TEXT: dict[str, Callable[[dict[str, Any]], str]] = {
    "Conv2d": _conv,
    "ConvTranspose2d": _conv,
    "MaxPool2d": _pool,
    "AvgPool2d": _pool,
    "AdaptiveAvgPool2d": _adaptive,
    "AdaptiveMaxPool2d": _adaptive,
    "Upsample": _upsample,
    "Linear": lambda p: f"{p.get('in_features') or '?'} → {p.get('out_features', '?')}",
    "Input": lambda p: "×".join(str(d) for d in p.get("shape") or ()) or "?",
    "Reshape": lambda p: "to " + "×".join(str(d) for d in p.get("shape") or ()),
    "Dropout": lambda p: f"p={p.get('p', 0.5)}",
    "Dropout2d": lambda p: f"p={p.get('p', 0.5)}",
    "Concat": lambda p: f"dim={p.get('dim', 1)}",
    "Softmax": lambda p: f"dim={p.get('dim', 1)}",
    "LogSoftmax": lambda p: f"dim={p.get('dim', 1)}",
    "LeakyReLU": lambda p: f"slope={p.get('negative_slope', 0.01)}",
    "GroupNorm": lambda p: f"{p.get('num_groups', '?')} groups",
    "BatchNorm2d": lambda p: f"{p.get('num_features') or ''} features".strip(),
    "BatchNorm1d": lambda p: f"{p.get('num_features') or ''} features".strip(),
    "ZeroPad2d": lambda p: "pad " + _pad4(p.get("padding", "?")),
    "Flatten": lambda p: f"from dim {p.get('start_dim', 1)}",
}


def key_params(node: Node, info: NodeInfo | None) -> str:
    """The one-line parameter digest of a node; resolved values when analysis has them, raw ones otherwise."""
    values = info.ctx.p if info is not None and info.ctx is not None else node.params
    rule = _KEY_TEXT.get(node.type)
    if rule is not None:
        try:
            return rule(values)
        except (TypeError, ValueError, KeyError):
            pass
    shown = [f"{k}={v}" for k, v in node.params.items()]
    return ", ".join(shown)[:40]
