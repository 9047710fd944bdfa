"""Whole networks that mirror torchvision's models node for node: node ids are torchvision's module names, so
``torchvision.models.<name>(weights=None).state_dict()`` loads into the compiled design with ``strict=True``.

torchvision's forwards also call functions (``torch.flatten``, ``F.relu``, ``F.adaptive_avg_pool2d``, ``torch.cat``);
here each call is a node with an id that names no parameter (``flatten``, ``relu``, ``avgpool``, ``cat``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..model.graph import Graph, NodeId
from ._base import Builder, conv
from .branching import dense_block, fire, inception, transition
from .plain import conv_norm_act, vgg_block
from .residual import basic_block, bottleneck, inverted_residual

INPUT = "input"
IMAGENET_SHAPE = (3, 224, 224)

Layer = tuple[str, dict[str, Any]]


def _sequential(b: Builder, src: str, layers: Sequence[Layer], start: int = 0) -> NodeId:
    """Layers named ``0``, ``1``, ... under ``b``'s prefix, as ``torch.nn.Sequential`` names its children."""
    x = NodeId(src)
    for i, (type_, params) in enumerate(layers, start):
        x = b.add(str(i), type_, x, **params)
    return x


def _pool_flatten(b: Builder, src: str, size: int = 1) -> NodeId:
    return b.add("flatten", "Flatten", b.add("avgpool", "AdaptiveAvgPool2d", src, output_size=size))


def _vgg_classifier(num_classes: int) -> list[Layer]:
    return [
        ("Linear", {"out_features": 4096}),
        ("ReLU", {}),
        ("Dropout", {}),
        ("Linear", {"out_features": 4096}),
        ("ReLU", {}),
        ("Dropout", {}),
        ("Linear", {"out_features": num_classes}),
    ]


def alexnet(num_classes: int = 1000) -> Graph:
    """torchvision's ``alexnet``: five convolutions, three fully connected layers."""
    b = Builder()
    x = b.input(INPUT, IMAGENET_SHAPE)
    relu: tuple[str, dict[str, Any]] = ("ReLU", {})
    pool: tuple[str, dict[str, Any]] = ("MaxPool2d", {"kernel_size": 3, "stride": 2})
    x = _sequential(
        b.scope("features"),
        x,
        [
            ("Conv2d", conv(64, 11, 4, 2)),
            relu,
            pool,
            ("Conv2d", conv(192, 5, padding=2)),
            relu,
            pool,
            ("Conv2d", conv(384, 3, padding=1)),
            relu,
            ("Conv2d", conv(256, 3, padding=1)),
            relu,
            ("Conv2d", conv(256, 3, padding=1)),
            relu,
            pool,
        ],
    )
    x = _pool_flatten(b, x, 6)
    _sequential(
        b.scope("classifier"),
        x,
        [
            ("Dropout", {}),
            ("Linear", {"out_features": 4096}),
            ("ReLU", {}),
            ("Dropout", {}),
            ("Linear", {"out_features": 4096}),
            ("ReLU", {}),
            ("Linear", {"out_features": num_classes}),
        ],
    )
    return b.graph("AlexNet")


#: (channels, convolutions) per stage, torchvision's configurations "A" (VGG-11) and "D" (VGG-16).
VGG_STAGES = {
    11: [(64, 1), (128, 1), (256, 2), (512, 2), (512, 2)],
    16: [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)],
}


def vgg(depth: int = 16, batch_norm: bool = False, num_classes: int = 1000) -> Graph:
    """torchvision's ``vgg11``/``vgg16`` (``_bn``): VGG blocks numbered as one ``features`` Sequential."""
    b = Builder()
    x = b.input(INPUT, IMAGENET_SHAPE)
    index = 0
    for channels, convs in VGG_STAGES[depth]:
        x = b.block(
            vgg_block, "features", x, out_channels=channels, convs=convs, batch_norm=batch_norm, first_index=index
        )
        index += convs * (3 if batch_norm else 2) + 1
    x = _pool_flatten(b, x, 7)
    _sequential(b.scope("classifier"), x, _vgg_classifier(num_classes))
    return b.graph(f"VGG-{depth}" + ("-BN" if batch_norm else ""))


