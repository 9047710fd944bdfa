"""Segmentation networks for teaching: fully convolutional, a score map per class at the input's resolution.

``fcn`` is the encoder-decoder of Long et al. (2015) reduced to its idea: convolutions and poolings shrink the map
while the features widen, and learned up-sampling (stride-2 ConvTranspose2d) brings the class scores back to the
input's size. ``unet`` (Ronneberger et al., 2015) adds the skip connections: at each scale the decoder concatenates
the encoder's map of that size, whose detail the pooling had thrown away.
"""

from __future__ import annotations

from ..model.graph import Graph, NodeId
from ._base import Builder, conv
from .plain import conv_norm_act


def _stage(b: Builder, name: str, src: str, channels: int) -> NodeId:
    """Two 3x3 conv-BN-ReLU, named ``name.conv1``, ``name.bn1``, ``name.relu1``, ``name.conv2``..."""
    x = conv_norm_act(b, src, (f"{name}.conv1", f"{name}.bn1", f"{name}.relu1"), channels, 3)
    return conv_norm_act(b, x, (f"{name}.conv2", f"{name}.bn2", f"{name}.relu2"), channels, 3)


def fcn(num_classes: int = 5, size: int = 32, channels: int = 1, widths: tuple[int, ...] = (8, 16, 32)) -> Graph:
    """An FCN-style encoder-decoder: a stage and a 2x2 max pooling per width but the last, then as many stride-2
    ConvTranspose2d up-samplings each refined by a stage, and a 1x1 convolution to the class scores; no skip
    connections, so the decoder must rebuild the detail the poolings dropped from the coarse map alone."""
    b = Builder()
    x: str = b.input("input", (channels, size, size))
    for i, width in enumerate(widths[:-1], start=1):
        x = b.add(f"pool{i}", "MaxPool2d", _stage(b, f"enc{i}", x, width), kernel_size=2)
    x = _stage(b, "bottom", x, widths[-1])
    for i, width in reversed(list(enumerate(widths[:-1], start=1))):
        up = b.add(f"up{i}", "ConvTranspose2d", x, out_channels=width, kernel_size=2, stride=2)
        x = _stage(b, f"dec{i}", up, width)
    b.add("head", "Conv2d", x, **conv(num_classes, 1))
    return b.graph(f"FCN encoder-decoder ({size}x{size})")


def unet(num_classes: int = 5, size: int = 32, channels: int = 1, widths: tuple[int, ...] = (8, 16, 32)) -> Graph:
    """A U-Net: the encoder of ``fcn``, and a decoder that up-samples with stride-2 ConvTranspose2d, concatenates the
    encoder's map of the same size (the skip) and refines the pair with a stage, then scores each pixel (1x1)."""
    b = Builder()
    x: str = b.input("input", (channels, size, size))
    skips: list[str] = []
    for i, width in enumerate(widths[:-1], start=1):
        skips.append(_stage(b, f"enc{i}", x, width))
        x = b.add(f"pool{i}", "MaxPool2d", skips[-1], kernel_size=2)
    x = _stage(b, "bottom", x, widths[-1])
    for i, width in reversed(list(enumerate(widths[:-1], start=1))):
        up = b.add(f"up{i}", "ConvTranspose2d", x, out_channels=width, kernel_size=2, stride=2)
        x = _stage(b, f"dec{i}", b.add(f"cat{i}", "Concat", [up, skips[i - 1]]), width)
    b.add("head", "Conv2d", x, **conv(num_classes, 1))
    return b.graph(f"U-Net ({size}x{size})")
