"""Detection networks for teaching: a tiny single-shot YOLO-style detector sized for the 64x64 shapes scenes."""

from __future__ import annotations

from ..model.graph import Graph
from ._base import Builder, conv
from .plain import conv_norm_act


def tiny_yolo(num_classes: int = 10, size: int = 64, grid: int = 4, boxes: int = 2) -> Graph:
    """A stride-2 stem, then Conv-BN-ReLU-MaxPool stages down to a ``grid`` x ``grid`` map, and a 1x1 convolution to
    the YOLO v1 head ``[boxes*5 + num_classes, grid, grid]`` (per cell: B boxes of x, y, w, h and confidence, then
    the class scores)."""
    b = Builder()
    x = conv_norm_act(b, b.input("input", (3, size, size)), ["stem.conv", "stem.bn", "stem.relu"], 16, 3, stride=2)
    size, channels, stage = size // 2, 32, 1
    while size > grid:
        x = conv_norm_act(b, x, [f"stage{stage}.conv", f"stage{stage}.bn", f"stage{stage}.relu"], channels, 3)
        x = b.add(f"stage{stage}.pool", "MaxPool2d", x, kernel_size=2)
        size, channels, stage = size // 2, min(channels * 2, 128), stage + 1
    x = conv_norm_act(b, x, ["neck.conv", "neck.bn", "neck.relu"], 128, 3)
    b.add("head", "Conv2d", x, **conv(boxes * 5 + num_classes, 1))
    return b.graph("Tiny YOLO (64x64 shapes scenes)")