#: torchvision's GoogLeNet Inception settings: ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj.
INCEPTIONS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
_INCEPTION_KEYS = ("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj")


def googlenet(aux_logits: bool = True, num_classes: int = 1000) -> Graph:
    """torchvision's ``googlenet`` with transform_input off.

    The auxiliary classifiers are the extra outputs ``aux2.fc2`` and ``aux1.fc2``, after the main ``fc``, in the
    order of torchvision's ``GoogLeNetOutputs``.
    """
    b = Builder()
    x = b.input(INPUT, IMAGENET_SHAPE)
    maxpool = {"kernel_size": 3, "stride": 2, "ceil_mode": True}
    x = conv_norm_act(b, x, ("conv1.conv", "conv1.bn", "conv1.relu"), 64, 7, stride=2, eps=0.001)
    x = b.add("maxpool1", "MaxPool2d", x, **maxpool)
    x = conv_norm_act(b, x, ("conv2.conv", "conv2.bn", "conv2.relu"), 64, 1, eps=0.001)
    x = conv_norm_act(b, x, ("conv3.conv", "conv3.bn", "conv3.relu"), 192, 3, eps=0.001)
    x = b.add("maxpool2", "MaxPool2d", x, **maxpool)
    aux_at = {"4a": "aux1", "4d": "aux2"} if aux_logits else {}
    for name, setting in INCEPTIONS.items():
        x = b.block(inception, f"inception{name}", x, branch3_kernel=3, **dict(zip(_INCEPTION_KEYS, setting)))
        if name in aux_at:
            _inception_aux(b.scope(aux_at[name]), x, num_classes)
        if name in ("3b", "4e"):
            pool = {**maxpool, "kernel_size": 2} if name == "4e" else maxpool
            x = b.add(f"maxpool{3 if name == '3b' else 4}", "MaxPool2d", x, **pool)
    x = b.add("dropout", "Dropout", _pool_flatten(b, x), p=0.2)
    b.add("fc", "Linear", x, out_features=num_classes)
    return b.graph(
        "GoogLeNet" if aux_logits else "GoogLeNet (no auxiliary classifiers)",
        ["fc", "aux2.fc2", "aux1.fc2"] if aux_logits else None,
    )


def _inception_aux(b: Builder, src: str, num_classes: int) -> NodeId:
    """torchvision's ``InceptionAux``: 4x4 average pooling, 1x1 conv, two Linear layers with dropout 0.7."""
    x = b.add("avgpool", "AdaptiveAvgPool2d", src, output_size=4)
    x = conv_norm_act(b, x, ("conv.conv", "conv.bn", "conv.relu"), 128, 1, eps=0.001)
    x = b.add("relu", "ReLU", b.add("fc1", "Linear", b.add("flatten", "Flatten", x), out_features=1024))
    return b.add("fc2", "Linear", b.add("dropout", "Dropout", x, p=0.7), out_features=num_classes)


RESNET_LAYERS = {18: (basic_block, [2, 2, 2, 2]), 34: (basic_block, [3, 4, 6, 3]), 50: (bottleneck, [3, 4, 6, 3])}


def resnet(depth: int = 18, num_classes: int = 1000, groups: int = 1, width_per_group: int = 64) -> Graph:
    """torchvision's ``resnet18``/``34``/``50``: stem, four stages of residual blocks ``layer<i>.<j>``, head.

    ``groups`` and ``width_per_group`` make the bottleneck versions ResNeXt (``resnext50_32x4d``: 32 and 4).
    """
    block, counts = RESNET_LAYERS[depth]
    widths = {"groups": groups, "width_per_group": width_per_group} if groups != 1 or width_per_group != 64 else {}
    b = Builder()
    x = b.input(INPUT, IMAGENET_SHAPE)
    x = b.add("relu", "ReLU", b.add("bn1", "BatchNorm2d", b.add("conv1", "Conv2d", x, **conv(64, 7, 2, 3, bias=False))))
    x = b.add("maxpool", "MaxPool2d", x, kernel_size=3, stride=2, padding=1)
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), counts), start=1):
        for j in range(count):
            stride = 2 if stage > 1 and j == 0 else 1
            x = b.block(block, f"layer{stage}.{j}", x, planes=planes, stride=stride, **widths)
    b.add("fc", "Linear", _pool_flatten(b, x), out_features=num_classes)
    return b.graph(f"ResNeXt-{depth} {groups}x{width_per_group}d" if widths else f"ResNet-{depth}")


