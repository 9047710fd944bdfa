"""Memory budgets, checked before anything is allocated: the analysis already knows every parameter count and every
activation shape, so the bytes a model needs are known before torch builds it.

Two thresholds: a *budget* (``CNN_DESIGNER_MEMORY_BUDGET``, default 4 GiB) above which the validator warns, and a
*hard limit* derived from the memory this machine has available now (``CNN_DESIGNER_MEMORY_LIMIT`` overrides it)
above which compiling, exporting and training refuse, naming the figure and the node that dominates it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..layers.registry import prod
from ..model import diagnostics as dg
from ..model.diagnostics import Diagnostic
from ..model.graph import NodeId

if TYPE_CHECKING:
    from .validate import NodeInfo

#: float32, what every layer is built in.
BYTES_PER_VALUE = 4
DEFAULT_BUDGET = 4 * 2**30
#: Of the memory available now, the share one model may take: the rest is for torch, Python and the window.
LIMIT_SHARE = 0.8
#: Training holds each weight four times (value, gradient, two Adam moments) and each activation twice (forward
#: value, gradient).
TRAIN_WEIGHT_COPIES, TRAIN_ACTIVATION_COPIES = 4, 2
#: Protocol buffers cap a message at 2 GB, and an ONNX export is one self-contained file: the weights must fit.
ONNX_MAX_BYTES = 2**31 - 2**26
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Footprint:
    """The bytes a design needs: its weights, and its activations for one sample, with the largest node of each."""

    param_bytes: int
    activation_bytes: int
    top_params: tuple[NodeId, int] | None
    top_activation: tuple[NodeId, int] | None

    def bytes_for(self, batch: int = 1, training: bool = False) -> int:
        """Weights plus the activations of ``batch`` samples; with ``training``, gradients and optimiser state too."""
        if training:
            return self.param_bytes * TRAIN_WEIGHT_COPIES + self.activation_bytes * batch * TRAIN_ACTIVATION_COPIES
        return self.param_bytes + self.activation_bytes * batch

    def dominant(self, batch: int = 1) -> tuple[NodeId, str] | None:
        """The node that holds the most memory, and what it holds (its weights or its output)."""
        weights = self.top_params[1] if self.top_params else -1
        acts = self.top_activation[1] * batch if self.top_activation else -1
        if self.top_params and weights >= acts:
            return self.top_params[0], f"{fmt_bytes(weights)} of weights"
        if self.top_activation:
            return self.top_activation[0], f"an output of {fmt_bytes(acts)}"
        return None


def footprint(info: Iterable[NodeInfo]) -> Footprint:
    """Sum the weights and per-sample outputs of every analysed node."""
    param_bytes = act_bytes = 0
    top_p: tuple[NodeId, int] | None = None
    top_a: tuple[NodeId, int] | None = None
    for ni in info:
        p = ni.params * BYTES_PER_VALUE
        a = prod(ni.shape) * BYTES_PER_VALUE if ni.shape is not None and ni.node.type != "Input" else 0
        param_bytes += p
        act_bytes += a
        if p and (top_p is None or p > top_p[1]):
            top_p = (ni.node.id, p)
        if a and (top_a is None or a > top_a[1]):
            top_a = (ni.node.id, a)
    return Footprint(param_bytes, act_bytes, top_p, top_a)


def fmt_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KiB``: binary units, three significant digits."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def parse_size(text: str) -> int | None:
    """``"2G"``, ``"512 MiB"``, ``"1000000"`` -> bytes; None for anything else."""
    match = _SIZE.fullmatch(text)
    if match is None:
        return None
    scale = 1024 ** " kmgt".index(match.group(2).lower() or " ")
    return int(float(match.group(1)) * scale)


def budget() -> int:
    """The size above which the validator warns: ``CNN_DESIGNER_MEMORY_BUDGET`` (e.g. ``8G``), else 4 GiB."""
    return parse_size(os.environ.get("CNN_DESIGNER_MEMORY_BUDGET", "")) or DEFAULT_BUDGET


def available_memory() -> int | None:
    """Bytes of memory available now (``MemAvailable``, else free physical pages); None where neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def hard_limit() -> int | None:
    """The most one model may take: ``CNN_DESIGNER_MEMORY_LIMIT`` if set, else 80% of the memory available now."""
    forced = parse_size(os.environ.get("CNN_DESIGNER_MEMORY_LIMIT", ""))
    if forced:
        return forced
    free = available_memory()
    return int(free * LIMIT_SHARE) if free else None


