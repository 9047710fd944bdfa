"""What each layer costs: parameters, mult-adds and activation memory counted from the analysis, and forward and
backward time measured on the compiled module.

Counting needs no torch; ``measure`` imports it. Times come from hooks around every node's module: a forward pre-hook
and hook bracket its forward, a full backward pre-hook and hook its backward (on CUDA each bracket synchronises, so
the times are the kernels' own, at the price of the overlap a real step would have). Nodes computed by a function
rather than a module (Add, Concat, ...) have no time of their own; their cost shows in the next layer's.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from math import prod
from typing import Any

from ..model.graph import Graph
from .summary import ELEMENT_BYTES
from .validate import Analysis, analyze

#: What a layer can be ranked and coloured by, with the unit shown.
METRICS = {"params": "parameters", "mult_adds": "mult-adds", "memory": "activation bytes", "time": "ms"}


@dataclass(frozen=True)
class LayerCost:
    """One node's cost for one sample (memory, mult-adds) and one batch (times, in milliseconds)."""

    node_id: str
    type: str
    params: int
    mult_adds: int
    #: Bytes of the node's output for one sample (float32): what the forward pass keeps for the backward one.
    memory: int
    forward_ms: float | None = None
    backward_ms: float | None = None

    @property
    def time_ms(self) -> float | None:
        """Forward plus backward time of one batch; None where nothing was measured."""
        if self.forward_ms is None:
            return None
        return self.forward_ms + (self.backward_ms or 0.0)

    def value(self, metric: str) -> float:
        """The figure ``metric`` (a key of ``METRICS``) names; 0 where it is unknown."""
        if metric == "time":
            return self.time_ms or 0.0
        return float(getattr(self, metric))


def count(analysis: Analysis) -> list[LayerCost]:
    """Every node but the Inputs, in evaluation order, with what the analysis counted."""
    costs = []
    for node_id in analysis.order:
        info = analysis.info[node_id]
        if info.node.type == "Input":
            continue
        memory = prod(info.shape) * ELEMENT_BYTES if info.shape else 0
        costs.append(LayerCost(node_id, info.node.type, info.params, info.mult_adds, memory))
    return costs


def top(costs: Sequence[LayerCost], metric: str, n: int = 5) -> list[LayerCost]:
    """The ``n`` costliest layers by ``metric``, costliest first (ties in evaluation order)."""
    ranked = sorted(costs, key=lambda c: -c.value(metric))
    return [c for c in ranked[:n] if c.value(metric) > 0]


def measure(
    graph: Graph,
    analysis: Analysis | None = None,
    *,
    device: str = "cpu",
    batch_size: int = 8,
    repeats: int = 5,
    warmup: int = 2,
) -> list[LayerCost]:
    """``count`` plus each node's median forward and backward time over ``repeats`` steps on ``device``.

    Raises:
        CompileError: the design has errors.
    """
    import torch

    from ..compiler import compile_graph

    analysis = analysis or analyze(graph)
    model = compile_graph(graph, seed=0, analysis=analysis).to(device)
    model.train()
    inputs = [
        torch.randn(batch_size, *(analysis.shape(i) or ()), device=device, requires_grad=True)
        for i in graph.input_ids()
    ]
    clock = _Clock(torch.device(device))
    modules = dict(model.named_modules())
    handles = [h for node_id in analysis.order if node_id in modules for h in clock.watch(node_id, modules[node_id])]
    try:
        for i in range(warmup + repeats):
            clock.recording = i >= warmup
            out = model(*inputs)
            outs = out if isinstance(out, tuple) else (out,)
            sum(o.float().mean() for o in outs).backward()
            model.zero_grad(set_to_none=True)
    finally:
        for h in handles:
            h.remove()
    return [
        replace(c, forward_ms=clock.median("forward", c.node_id), backward_ms=clock.median("backward", c.node_id))
        for c in count(analysis)
    ]


class _Clock:
    """Brackets each watched module's forward and backward with timestamps; keeps the durations while recording."""

    def __init__(self, device: Any):
        self.cuda = device.type == "cuda"
        self.recording = False
        self.started: dict[tuple[str, str], float] = {}
        self.times: dict[tuple[str, str], list[float]] = {}

    def sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def watch(self, node_id: str, module: Any) -> list[Any]:
        """Hook ``module``; returns the hooks' handles."""

        def start(phase: str) -> Any:
            def hook(*_: Any) -> None:
                self.sync()
                self.started[phase, node_id] = time.perf_counter()

            return hook

        def stop(phase: str) -> Any:
            def hook(*_: Any) -> None:
                self.sync()
                t0 = self.started.pop((phase, node_id), None)
                if self.recording and t0 is not None:
                    self.times.setdefault((phase, node_id), []).append((time.perf_counter() - t0) * 1000)

            return hook

        return [
            module.register_forward_pre_hook(start("forward")),
            module.register_forward_hook(stop("forward")),
            module.register_full_backward_pre_hook(start("backward")),
            module.register_full_backward_hook(stop("backward")),
        ]

    def median(self, phase: str, node_id: str) -> float | None:
        times = self.times.get((phase, node_id))
        return statistics.median(times) if times else None


def format_table(costs: Sequence[LayerCost], sort: str | None = None, limit: int | None = None) -> str:
    """The costs as a text table (sorted by ``sort``, the first ``limit`` rows), with each row's share of the time."""
    rows = top(costs, sort, limit or len(costs)) if sort else list(costs)[:limit]
    total_time = sum(c.time_ms or 0.0 for c in costs)
    head = f"{'node':28s} {'type':18s} {'params':>12s} {'mult-adds':>15s} {'act. bytes':>12s}"
    timed = total_time > 0
    if timed:
        head += f" {'fwd ms':>9s} {'bwd ms':>9s} {'time %':>7s}"
    lines = [head, "-" * len(head)]
    for c in rows:
        line = f"{c.node_id[:28]:28s} {c.type[:18]:18s} {c.params:12,d} {c.mult_adds:15,d} {c.memory:12,d}"
        if timed:
            fwd = "" if c.forward_ms is None else f"{c.forward_ms:9.3f}"
            bwd = "" if c.backward_ms is None else f"{c.backward_ms:9.3f}"
            share = "" if c.time_ms is None else f"{100 * c.time_ms / total_time:6.1f}%"
            line += f" {fwd:>9s} {bwd:>9s} {share:>7s}"
        lines.append(line)
    totals = (
        f"{'total':28s} {'':18s} {sum(c.params for c in costs):12,d} {sum(c.mult_adds for c in costs):15,d} "
        f"{sum(c.memory for c in costs):12,d}"
    )
    if timed:
        totals += f" {sum(c.forward_ms or 0 for c in costs):9.3f} {sum(c.backward_ms or 0 for c in costs):9.3f}"
    lines.append(totals)
    return "\n".join(lines)
