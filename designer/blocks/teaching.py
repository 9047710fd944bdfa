"""Small networks for teaching: the classics of introductory courses, sized for quick training on a CPU."""

from __future__ import annotations

from ..model.graph import Graph, NodeId
from ._base import Builder, conv
from .mirrors import resnet
from .plain import conv_norm_act, vgg_block


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


def zfnet(num_classes: int = 1000) -> Graph:
    """ZFNet (Zeiler and Fergus, 2013), the network of the deconvnet paper: AlexNet with a 7x7 stride-2 first layer.

    Sizes as in the paper's figure: 224 -> 110 (conv1) -> 55 (pool1) -> 26 (conv2, 5x5 stride 2) -> 13 (pool2) ->
    13 (conv3..5) -> 6 (pool5); local response normalisation after the first two poolings, two 4096-unit layers.
    """
    b = Builder()
    x = b.input("input", (3, 224, 224))
    x = b.add("relu1", "ReLU", b.add("conv1", "Conv2d", x, **conv(96, 7, 2, 1)))
    x = b.add("norm1", "LocalResponseNorm", b.add("pool1", "MaxPool2d", x, kernel_size=3, stride=2, padding=1), size=5)
    x = b.add("relu2", "ReLU", b.add("conv2", "Conv2d", x, **conv(256, 5, 2)))
    x = b.add("norm2", "LocalResponseNorm", b.add("pool2", "MaxPool2d", x, kernel_size=3, stride=2, padding=1), size=5)
    for i, channels in ((3, 384), (4, 384), (5, 256)):
        x = b.add(f"relu{i}", "ReLU", b.add(f"conv{i}", "Conv2d", x, **conv(channels, 3, padding=1)))
    x = b.add("flatten", "Flatten", b.add("pool5", "MaxPool2d", x, kernel_size=3, stride=2))
    for i in (6, 7):
        x = b.add(f"relu{i}", "ReLU", b.add(f"fc{i}", "Linear", b.add(f"drop{i}", "Dropout", x), out_features=4096))
    b.add("fc8", "Linear", x, out_features=num_classes)
    return b.graph("ZFNet")


#: BagNet-style receptive fields and the 3x3 convolutions after the stride-2 one that give them: each adds 4 pixels.
BAGNET_EXTRA_3X3 = {9: 1, 17: 3, 33: 7}


def bagnet(receptive_field: int = 17, num_classes: int = 10, size: int = 28) -> Graph:
    """A BagNet-style classifier (Brendel and Bethge, 2019): every output position sees a ``receptive_field`` patch.

    Two 3x3 convolutions (the second with stride 2) see 5x5 pixels; each further 3x3 convolution adds 4 (the map
    moves in steps of 2 pixels), and the 1x1 convolutions between them add depth without widening the view. A 1x1
    convolution scores every class at every position, and averaging those scores classifies the image: a bag of
    local evidence, blind to how the patches are arranged.
    """
    extra = BAGNET_EXTRA_3X3[receptive_field]
    b = Builder()
    x = b.input("input", (1, size, size))
    x = conv_norm_act(b, x, ("stem.conv", "stem.bn", "stem.relu"), 32, 3)
    x = conv_norm_act(b, x, ("down.conv", "down.bn", "down.relu"), 64, 3, stride=2)
    for i in range(1, extra + 1):
        x = conv_norm_act(b, x, (f"block{i}.conv3x3", f"block{i}.bn1", f"block{i}.relu1"), 64, 3)
        x = conv_norm_act(b, x, (f"block{i}.conv1x1", f"block{i}.bn2", f"block{i}.relu2"), 64, 1)
    x = b.add("scores", "Conv2d", x, **conv(num_classes, 1))
    # A small receptive field before the global pooling is the point of the design, not an oversight.
    b.nodes[-1].extra["silence"] = ["advice.receptive_field"]
    b.add("flatten", "Flatten", b.add("average", "AdaptiveAvgPool2d", x, output_size=1))
    return b.graph(f"BagNet-{receptive_field} ({size}x{size})")
