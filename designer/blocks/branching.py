"""Blocks that branch and concatenate: the Inception module, SqueezeNet's Fire module and DenseNet's dense layer,
dense block and transition. Child names follow torchvision."""

from __future__ import annotations

from ..layers.registry import Shape
from ..model.params import Kind, Param
from ._base import BlockResult, Builder, conv, register_block
from .plain import conv_norm_act


def _basic_conv(b: Builder, src: str, name: str, out_channels: int, kernel_size: int) -> str:
    """torchvision's GoogLeNet ``BasicConv2d``: ``name.conv`` (no bias), ``name.bn`` (eps 0.001), ``name.relu``."""
    return conv_norm_act(b, src, (f"{name}.conv", f"{name}.bn", f"{name}.relu"), out_channels, kernel_size, eps=0.001)


def _ch(name: str, default: int, doc: str) -> Param:
    return Param(name, Kind.INT, default, doc=doc)


@register_block(
    "inception",
    "Inception module",
    "Four parallel branches on the same input (1x1; 1x1 then 3x3; 1x1 then 5x5; "
    "3x3 max pooling then 1x1) concatenated along channels: the network picks its own mix of filter sizes, and the "
    "1x1 reductions keep that affordable (GoogLeNet, Szegedy et al., 2014)",
    _ch("ch1x1", 64, "channels of the 1x1 branch"),
    _ch("ch3x3red", 96, "1x1 reduction before the 3x3"),
    _ch("ch3x3", 128, "channels of the 3x3 branch"),
    _ch("ch5x5red", 16, "1x1 reduction before the 5x5"),
    _ch("ch5x5", 32, "channels of the 5x5 branch"),
    _ch("pool_proj", 32, "1x1 projection after the pooling"),
    Param(
        "branch3_kernel",
        Kind.INT,
        5,
        low=1,
        high=7,
        doc="kernel of the third branch: 5 as in the paper; torchvision's GoogLeNet uses 3",
    ),
    prefix="inception",
)
def inception(
    prefix: str,
    input_id: str,
    in_shape: Shape,
    *,
    ch1x1: int,
    ch3x3red: int,
    ch3x3: int,
    ch5x5red: int,
    ch5x5: int,
    pool_proj: int,
    branch3_kernel: int,
) -> BlockResult:
    """torchvision's ``Inception``: branch1, branch2.{0,1}, branch3.{0,1}, branch4.{0,1}, then ``cat``.

    Each convolution is a ``BasicConv2d`` (``.conv``, ``.bn``, ``.relu``); branch4.0 is the max pooling.
    """
    b = Builder.start(prefix, input_id, in_shape)
    b1 = _basic_conv(b, input_id, "branch1", ch1x1, 1)
    b2 = _basic_conv(b, _basic_conv(b, input_id, "branch2.0", ch3x3red, 1), "branch2.1", ch3x3, 3)
    b3 = _basic_conv(b, _basic_conv(b, input_id, "branch3.0", ch5x5red, 1), "branch3.1", ch5x5, branch3_kernel)
    pool = b.add("branch4.0", "MaxPool2d", input_id, kernel_size=3, stride=1, padding=1, ceil_mode=True)
    b4 = _basic_conv(b, pool, "branch4.1", pool_proj, 1)
    return b.result(b.add("cat", "Concat", [b1, b2, b3, b4]))


@register_block(
    "fire",
    "Fire module",
    "A 1x1 squeeze convolution to few channels, then parallel 1x1 and 3x3 expand convolutions "
    "concatenated: SqueezeNet's way to reach AlexNet accuracy with 50x fewer parameters (Iandola et al., 2016)",
    _ch("squeeze_planes", 16, "channels of the 1x1 squeeze"),
    _ch("expand1x1_planes", 64, "1x1 expand channels"),
    _ch("expand3x3_planes", 64, "3x3 expand channels"),
    prefix="fire",
)
def fire(
    prefix: str, input_id: str, in_shape: Shape, *, squeeze_planes: int, expand1x1_planes: int, expand3x3_planes: int
) -> BlockResult:
    """torchvision's ``Fire``: squeeze, squeeze_activation, expand1x1(_activation), expand3x3(_activation), cat."""
    b = Builder.start(prefix, input_id, in_shape)
    s = b.add("squeeze_activation", "ReLU", b.add("squeeze", "Conv2d", input_id, **conv(squeeze_planes, 1)))
    e1 = b.add("expand1x1_activation", "ReLU", b.add("expand1x1", "Conv2d", s, **conv(expand1x1_planes, 1)))
    e3 = b.add("expand3x3_activation", "ReLU", b.add("expand3x3", "Conv2d", s, **conv(expand3x3_planes, 3, padding=1)))
    return b.result(b.add("cat", "Concat", [e1, e3]))


