"""SE-ResNet-50 as timm builds it (``timm.create_model("seresnet50")``): node ids are timm's module names.

The Squeeze-and-Excitation block (Hu et al., 2017) sits after each bottleneck's last BatchNorm, before the residual
addition: it averages every channel to one number, squeezes the channels 16-fold, expands them back and scales the
block's output channel by channel.
"""

from __future__ import annotations

from ..model.graph import Graph, NodeId
from ._base import Builder, conv

#: Bottleneck blocks per stage, as in ResNet-50.
STAGES = (3, 4, 6, 3)
#: SE squeeze ratio: timm's rd_ratio = 1/16 (rounded to a multiple of 8, which every ResNet-50 width already is).
REDUCTION = 16


def _bn_act(b: Builder, src: str, index: int, act: bool = True) -> NodeId:
    x = b.add(f"bn{index}", "BatchNorm2d", src)
    return b.add(f"act{index}", "ReLU", x) if act else x


def _se(b: Builder, src: str, channels: int) -> NodeId:
    """timm's ``SEModule``: mean over H and W, fc1 (1x1 conv), act, fc2, gate (sigmoid), times the input."""
    x = b.add("se.pool", "AdaptiveAvgPool2d", src, output_size=1)
    x = b.add("se.act", "ReLU", b.add("se.fc1", "Conv2d", x, **conv(channels // REDUCTION, 1)))
    x = b.add("se.gate", "Sigmoid", b.add("se.fc2", "Conv2d", x, **conv(channels, 1)))
    return b.add("se.mul", "Mul", [src, x])


def _bottleneck(b: Builder, src: str, planes: int, stride: int) -> NodeId:
    """timm's ``Bottleneck`` with an SE module: conv1..3 with bn1..3 and act1..3; stride on the 3x3 convolution."""
    out = planes * 4
    x = _bn_act(b, b.add("conv1", "Conv2d", src, **conv(planes, 1, bias=False)), 1)
    x = _bn_act(b, b.add("conv2", "Conv2d", x, **conv(planes, 3, stride, 1, bias=False)), 2)
    x = _se(b, _bn_act(b, b.add("conv3", "Conv2d", x, **conv(out, 1, bias=False)), 3, act=False), out)
    shortcut: str = src
    if stride != 1 or b.shape(src)[0] != out:
        shortcut = b.add("downsample.0", "Conv2d", src, **conv(out, 1, stride, bias=False))
        shortcut = b.add("downsample.1", "BatchNorm2d", shortcut)
    return b.add("act3", "ReLU", b.add("add", "Add", [x, shortcut]))


def seresnet50(num_classes: int = 1000) -> Graph:
    """timm's ``seresnet50``: ResNet-50 (stem, four stages ``layer<i>.<j>``, head) with an SE module per block."""
    b = Builder()
    x = b.input("input", (3, 224, 224))
    x = b.add("act1", "ReLU", b.add("bn1", "BatchNorm2d", b.add("conv1", "Conv2d", x, **conv(64, 7, 2, 3, bias=False))))
    x = b.add("maxpool", "MaxPool2d", x, kernel_size=3, stride=2, padding=1)
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), STAGES), start=1):
        for j in range(count):
            stride = 2 if stage > 1 and j == 0 else 1
            x = _bottleneck(b.scope(f"layer{stage}.{j}"), x, planes, stride)
    x = b.add("flatten", "Flatten", b.add("global_pool", "AdaptiveAvgPool2d", x, output_size=1))
    b.add("fc", "Linear", x, out_features=num_classes)
    return b.graph("SE-ResNet-50")
