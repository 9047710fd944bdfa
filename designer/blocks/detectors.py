"""Detection networks for teaching, sized for the 64x64 shapes scenes: a tiny single-shot YOLO-style detector and a
Fast R-CNN with RoI pooling."""

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


def fast_rcnn(
    num_classes: int = 10, size: int = 64, widths: tuple[int, ...] = (32, 64, 64), hidden: int = 128
) -> Graph:
    """Fast R-CNN (Girshick, 2015) reduced to its idea: a convolutional backbone runs once per image, RoIPool cuts a
    fixed 4x4 map out of its features for each proposal (Input ``proposals``, rows of batch index and x1, y1, x2, y2
    in input pixels), and a per-RoI head of two 128-unit Linear layers gives the class scores (the background is
    class 0: ``num_classes + 1``) and a box per class (``4 * num_classes`` deltas), as the paper's ``cls_score``
    and ``bbox_pred``. The backbone halves the image twice (stride 4: ``spatial_scale`` 0.25), so 12-pixel shapes
    still cover three map cells."""
    b = Builder()
    x = b.input("image", (3, size, size))
    proposals = b.input("proposals", (5,))
    for i, width in enumerate(widths, start=1):
        x = conv_norm_act(b, x, [f"conv{i}", f"bn{i}", f"relu{i}"], width, 3)
        if i < len(widths):
            x = b.add(f"pool{i}", "MaxPool2d", x, kernel_size=2)
    scale = 1 / 2 ** (len(widths) - 1)
    x = b.add("roi_pool", "RoIPool", [x, proposals], output_size=[4, 4], spatial_scale=scale)
    x = b.add("flatten", "Flatten", x)
    for name in ("fc6", "fc7"):
        x = b.add(f"relu_{name}", "ReLU", b.add(name, "Linear", x, out_features=hidden))
    scores = b.add("cls_score", "Linear", x, out_features=num_classes + 1)
    deltas = b.add("bbox_pred", "Linear", x, out_features=4 * num_classes)
    return b.graph("Fast R-CNN (64x64 shapes scenes)", outputs=[scores, deltas])
