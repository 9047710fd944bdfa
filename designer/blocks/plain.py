"""Straight-line blocks: convolution-norm-activation, the VGG block, depthwise separable and factorized convolutions."""

from __future__ import annotations

from collections.abc import Sequence

from ..layers.registry import Shape
from ..model.graph import NodeId
from ..model.params import Kind, Param
from ._base import BlockResult, Builder, conv, register_block, same_padding

ACTIVATIONS = ("ReLU", "ReLU6", "SiLU", "LeakyReLU", "GELU", "Hardswish", "none")

_OUT = Param("out_channels", Kind.INT, 64, doc="output channels")
_STRIDE = Param("stride", Kind.INT, 1, high=2, doc="2 halves the feature map")


def conv_norm_act(
    b: Builder,
    src: str,
    names: Sequence[str],
    out_channels: int,
    kernel_size: int | Sequence[int],
    stride: int = 1,
    groups: int = 1,
    activation: str = "ReLU",
    eps: float | None = None,
    padding: int | Sequence[int] | None = None,
) -> NodeId:
    """Conv2d (no bias: the norm has one), BatchNorm2d, activation, named ``names`` (conv, norm, activation).

    The padding defaults to (k - 1) // 2, as in torchvision's ``Conv2dNormActivation``.
    """
    pad = same_padding(kernel_size) if padding is None else padding
    x = b.add(names[0], "Conv2d", src, **conv(out_channels, kernel_size, stride, pad, groups, bias=False))
    x = b.add(names[1], "BatchNorm2d", x, **({} if eps is None else {"eps": eps}))
    return x if activation == "none" else b.add(names[2], activation, x)


@register_block(
    "conv_bn_act",
    "Conv-BN-activation",
    "A convolution, batch normalisation and an activation: the unit most modern "
    "CNNs are built from (bias left out because the BatchNorm shift replaces it)",
    _OUT,
    Param("kernel_size", Kind.INT, 3, high=15, doc="filter size (padding keeps the map size at stride 1)"),
    _STRIDE,
    Param("groups", Kind.INT, 1, doc="channel groups (= channels for a depthwise convolution)"),
    Param("activation", Kind.CHOICE, "ReLU", choices=ACTIVATIONS, doc="non-linearity after the norm"),
    prefix="conv",
)
def conv_bn_act(
    prefix: str,
    input_id: str,
    in_shape: Shape,
    *,
    out_channels: int,
    kernel_size: int,
    stride: int,
    groups: int,
    activation: str,
) -> BlockResult:
    """Conv2d, BatchNorm2d and an activation as ``prefix.conv``, ``prefix.bn`` and ``prefix.<activation>``."""
    b = Builder.start(prefix, input_id, in_shape)
    out = conv_norm_act(
        b, input_id, ("conv", "bn", activation.lower()), out_channels, kernel_size, stride, groups, activation
    )
    return b.result(out)


@register_block(
    "vgg",
    "VGG block",
    "n x [3x3 convolution, ReLU] then 2x2 max pooling: VGG's unit. Stacked 3x3 convolutions see "
    "as far as one large filter with fewer parameters and more non-linearities (Simonyan & Zisserman, 2014)",
    _OUT,
    Param("convs", Kind.INT, 2, high=8, doc="number of 3x3 convolutions before the pooling"),
    Param("batch_norm", Kind.BOOL, False, doc="add BatchNorm2d after each convolution (VGG-BN)"),
    prefix="vgg",
)
def vgg_block(
    prefix: str,
    input_id: str,
    in_shape: Shape,
    *,
    out_channels: int,
    convs: int,
    batch_norm: bool,
    first_index: int = 0,
) -> BlockResult:
    """Conv2d, [BatchNorm2d,] ReLU per convolution, then MaxPool2d, named ``prefix.0``, ``prefix.1``, ...

    Numbering starts at ``first_index``, so consecutive blocks under one prefix reproduce torchvision's
    ``features.<i>`` names, as one ``torch.nn.Sequential`` numbers its children.
    """
    b = Builder.start(prefix, input_id, in_shape)
    index, x = first_index, input_id
    for _ in range(convs):
        x = b.add(str(index), "Conv2d", x, **conv(out_channels, 3, padding=1))
        index += 1
        if batch_norm:
            x = b.add(str(index), "BatchNorm2d", x)
            index += 1
        x = b.add(str(index), "ReLU", x)
        index += 1
    return b.result(b.add(str(index), "MaxPool2d", x, kernel_size=2, stride=2))


@register_block(
    "depthwise_separable",
    "Depthwise separable convolution",
    "A 3x3 depthwise convolution (one filter per channel) "
    "then a 1x1 pointwise convolution that mixes channels, each with BatchNorm and ReLU: MobileNet's factorisation "
    "of a full convolution, about 8-9x cheaper (Howard et al., 2017)",
    _OUT,
    _STRIDE,
    prefix="dwsep",
)
def depthwise_separable(prefix: str, input_id: str, in_shape: Shape, *, out_channels: int, stride: int) -> BlockResult:
    """``prefix.depthwise.{0,1,2}`` (conv groups=C, BN, ReLU) then ``prefix.pointwise.{0,1,2}``."""
    b = Builder.start(prefix, input_id, in_shape)
    c = in_shape[0]
    x = conv_norm_act(b, input_id, ("depthwise.0", "depthwise.1", "depthwise.2"), c, 3, stride, groups=c)
    return b.result(conv_norm_act(b, x, ("pointwise.0", "pointwise.1", "pointwise.2"), out_channels, 1))


@register_block(
    "factorized_conv",
    "Factorized 1xn / nx1 convolution",
    "An n x n convolution replaced by a 1 x n then an n x 1 "
    "convolution (each with BatchNorm and ReLU): the same receptive field for 2n instead of n^2 weights per channel "
    "pair, as in Inception v3 (Szegedy et al., 2015)",
    _OUT,
    Param("n", Kind.INT, 7, low=2, high=15, doc="length of the factorized filters (odd n keeps the map size)"),
    Param("mid_channels", Kind.OPT_INT, None, doc="channels between the two convolutions (default: out_channels)"),
    prefix="factorized",
)
def factorized_conv(
    prefix: str, input_id: str, in_shape: Shape, *, out_channels: int, n: int, mid_channels: int | None
) -> BlockResult:
    """``prefix.conv1x<n>.{conv,bn,relu}`` then ``prefix.conv<n>x1.{conv,bn,relu}``.

    Each is laid out as torchvision's Inception v3 ``BasicConv2d`` (BatchNorm eps 0.001).
    """
    b = Builder.start(prefix, input_id, in_shape)
    mid = out_channels if mid_channels is None else mid_channels
    pad = (n - 1) // 2
    first, second = f"conv1x{n}", f"conv{n}x1"
    x = conv_norm_act(
        b, input_id, (f"{first}.conv", f"{first}.bn", f"{first}.relu"), mid, (1, n), eps=0.001, padding=(0, pad)
    )
    x = conv_norm_act(
        b, x, (f"{second}.conv", f"{second}.bn", f"{second}.relu"), out_channels, (n, 1), eps=0.001, padding=(pad, 0)
    )
    return b.result(x)
