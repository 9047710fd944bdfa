"""Scale: validating and exporting chains of 1k, 10k and 100k nodes, and one Concat of 20k inputs.

The issue's bounds: a 100k-node design validates in under 1 s in process and exports (Python source) in under 30 s,
and cost grows linearly: each tenfold step should cost about ten times as much (ratio ~10, not ~100). ONNX and
TorchScript are timed on the smaller sizes only (``--formats`` widens it); their cost is torch's exporter's.

Usage: ``python bench/bench_scale.py [--sizes 1000,10000,100000] [--formats python,torchscript,onnx]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from designer import analyze
from designer.compiler import module_layout
from designer.export import export
from designer.model.graph import Graph, Node, NodeId

VALIDATE_BOUND_S = 1.0
EXPORT_BOUND_S = 30.0


def chain(n: int) -> Graph:
    """Input [8], then ``n`` layers alternating Linear(8) and ReLU: the longest design for its size."""
    nodes = [Node(NodeId("x"), "Input", {"shape": [8]})]
    prev = "x"
    for i in range(n):
        kind, params = ("Linear", {"out_features": 8}) if i % 2 == 0 else ("ReLU", {})
        nodes.append(Node(NodeId(f"n{i}"), kind, params, [NodeId(prev)]))
        prev = f"n{i}"
    return Graph("chain", nodes)


def wide_concat(n: int) -> Graph:
    """Input [1, 4, 4], ``n`` Identity branches, one Concat of all of them."""
    nodes = [Node(NodeId("x"), "Input", {"shape": [1, 4, 4]})]
    nodes += [Node(NodeId(f"b{i}"), "Identity", {}, [NodeId("x")]) for i in range(n)]
    nodes.append(Node(NodeId("cat"), "Concat", {"dim": 1}, [NodeId(f"b{i}") for i in range(n)]))
    return Graph("wide", nodes)


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def export_time(graph: Graph, fmt: str) -> float:
    suffix = {"python": ".py", "onnx": ".onnx", "torchscript": ".pt"}[fmt]
    with tempfile.TemporaryDirectory() as folder:
        return timed(lambda: export(graph, os.path.join(folder, "m" + suffix), fmt, seed=0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--formats", default="python", help="comma-separated export formats to time at every size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    formats = args.formats.split(",")
    print(f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    rows: dict[str, list[float]] = {}
    for n in sizes:
        graph = chain(n)
        rows.setdefault("validate", []).append(timed(lambda g=graph: analyze(g)))
        rows.setdefault("module_layout", []).append(timed(lambda g=graph: module_layout(g.ids())))
        for fmt in formats:
            rows.setdefault(f"export {fmt}", []).append(export_time(graph, fmt))
    print(f"{'chain of n nodes':<22}" + "".join(f"{n:>12,}" for n in sizes) + "   ratios (each step)")
    for what, times in rows.items():
        ratios = [b / a if a else float("inf") for a, b in zip(times, times[1:])]
        print(f"{what:<22}" + "".join(f"{t:>11.3f}s" for t in times) + "   " + " ".join(f"x{r:.1f}" for r in ratios))
    big = sizes[-1]
    print(f"validate {big:,}: {rows['validate'][-1]:.2f} s (bound {VALIDATE_BOUND_S} s)", end="; ")
    if "export python" in rows:
        print(f"export python: {rows['export python'][-1]:.2f} s (bound {EXPORT_BOUND_S} s)")
    wide = wide_concat(min(20_000, big))
    print(
        f"Concat of {len(wide) - 2:,} inputs: validate {timed(lambda: analyze(wide)):.2f} s, "
        f"export python {export_time(wide, 'python'):.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