def densenet121(num_classes: int = 1000) -> Graph:
    """torchvision's ``densenet121``: growth rate 32, blocks of 6, 12, 24 and 16 layers."""
    b = Builder()
    x = b.input(INPUT, IMAGENET_SHAPE)
    f = b.scope("features")
    x = f.add(
        "relu0", "ReLU", f.add("norm0", "BatchNorm2d", f.add("conv0", "Conv2d", x, **conv(64, 7, 2, 3, bias=False)))
    )
    x = f.add("pool0", "MaxPool2d", x, kernel_size=3, stride=2, padding=1)
    blocks = (6, 12, 24, 16)
    for i, num_layers in enumerate(blocks, start=1):
        x = f.block(dense_block, f"denseblock{i}", x, num_layers=num_layers, growth_rate=32, bn_size=4)
        if i < len(blocks):
            x = f.block(transition, f"transition{i}", x, out_channels=f.shape(x)[0] // 2)
    x = b.add("relu", "ReLU", f.add("norm5", "BatchNorm2d", x))
    b.add("classifier", "Linear", _pool_flatten(b, x), out_features=num_classes)
    return b.graph("DenseNet-121")


#: MobileNetV2's inverted residual stages: expand ratio t, channels c, repeats n, first stride s.
MOBILENET_V2_STAGES = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


def mobilenet_v2(num_classes: int = 1000) -> Graph:
    """torchvision's ``mobilenet_v2`` (width 1.0): ``features.0`` .. ``features.18``, dropout 0.2, Linear."""
    b = Builder()
    x = b.input(INPUT, IMAGENET_SHAPE)
    x = conv_norm_act(b, x, ("features.0.0", "features.0.1", "features.0.2"), 32, 3, stride=2, activation="ReLU6")
    index = 1
    for t, c, n, s in MOBILENET_V2_STAGES:
        for i in range(n):
            x = b.block(
                inverted_residual, f"features.{index}", x, out_channels=c, stride=s if i == 0 else 1, expand_ratio=t
            )
            index += 1
    names = tuple(f"features.{index}.{k}" for k in range(3))
    x = _pool_flatten(b, conv_norm_act(b, x, names, 1280, 1, activation="ReLU6"))
    _sequential(b.scope("classifier"), x, [("Dropout", {"p": 0.2}), ("Linear", {"out_features": num_classes})])
    return b.graph("MobileNetV2")


#: SqueezeNet 1.1's features after the stem: "M" is a max pooling, a tuple a Fire module's settings.
SQUEEZENET_1_1 = [
    "M",
    (16, 64, 64),
    (16, 64, 64),
    "M",
    (32, 128, 128),
    (32, 128, 128),
    "M",
    (48, 192, 192),
    (48, 192, 192),
    (64, 256, 256),
    (64, 256, 256),
]


def squeezenet1_1(num_classes: int = 1000) -> Graph:
    """torchvision's ``squeezenet1_1``: Fire modules, and a convolutional classifier with global pooling."""
    b = Builder()
    x = b.input(INPUT, IMAGENET_SHAPE)
    f = b.scope("features")
    x = f.add("1", "ReLU", f.add("0", "Conv2d", x, **conv(64, 3, 2)))
    for i, item in enumerate(SQUEEZENET_1_1, start=2):
        if item == "M":
            x = f.add(str(i), "MaxPool2d", x, kernel_size=3, stride=2, ceil_mode=True)
        else:
            x = f.block(fire, str(i), x, **dict(zip(("squeeze_planes", "expand1x1_planes", "expand3x3_planes"), item)))
    x = _sequential(
        b.scope("classifier"),
        x,
        [("Dropout", {}), ("Conv2d", conv(num_classes, 1)), ("ReLU", {}), ("AdaptiveAvgPool2d", {"output_size": 1})],
    )
    b.add("flatten", "Flatten", x)
    return b.graph("SqueezeNet 1.1")
