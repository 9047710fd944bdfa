"""Drawing the built-in shapes dataset, against drawing one Gaussian sample per pixel of the same images.

The bound (formerly a wall-clock assert in tests/test_data.py): 10,000 shapes of 1x28x28 take under 5 s. The baseline
is the cheapest way to fill the same uint8 array with noise (numpy's ``standard_normal`` for every pixel, then the
cast), which ``designer.training.shapes`` avoids by reusing a few drawn noise fields; the ratio says how many such
noise passes one dataset costs, whatever the machine.

    .venv/bin/python bench/bench_data.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from designer.training.shapes import make_shapes

BOUND_S = 5.0
CASES = ((10_000, (28, 28), 1), (10_000, (32, 32), 3))


def environment() -> str:
    return f"# python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, {platform.machine()}"


def timed(fn: Callable[..., object], *args: object) -> float:
    """Seconds one call of ``fn(*args)`` takes."""
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def noise_images(n: int, size: tuple[int, int], channels: int, seed: int = 0) -> np.ndarray:
    """The baseline: a fresh normal for every pixel, scaled and cast to uint8 as the shapes are."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, channels, *size), dtype=np.float32)
    np.clip(x * 32 + 128, 0, 255, out=x)
    return x.astype(np.uint8)


def measure(n: int, size: tuple[int, int], channels: int, repeats: int) -> None:
    shapes_t, noise_t = [], []
    for _ in range(repeats):  # interleaved, so drifting machine load hits both sides alike
        shapes_t.append(timed(make_shapes, n, size, channels))
        noise_t.append(timed(noise_images, n, size, channels))
    ours, base = statistics.median(shapes_t), statistics.median(noise_t)
    label = f"{n:,} shapes {channels}x{size[0]}x{size[1]}"
    spread = ", ".join(f"{t:.2f}" for t in shapes_t)
    print(f"{label}: {ours:.2f} s ({spread}); one normal per pixel (baseline): {base:.2f} s")
    verdict = (
        f"; bound {BOUND_S:.0f} s: {'OK' if ours < BOUND_S else 'OVER'}" if (n, size, channels) == CASES[0] else ""
    )
    print(f"{label}: ratio shapes / per-pixel noise = {ours / base:.2f}{verdict}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    print(environment())
    print(f"median of {args.repeats} interleaved runs per side")
    for case in CASES:
        measure(*case, repeats=args.repeats)


if __name__ == "__main__":
    main()
