"""Validation speed: analysing a generated 1,000-node graph, against shape propagation by torch on the meta device.

The issue's bound: validating 1,000 nodes takes well under 50 ms. The baseline is what torch itself needs to infer the
same shapes without computing anything (a forward pass of the compiled module on meta tensors).
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from designer import analyze
from designer.analysis import summary
from designer.model.graph import Graph, Node, NodeId

BOUND_MS = 50.0


def residual_graph(blocks: int) -> Graph:
    """Input, stem, then ``blocks`` residual blocks of 7 nodes (conv, bn, relu, conv, bn, add, relu), then a head."""
    nodes = [
        Node(NodeId("x"), "Input", {"shape": [3, 64, 64]}),
        Node(NodeId("stem"), "Conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}, [NodeId("x")]),
    ]
    last = "stem"
    for b in range(blocks):
        p = f"block{b}"
        specs = [
            ("conv1", "Conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}, [last]),
            ("bn1", "BatchNorm2d", {}, [f"{p}.conv1"]),
            ("relu1", "ReLU", {}, [f"{p}.bn1"]),
            ("conv2", "Conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}, [f"{p}.relu1"]),
            ("bn2", "BatchNorm2d", {}, [f"{p}.conv2"]),
            ("add", "Add", {}, [f"{p}.bn2", last]),
            ("relu2", "ReLU", {}, [f"{p}.add"]),
        ]
        for name, type_, params, inputs in specs:
            nodes.append(Node(NodeId(f"{p}.{name}"), type_, params, [NodeId(i) for i in inputs]))
        last = f"{p}.relu2"
    nodes += [
        Node(NodeId("pool"), "AdaptiveAvgPool2d", {"output_size": 1}, [NodeId(last)]),
        Node(NodeId("flat"), "Flatten", {}, [NodeId("pool")]),
        Node(NodeId("fc"), "Linear", {"out_features": 10}, [NodeId("flat")]),
    ]
    return Graph("bench", nodes)


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main() -> None:
    import torch

    print(
        f"# python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs, {platform.machine()}"
    )
    g = residual_graph(142)
    n = len(g)
    analysis = analyze(g)
    assert analysis.ok, analysis.diagnostics[:3]
    validate_ms = median_ms(lambda: analyze(g), 30)
    summary_ms = median_ms(lambda: summary.to_json(analyze(g)), 10)

    from designer.compiler import compile_graph

    module = compile_graph(g).to("meta")
    x = torch.empty(1, 3, 64, 64, device="meta")
    with torch.no_grad():
        meta_ms = median_ms(lambda: module(x), 30)
    print(f"nodes: {n}")
    print(
        f"validate (analyze): {validate_ms:.1f} ms  (bound {BOUND_MS:.0f} ms: "
        f"{'OK' if validate_ms < BOUND_MS else 'OVER'})"
    )
    print(f"summary incl. analyze: {summary_ms:.1f} ms")
    print(f"torch meta-device forward (baseline): {meta_ms:.1f} ms")
    print(f"ratio validate / meta forward: {validate_ms / meta_ms:.2f}")


if __name__ == "__main__":
    main()