_GROWTH = _ch("growth_rate", 32, "channels each dense layer adds")
_BN_SIZE = Param("bn_size", Kind.INT, 4, high=16, doc="bottleneck width = bn_size x growth_rate")


@register_block(
    "dense_layer",
    "Dense layer",
    "BN-ReLU-1x1 conv (bottleneck), BN-ReLU-3x3 conv producing growth_rate new "
    "channels, concatenated to its input: each layer sees the features of every layer before it (DenseNet, Huang et "
    "al., 2016)",
    _GROWTH,
    _BN_SIZE,
    prefix="denselayer",
)
def dense_layer(prefix: str, input_id: str, in_shape: Shape, *, growth_rate: int, bn_size: int) -> BlockResult:
    """torchvision's ``_DenseLayer`` (norm1, relu1, conv1, norm2, relu2, conv2), then ``cat`` of input and output.

    torchvision concatenates all earlier features at each layer; concatenating one layer at a time gives the same
    tensor in the same channel order.
    """
    b = Builder.start(prefix, input_id, in_shape)
    x = b.add("relu1", "ReLU", b.add("norm1", "BatchNorm2d", input_id))
    x = b.add("conv1", "Conv2d", x, **conv(bn_size * growth_rate, 1, bias=False))
    x = b.add("relu2", "ReLU", b.add("norm2", "BatchNorm2d", x))
    x = b.add("conv2", "Conv2d", x, **conv(growth_rate, 3, padding=1, bias=False))
    return b.result(b.add("cat", "Concat", [input_id, x]))


@register_block(
    "dense_block",
    "Dense block",
    "num_layers dense layers in a row; the block outputs its input channels plus "
    "num_layers x growth_rate (DenseNet, Huang et al., 2016)",
    Param("num_layers", Kind.INT, 6, high=64, doc="number of dense layers"),
    _GROWTH,
    _BN_SIZE,
    prefix="denseblock",
)
def dense_block(
    prefix: str, input_id: str, in_shape: Shape, *, num_layers: int, growth_rate: int, bn_size: int
) -> BlockResult:
    """torchvision's ``_DenseBlock``: ``prefix.denselayer1`` ... ``prefix.denselayer<n>``."""
    b = Builder.start(prefix, input_id, in_shape)
    x = input_id
    for i in range(1, num_layers + 1):
        x = b.block(dense_layer, f"denselayer{i}", x, growth_rate=growth_rate, bn_size=bn_size)
    return b.result(x)


@register_block(
    "transition",
    "Dense transition",
    "BN-ReLU-1x1 convolution to fewer channels, then 2x2 average pooling: shrinks "
    "the map and the channel count between DenseNet's dense blocks",
    Param("out_channels", Kind.OPT_INT, None, doc="output channels (default: half the input, compression 0.5)"),
    prefix="transition",
)
def transition(prefix: str, input_id: str, in_shape: Shape, *, out_channels: int | None) -> BlockResult:
    """torchvision's ``_Transition``: norm, relu, conv, pool."""
    b = Builder.start(prefix, input_id, in_shape)
    out = in_shape[0] // 2 if out_channels is None else out_channels
    x = b.add("relu", "ReLU", b.add("norm", "BatchNorm2d", input_id))
    x = b.add("conv", "Conv2d", x, **conv(out, 1, bias=False))
    return b.result(b.add("pool", "AvgPool2d", x, kernel_size=2, stride=2))
