"""Scale: validating and exporting chains of 1k, 10k and 100k nodes, and one Concat of 20k inputs.

The issue's bounds: a 100k-node design validates in under 1 s in process and exports (Python source) in under 30 s,
and cost grows linearly: each tenfold step should cost about ten times as much (ratio ~10, not ~100). ONNX and
TorchScript are timed up to ``--torch-max`` nodes (10k by default; ``--torch-max 100000`` widens it); their cost is
mostly torch's exporter's.

Times are CPU seconds of this process, which a shared machine's load does not inflate as it does wall time (the
wall time of the largest size is printed too). A fixed pure-Python workload is timed first, so that figures from
machines of different speed can be compared.

Usage: ``python bench/bench_scale.py [--sizes 1000,10000,100000] [--formats python,torchscript,onnx]
[--torch-max 10000]``.
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


WALL: dict[str, float] = {}


def timed(fn: Callable[[], object], what: str = "") -> float:
    """CPU seconds ``fn`` takes; its wall time is kept under ``what``."""
    gc.collect()
    start, wall = time.process_time(), time.perf_counter()
    fn()
    WALL[what] = time.perf_counter() - wall
    return time.process_time() - start


def reference_loop() -> float:
    """CPU seconds of a fixed pure-Python workload (a dict of a million ints, read back): the machine's speed."""

    def work() -> None:
        d = {i: i for i in range(1_000_000)}
        sum(d[i] for i in range(1_000_000))

    return min(timed(work) for _ in range(3))


def export_time(graph: Graph, fmt: str) -> float:
    suffix = {"python": ".py", "onnx": ".onnx", "torchscript": ".pt"}[fmt]
    with tempfile.TemporaryDirectory() as folder:
        return timed(lambda: export(graph, os.path.join(folder, "m" + suffix), fmt, seed=0), f"export {fmt}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--formats", default="python,torchscript,onnx", help="comma-separated export formats to time")
    parser.add_argument("--torch-max", type=int, default=10_000, help="largest size for TorchScript and ONNX")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    formats = args.formats.split(",")
    print(f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"# reference pure-Python workload: {reference_loop():.3f} s CPU; times below are CPU seconds")
    rows: dict[str, list[float | None]] = {}
    for n in sizes:
        graph = chain(n)
        rows.setdefault("validate", []).append(timed(lambda g=graph: analyze(g), "validate"))
        rows.setdefault("module_layout", []).append(timed(lambda g=graph: module_layout(g.ids())))
        for fmt in formats:
            small = fmt == "python" or n <= args.torch_max
            rows.setdefault(f"export {fmt}", []).append(export_time(graph, fmt) if small else None)
        done = ", ".join(f"{what} {times[-1]:.2f} s" for what, times in rows.items() if times[-1] is not None)
        print(f"# {n:,} nodes: {done}", file=sys.stderr, flush=True)  # progress: the largest sizes take minutes
    print(f"{'chain of n nodes':<22}" + "".join(f"{n:>12,}" for n in sizes) + "   ratios (each step)")
    for what, times in rows.items():
        cells = "".join(f"{t:>11.3f}s" if t is not None else f"{'-':>12}" for t in times)
        ratios = [b / a for a, b in zip(times, times[1:]) if a and b is not None]
        print(f"{what:<22}{cells}   " + " ".join(f"x{r:.1f}" for r in ratios))
    big = sizes[-1]
    bounds = {"validate": VALIDATE_BOUND_S, **{f"export {fmt}": EXPORT_BOUND_S for fmt in formats}}
    for what, bound in bounds.items():
        last = rows[what][-1]
        if last is not None:
            print(f"{big:,} nodes: {what} {last:.2f} s CPU, {WALL[what]:.2f} s wall (bound {bound} s)")
    wide = wide_concat(min(20_000, big))
    print(
        f"Concat of {len(wide) - 2:,} inputs: validate {timed(lambda: analyze(wide)):.2f} s, "
        f"export python {export_time(wide, 'python'):.2f} s CPU"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
