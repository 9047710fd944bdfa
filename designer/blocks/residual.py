"""Blocks with a shortcut or a gate: ResNet's basic and bottleneck blocks, MobileNetV2's inverted residual, and
squeeze-and-excitation. Child names follow torchvision, so torchvision's state_dict keys fit the compiled module."""

from __future__ import annotations

from ..layers.registry import Shape
from ..model.params import Kind, Param
from ._base import BlockResult, Builder, conv, register_block
from .plain import conv_norm_act

_STRIDE = Param("stride", Kind.INT, 1, high=2, doc="2 halves the feature map (the shortcut is then projected)")


def _shortcut(b: Builder, input_id: str, in_shape: Shape, out_channels: int, stride: int) -> str:
    """The identity, or torchvision's ``downsample`` (1x1 conv + BN) when the stride or the channels change."""
    if stride == 1 and in_shape[0] == out_channels:
        return input_id
    x = b.add("downsample.0", "Conv2d", input_id, **conv(out_channels, 1, stride, bias=False))
    return b.add("downsample.1", "BatchNorm2d", x)


@register_block(
    "basic_residual",
    "Residual block (basic)",
    "Two 3x3 convolutions with BatchNorm, added to a shortcut of the "
    "input, then ReLU: the block learns a residual F(x) to add to x, which lets very deep nets train (ResNet-18/34, "
    "He et al., 2015). The shortcut becomes a 1x1 projection when the stride or the channel count changes",
    Param("planes", Kind.INT, 64, doc="output channels"),
    _STRIDE,
    prefix="res",
)
def basic_block(prefix: str, input_id: str, in_shape: Shape, *, planes: int, stride: int) -> BlockResult:
    """torchvision's ``BasicBlock``: conv1, bn1, relu, conv2, bn2, [downsample.0/1], add, relu_1.

    torchvision runs its one ``relu`` module twice; here each use is a node, named as torch.fx names repeated calls.
    """
    b = Builder.start(prefix, input_id, in_shape)
    x = b.add("conv1", "Conv2d", input_id, **conv(planes, 3, stride, 1, bias=False))
    x = b.add("relu", "ReLU", b.add("bn1", "BatchNorm2d", x))
    x = b.add("bn2", "BatchNorm2d", b.add("conv2", "Conv2d", x, **conv(planes, 3, padding=1, bias=False)))
    identity = _shortcut(b, input_id, in_shape, planes, stride)
    return b.result(b.add("relu_1", "ReLU", b.add("add", "Add", [x, identity])))


@register_block(
    "bottleneck",
    "Residual block (bottleneck)",
    "1x1 convolution down to a narrow width, 3x3 convolution, 1x1 back "
    "up to expansion x planes channels, added to a shortcut: the cheaper residual block of ResNet-50/101/152 (He et "
    "al., 2015). groups > 1 gives ResNeXt's grouped 3x3",
    Param("planes", Kind.INT, 64, doc="width of the narrow 3x3 stage; the block outputs expansion x planes channels"),
    _STRIDE,
    Param("expansion", Kind.INT, 4, high=8, doc="output channels = expansion x planes"),
    Param("groups", Kind.INT, 1, doc="groups of the 3x3 convolution (ResNeXt cardinality)"),
    Param("width_per_group", Kind.INT, 64, doc="3x3 width = planes * width_per_group / 64 * groups"),
    prefix="res",
)
def bottleneck(
    prefix: str,
    input_id: str,
    in_shape: Shape,
    *,
    planes: int,
    stride: int,
    expansion: int = 4,
    groups: int = 1,
    width_per_group: int = 64,
) -> BlockResult:
    """torchvision's ``Bottleneck``: conv1..3, bn1..3, relu, relu_1, [downsample.0/1], add, relu_2.

    As in torchvision (ResNet v1.5), the stride sits on the 3x3 convolution.
    """
    b = Builder.start(prefix, input_id, in_shape)
    width = int(planes * (width_per_group / 64.0)) * groups
    x = b.add(
        "relu", "ReLU", b.add("bn1", "BatchNorm2d", b.add("conv1", "Conv2d", input_id, **conv(width, 1, bias=False)))
    )
    x = b.add("conv2", "Conv2d", x, **conv(width, 3, stride, 1, groups, bias=False))
    x = b.add("relu_1", "ReLU", b.add("bn2", "BatchNorm2d", x))
    x = b.add("bn3", "BatchNorm2d", b.add("conv3", "Conv2d", x, **conv(planes * expansion, 1, bias=False)))
    identity = _shortcut(b, input_id, in_shape, planes * expansion, stride)
    return b.result(b.add("relu_2", "ReLU", b.add("add", "Add", [x, identity])))


@register_block(
    "inverted_residual",
    "Inverted residual (MobileNetV2)",
    "1x1 expansion to expand_ratio x the input channels, a "
    "3x3 depthwise convolution, then a linear 1x1 projection (no activation, to keep information in the narrow "
    "layer); a shortcut adds the input when stride is 1 and the channels match (Sandler et al., 2018)",
    Param("out_channels", Kind.INT, 32, doc="output channels"),
    _STRIDE,
    Param("expand_ratio", Kind.INT, 6, high=16, doc="hidden width = expand_ratio x input channels (1: no expansion)"),
    prefix="ir",
)
def inverted_residual(
    prefix: str, input_id: str, in_shape: Shape, *, out_channels: int, stride: int, expand_ratio: int
) -> BlockResult:
    """torchvision's ``InvertedResidual``: ``prefix.conv.<i>`` as its Sequential numbers them, then ``prefix.add``."""
    b = Builder.start(prefix, input_id, in_shape)
    hidden = int(round(in_shape[0] * expand_ratio))
    x, index = input_id, 0
    if expand_ratio != 1:
        x = conv_norm_act(b, x, ("conv.0.0", "conv.0.1", "conv.0.2"), hidden, 1, activation="ReLU6")
        index = 1
    names = tuple(f"conv.{index}.{k}" for k in range(3))
    x = conv_norm_act(b, x, names, hidden, 3, stride, groups=hidden, activation="ReLU6")
    x = b.add(f"conv.{index + 1}", "Conv2d", x, **conv(out_channels, 1, bias=False))
    x = b.add(f"conv.{index + 2}", "BatchNorm2d", x)
    if stride == 1 and in_shape[0] == out_channels:
        x = b.add("add", "Add", [input_id, x])
    return b.result(x)


@register_block(
    "squeeze_excitation",
    "Squeeze-and-excitation",
    "Global average pooling squeezes each channel to one number, two "
    "1x1 convolutions and a sigmoid turn these into per-channel weights, and the input is rescaled by them: the "
    "network learns which channels to emphasise (Hu et al., 2017)",
    Param("reduction", Kind.INT, 16, doc="squeeze channels = max(1, channels // reduction)"),
    prefix="se",
)
def squeeze_excitation(prefix: str, input_id: str, in_shape: Shape, *, reduction: int) -> BlockResult:
    """torchvision.ops' ``SqueezeExcitation``: avgpool, fc1, activation, fc2, scale_activation, then ``mul``."""
    b = Builder.start(prefix, input_id, in_shape)
    c = in_shape[0]
    x = b.add("avgpool", "AdaptiveAvgPool2d", input_id, output_size=1)
    x = b.add("activation", "ReLU", b.add("fc1", "Conv2d", x, **conv(max(1, c // reduction), 1)))
    x = b.add("scale_activation", "Sigmoid", b.add("fc2", "Conv2d", x, **conv(c, 1)))
    return b.result(b.add("mul", "Mul", [x, input_id]))
