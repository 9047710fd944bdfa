"""Compiled designs against hand-written modules: forward+backward step time ratios on CPU, and compile time.

Run: ``python bench/bench_compiled.py [--threads N] [--seconds S]``. For each architecture the design is compiled
with ``designer.compile`` and a hand-written ``nn.Module`` of the same architecture and module names gets the same
weights; steps alternate between the two in one process (who goes first alternates too), and the ratio is the
median over pairs of adjacent steps of time(compiled) / time(hand-written).
The target is a ratio of at most 1.02 for each; the compile time of a ResNet-50-sized design should be well under a
second. Not a test: it prints the numbers and whether each meets its target.
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
import torchvision
from torch import nn

import designer
from designer.model.graph import Graph, Node, NodeId

TARGET_RATIO = 1.02
TARGET_COMPILE_S = 1.0


# -- designs, built programmatically ----------------------------------------------------------------------------------


class _Builder:
    """Appends nodes; each takes the previous node as input unless told otherwise."""

    def __init__(self, name: str, shape: list[int]):
        self.graph = Graph(name, [Node(NodeId("x"), "Input", {"shape": shape})])
        self.last = "x"

    def add(self, node_id: str, type_: str, params: dict[str, Any] | None = None, *inputs: str) -> str:
        srcs = list(inputs) or [self.last]
        self.graph.add_node(Node(NodeId(node_id), type_, dict(params or {}), [NodeId(s) for s in srcs]))
        self.last = node_id
        return node_id

    def conv(self, node_id: str, out: int, k: int, stride: int = 1, src: str | None = None, bias: bool = False) -> str:
        params = {"out_channels": out, "kernel_size": k, "stride": stride, "padding": k // 2, "bias": bias}
        return self.add(node_id, "Conv2d", params, *([src] if src else []))


def small_cnn_design() -> Graph:
    b = _Builder("small cnn", [1, 28, 28])
    for i, ch in ((1, 16), (2, 32)):
        b.conv(f"conv{i}", ch, 3, bias=True)
        b.add(f"relu{i}", "ReLU")
        b.add(f"pool{i}", "MaxPool2d", {"kernel_size": 2})
    b.add("flatten", "Flatten")
    b.add("fc", "Linear", {"out_features": 10})
    return b.graph


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.relu1, self.pool1 = nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        self.conv2, self.relu2, self.pool2 = nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        self.flatten, self.fc = nn.Flatten(), nn.Linear(32 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(self.flatten(x))


def resnet_design(name: str, blocks: tuple[int, ...], bottleneck: bool, size: int) -> Graph:
    """torchvision's ResNet as a design, with torchvision's module names."""
    b = _Builder(name, [3, size, size])
    b.conv("conv1", 64, 7, stride=2)
    b.add("bn1", "BatchNorm2d")
    b.add("relu", "ReLU", {"inplace": True})
    x = b.add("maxpool", "MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1})
    channels, expansion = 64, 4 if bottleneck else 1
    for stage, (width, count) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
        for i in range(count):
            p, stride = f"layer{stage}.{i}", 2 if stage > 1 and i == 0 else 1
            convs = [(1, 1), (3, stride), (1, 1)] if bottleneck else [(3, stride), (3, 1)]
            src = x
            for j, (k, s) in enumerate(convs, start=1):
                out = width * expansion if j == len(convs) else width
                b.conv(f"{p}.conv{j}", out, k, s, src)
                src = b.add(f"{p}.bn{j}", "BatchNorm2d")
                if j < len(convs):
                    src = b.add(f"{p}.relu{j}", "ReLU", {"inplace": True})
            short = x
            if stride != 1 or channels != width * expansion:
                b.conv(f"{p}.downsample.0", width * expansion, 1, stride, x)
                short = b.add(f"{p}.downsample.1", "BatchNorm2d")
            b.add(f"{p}.add", "Add", {}, src, short)
            x = b.add(f"{p}.relu", "ReLU", {"inplace": True})
            channels = width * expansion
    b.add("avgpool", "AdaptiveAvgPool2d", {"output_size": 1})
    b.add("flatten", "Flatten")
    b.add("fc", "Linear", {"out_features": 1000})
    return b.graph


#: Inception-style module: (1x1), (1x1 -> 3x3), (1x1 -> 5x5), (3x3 max pool -> 1x1), concatenated.
_BRANCHES = {"b1": [(1, 32)], "b2": [(1, 48), (3, 64)], "b3": [(1, 16), (5, 32)], "b4": [("pool", 0), (1, 32)]}


def inception_design(blocks: int = 3) -> Graph:
    b = _Builder("inception-style", [3, 32, 32])
    x = b.conv("stem.conv", 64, 3, bias=True)
    x = b.add("stem.relu", "ReLU")
    for i in range(1, blocks + 1):
        ends = []
        for name, layers in _BRANCHES.items():
            src = x
            for j, (k, out) in enumerate(layers):
                if k == "pool":
                    src = b.add(f"inc{i}.{name}.pool", "MaxPool2d", {"kernel_size": 3, "stride": 1, "padding": 1}, src)
                    continue
                b.conv(f"inc{i}.{name}.conv{j}", out, k, src=src, bias=True)
                src = b.add(f"inc{i}.{name}.relu{j}", "ReLU")
            ends.append(src)
        x = b.add(f"inc{i}.cat", "Concat", {}, *ends)
    b.add("pool", "AdaptiveAvgPool2d", {"output_size": 1})
    b.add("flatten", "Flatten")
    b.add("fc", "Linear", {"out_features": 10})
    return b.graph


class Branch(nn.Module):
    def __init__(self, c_in: int, layers: list[tuple[Any, int]]):
        super().__init__()
        self.order: list[str] = []
        for j, (k, out) in enumerate(layers):
            if k == "pool":
                self.pool = nn.MaxPool2d(3, stride=1, padding=1)
                self.order.append("pool")
                continue
            self.add_module(f"conv{j}", nn.Conv2d(c_in, out, k, padding=k // 2))
            self.add_module(f"relu{j}", nn.ReLU())
            self.order += [f"conv{j}", f"relu{j}"]
            c_in = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.order:
            x = getattr(self, name)(x)
        return x


class InceptionBlock(nn.Module):
    def __init__(self, c_in: int):
        super().__init__()
        self.b1, self.b2 = Branch(c_in, _BRANCHES["b1"]), Branch(c_in, _BRANCHES["b2"])
        self.b3, self.b4 = Branch(c_in, _BRANCHES["b3"]), Branch(c_in, _BRANCHES["b4"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)


class Stem(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.relu = nn.Conv2d(3, 64, 3, padding=1), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


class InceptionNet(nn.Module):
    def __init__(self, blocks: int = 3):
        super().__init__()
        self.stem = Stem()
        for i in range(1, blocks + 1):
            self.add_module(f"inc{i}", InceptionBlock(64 if i == 1 else 160))
        self.blocks = blocks
        self.pool, self.flatten, self.fc = nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(160, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for i in range(1, self.blocks + 1):
            x = getattr(self, f"inc{i}")(x)
        return self.fc(self.flatten(self.pool(x)))


# -- measuring --------------------------------------------------------------------------------------------------------


def step(model: nn.Module, x: torch.Tensor) -> float:
    """One forward and backward pass; its wall time in seconds."""
    start = time.perf_counter()
    model.zero_grad(set_to_none=True)
    model(x).sum().backward()
    return time.perf_counter() - start


def compare(name: str, compiled: nn.Module, baseline: nn.Module, x: torch.Tensor, seconds: float) -> bool:
    """Alternate steps between the two (who goes first alternates too) and print the ratio of the medians."""
    baseline.load_state_dict(compiled.state_dict(), strict=True)  # same weights, so the same arithmetic
    with torch.no_grad():
        assert torch.allclose(compiled(x), baseline(x), atol=1e-4), f"{name}: outputs differ"
    for _ in range(3):
        step(compiled, x), step(baseline, x)
    a: list[float] = []
    b: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(a) < 15:
        first, second = ((compiled, a), (baseline, b)) if len(a) % 2 == 0 else ((baseline, b), (compiled, a))
        first[1].append(step(first[0], x))
        second[1].append(step(second[0], x))
    # Each pair ran back to back, so its ratio cancels load that drifts over the run; report the median of those.
    pairs = [x / y for x, y in zip(a, b)]
    ratio = statistics.median(pairs)
    q1, _, q3 = statistics.quantiles(pairs, n=4)
    ok = ratio <= TARGET_RATIO
    print(
        f"{name:<24} steps {len(a):>4}  compiled {statistics.median(a) * 1e3:7.2f} ms  hand-written "
        f"{statistics.median(b) * 1e3:7.2f} ms  ratio {ratio:.3f} (pairs' IQR {q1:.2f}-{q3:.2f}; ratio of medians "
        f"{statistics.median(a) / statistics.median(b):.3f})  {'meets' if ok else 'MISSES'} <= {TARGET_RATIO}"
    )
    return ok


def compile_time(graph: Graph, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        designer.compile(graph)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed(make: Callable[[], Any], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        make()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both sides (default 1)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring time per architecture")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"torch threads {torch.get_num_threads()}, {platform.machine()}"
    )
    torch.manual_seed(0)
    results = [
        compare(
            "small CNN (b32, 28x28)",
            designer.compile(small_cnn_design()),
            SmallCNN(),
            torch.randn(32, 1, 28, 28),
            args.seconds,
        ),
        compare(
            "ResNet-18 (b4, 64x64)",
            designer.compile(resnet_design("resnet18", (2, 2, 2, 2), False, 64)),
            torchvision.models.resnet18(weights=None),
            torch.randn(4, 3, 64, 64),
            args.seconds,
        ),
        compare(
            "Inception-style (b8)",
            designer.compile(inception_design()),
            InceptionNet(),
            torch.randn(8, 3, 32, 32),
            args.seconds,
        ),
    ]
    r50 = resnet_design("resnet50", (3, 4, 6, 3), True, 224)
    n_params = designer.analyze(r50).total_params
    assert n_params == sum(p.numel() for p in torchvision.models.resnet50(weights=None).parameters())
    t_compile = compile_time(r50)
    t_analyze = timed(lambda: designer.analyze(r50))
    t_torchvision = timed(lambda: torchvision.models.resnet50(weights=None))
    ok = t_compile < TARGET_COMPILE_S
    print(
        f"compile ResNet-50 design ({len(r50)} nodes, {n_params:,} parameters): {t_compile * 1e3:.0f} ms "
        f"(analysis {t_analyze * 1e3:.0f} ms; torchvision.models.resnet50() builds in {t_torchvision * 1e3:.0f} ms)"
        f"  {'meets' if ok else 'MISSES'} < {TARGET_COMPILE_S:.0f} s"
    )
    return 0 if all(results) and ok else 1


if __name__ == "__main__":
    sys.exit(main())
