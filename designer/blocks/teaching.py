"""Small networks for teaching: the classics of introductory courses, sized for quick training on a CPU."""

from __future__ import annotations

from ..model.graph import Graph, NodeId
from ._base import Builder, conv
from .mirrors import resnet
from .plain import vgg_block


def small_cnn(num_classes: int = 10) -> Graph:
    """Two 3x3 conv-ReLU-pool stages and one Linear layer on 1x28x28 images: the default design."""
    b = Builder()
    x = b.input("input", (1, 28, 28))
    for i, channels in enumerate((16, 32), start=1):
        x = b.add(f"relu{i}", "ReLU", b.add(f"conv{i}", "Conv2d", x, **conv(channels, 3, padding=1)))
        x = b.add(f"pool{i}", "MaxPool2d", x, kernel_size=2)
    b.add("fc", "Linear", b.add("flatten", "Flatten", x), out_features=num_classes)
    return b.graph("Small CNN")


def lenet5(size: int = 32, num_classes: int = 10) -> Graph:
    """LeNet-5 for ``size`` x ``size`` inputs (28 or 32), with the paper's layer names (C1, S2, C3, S4, C5, F6).

    28x28 inputs get padding 2 in C1, so that every later layer keeps the sizes of the 32x32 original.
    """
    b = Builder()
    x = b.input("input", (1, size, size))
    x = b.add("act1", "Tanh", b.add("c1", "Conv2d", x, **conv(6, 5, padding=(32 - size) // 2)))
    x = b.add("s2", "AvgPool2d", x, kernel_size=2)
    x = b.add("act3", "Tanh", b.add("c3", "Conv2d", x, **conv(16, 5)))
    x = b.add("s4", "AvgPool2d", x, kernel_size=2)
    x = b.add("act5", "Tanh", b.add("c5", "Conv2d", x, **conv(120, 5)))
    x = b.add("act6", "Tanh", b.add("f6", "Linear", b.add("flatten", "Flatten", x), out_features=84))
    b.add("output", "Linear", x, out_features=num_classes)
    return b.graph(f"LeNet-5 ({size}x{size})")


def fashion_mnist_cnn(head: str = "flatten", num_classes: int = 10) -> Graph:
    """Two conv-ReLU-pool stages on 1x28x28, then a Flatten+Linear head or a global-average-pooling head."""
    b = Builder()
    x = b.input("input", (1, 28, 28))
    for i, channels in enumerate((32, 64), start=1):
        x = b.add(f"relu{i}", "ReLU", b.add(f"conv{i}", "Conv2d", x, **conv(channels, 3, padding=1)))
        x = b.add(f"pool{i}", "MaxPool2d", x, kernel_size=2)
    if head == "gap":
        x = b.add("flatten", "Flatten", b.add("gap", "AdaptiveAvgPool2d", x, output_size=1))
        b.add("fc", "Linear", x, out_features=num_classes)
        return b.graph("Fashion-MNIST CNN (global average pooling)")
    x = b.add("relu3", "ReLU", b.add("fc1", "Linear", b.add("flatten", "Flatten", x), out_features=128))
    b.add("fc2", "Linear", b.add("dropout", "Dropout", x, p=0.5), out_features=num_classes)
    return b.graph("Fashion-MNIST CNN")


def cats_vs_dogs(num_classes: int = 2) -> Graph:
    """Four unpadded conv-ReLU-pool stages on 3x150x150, dropout, and a 512-unit hidden layer."""
    b = Builder()
    x = b.input("input", (3, 150, 150))
    for i, channels in enumerate((32, 64, 128, 128), start=1):
        x = b.add(f"relu{i}", "ReLU", b.add(f"conv{i}", "Conv2d", x, **conv(channels, 3)))
        x = b.add(f"pool{i}", "MaxPool2d", x, kernel_size=2)
    x = b.add("dropout", "Dropout", b.add("flatten", "Flatten", x), p=0.5)
    x = b.add("relu5", "ReLU", b.add("fc1", "Linear", x, out_features=512))
    b.add("fc2", "Linear", x, out_features=num_classes)
    return b.graph("Cats vs dogs CNN")


def vgg_cifar(num_classes: int = 10) -> Graph:
    """Three VGG blocks (two 3x3 convolutions with BatchNorm each) on 3x32x32, then a small classifier."""
    b = Builder()
    x = b.input("input", (3, 32, 32))
    for i, channels in enumerate((32, 64, 128), start=1):
        x = b.block(vgg_block, f"block{i}", x, out_channels=channels, convs=2, batch_norm=True)
    x = b.add("relu", "ReLU", b.add("fc1", "Linear", b.add("flatten", "Flatten", x), out_features=256))
    b.add("fc2", "Linear", b.add("dropout", "Dropout", x, p=0.5), out_features=num_classes)
    return b.graph("All-3x3 VGG-style CNN (32x32)")


def _conv_relu(b: Builder, name: str, src: str, channels: int) -> NodeId:
    return b.add(f"{name}.relu", "ReLU", b.add(f"{name}.conv", "Conv2d", src, **conv(channels, 3, padding=1)))


def segmentation_net(num_classes: int = 2, size: int = 128) -> Graph:
    """A small fully convolutional encoder-decoder giving per-pixel class scores.

    Two poolings down, two stride-2 ConvTranspose2d up with the encoder's maps concatenated back in (U-Net style),
    and a 1x1 convolution to ``num_classes`` score maps.
    """
    b = Builder()
    x = b.input("input", (3, size, size))
    enc1 = _conv_relu(b, "enc1", x, 16)
    enc2 = _conv_relu(b, "enc2", b.add("pool1", "MaxPool2d", enc1, kernel_size=2), 32)
    mid = _conv_relu(b, "mid", b.add("pool2", "MaxPool2d", enc2, kernel_size=2), 64)
    up2 = b.add("up2", "ConvTranspose2d", mid, out_channels=32, kernel_size=2, stride=2)
    dec2 = _conv_relu(b, "dec2", b.add("cat2", "Concat", [up2, enc2]), 32)
    up1 = b.add("up1", "ConvTranspose2d", dec2, out_channels=16, kernel_size=2, stride=2)
    dec1 = _conv_relu(b, "dec1", b.add("cat1", "Concat", [up1, enc1]), 16)
    b.add("head", "Conv2d", dec1, **conv(num_classes, 1))
    return b.graph("Segmentation net (encoder-decoder)")


def resnet18_transfer(num_classes: int = 2) -> Graph:
    """ResNet-18 with every backbone node frozen and a new ``fc`` for ``num_classes`` classes."""
    graph = resnet(18, num_classes)
    for node in graph:
        if node.type != "Input" and node.id != "fc":
            node.frozen = True
    graph.name = "ResNet-18 transfer learning"
    return graph