#: From this many nodes on, exporting through torch's exporters is said to be slow (``bench/bench_scale.py``: ONNX
#: 17 ms a node on 2 idle CPU cores, 50 s at 3,000 nodes; TorchScript 10 s at 3,000 and growing faster).
SLOW_EXPORT_NODES = 2_000
ONNX_S_PER_NODE = 0.017


def budget_warnings(info: Iterable[NodeInfo]) -> list[Diagnostic]:
    """Warnings when one sample's forward pass needs more than the budget, the weights more than ONNX holds, or the
    design has so many nodes that torch's ONNX and TorchScript exporters take minutes."""
    nodes = list(info)
    fp = footprint(nodes)
    need, allowed = fp.bytes_for(1), budget()
    out = []
    if len(nodes) >= SLOW_EXPORT_NODES:
        minutes = len(nodes) * ONNX_S_PER_NODE / 60
        out.append(
            dg.warning(
                "export.slow",
                f"ONNX and TorchScript exports of {len(nodes):,} nodes take minutes: torch's exporters trace every "
                f"node (ONNX about {minutes:.0f} min on 2 CPU cores, TorchScript growing faster than the size)",
                None,
                "export Python source (seconds at this size) or a checkpoint, or fold repeated layers into fewer nodes",
            )
        )
    if fp.param_bytes > ONNX_MAX_BYTES:
        out.append(
            dg.warning(
                "export.onnx_too_large",
                f"the weights take {fmt_bytes(fp.param_bytes)}; an ONNX file holds at most 2 GB, so this design "
                "cannot be exported to ONNX",
                fp.top_params[0] if fp.top_params else None,
                "export TorchScript or a checkpoint, or make the largest layer smaller",
            )
        )
    if need <= allowed:
        return out
    top = fp.dominant()
    where = f"; '{top[0]}' alone holds {top[1]}" if top else ""
    return out + [
        dg.warning(
            "cost.memory",
            f"the model needs {fmt_bytes(need)} for one sample ({fmt_bytes(fp.param_bytes)} of weights), above the "
            f"budget of {fmt_bytes(allowed)}{where}",
            top[0] if top else None,
            "make the largest layer smaller, or raise CNN_DESIGNER_MEMORY_BUDGET if this machine can hold it",
        )
    ]


def over_limit(
    info: Iterable[NodeInfo], what: str, batch: int = 1, training: bool = False, data_bytes: int = 0
) -> list[Diagnostic]:
    """An error when ``what`` (compiling, training...) would need more memory than this machine can give;
    ``data_bytes`` is what is held besides the model (a generated dataset)."""
    limit = hard_limit()
    fp = footprint(info)
    need = fp.bytes_for(batch, training) + data_bytes
    if limit is None or need <= limit:
        return []
    top = fp.dominant(batch)
    if data_bytes > fp.bytes_for(batch, training):
        top = None
    where = (
        f"; '{top[0]}' alone holds {top[1]}"
        if top
        else (f"; the data alone takes {fmt_bytes(data_bytes)}" if data_bytes else "")
    )
    per = f" at batch size {batch}" if batch > 1 else ""
    return [
        dg.error(
            "cost.over_memory",
            f"{what} needs {fmt_bytes(need)}{per}, more than the {fmt_bytes(limit)} this machine can give{where}",
            top[0] if top else None,
            ("make that layer smaller" if top else "draw fewer samples")
            + (" or the batch size smaller" if batch > 1 else ""),
        )
    ]
