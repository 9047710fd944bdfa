"""Shape-preserving layers: activations, dropout, identity."""

from __future__ import annotations

from ..model.params import Kind, Param
from .registry import Ctx, LayerSpec, Shape, feature_dim, fmt_shape, register

_INPLACE = Param("inplace", Kind.BOOL, False, doc="overwrite the input tensor to save memory")


class _Activation(LayerSpec):
    category = "Activation"


def _activation(name: str, doc: str, *params: Param) -> None:
    register(type(name, (_Activation,), {"name": name, "doc": doc, "params": params}))


_activation("ReLU", "max(0, x): the default non-linearity of CNNs", _INPLACE)
_activation("ReLU6", "min(max(0, x), 6): ReLU capped at 6 (MobileNet)", _INPLACE)
_activation(
    "LeakyReLU",
    "x for x > 0, negative_slope * x otherwise",
    Param("negative_slope", Kind.FLOAT, 0.01, doc="slope for negative inputs"),
    _INPLACE,
)
_activation(
    "ELU",
    "x for x > 0, alpha * (exp(x) - 1) otherwise",
    Param("alpha", Kind.FLOAT, 1.0, doc="saturation value for negative inputs"),
    _INPLACE,
)
_activation(
    "GELU",
    "x * Phi(x): the Gaussian error linear unit",
    Param("approximate", Kind.CHOICE, "none", choices=("none", "tanh"), doc="tanh approximation"),
)
_activation("SiLU", "x * sigmoid(x) (swish)", _INPLACE)
_activation("Hardswish", "x * relu6(x + 3) / 6 (MobileNetV3)", _INPLACE)
_activation("Hardsigmoid", "relu6(x + 3) / 6", _INPLACE)
_activation("Sigmoid", "1 / (1 + exp(-x)): squashes to (0, 1)")
_activation("Tanh", "tanh(x): squashes to (-1, 1)")


class _SoftmaxLike(LayerSpec):
    category = "Activation"
    params = (Param("dim", Kind.INT, 1, low=-8, high=8, doc="dimension to normalise (0 is the batch, 1 channels)"),)

    def shape(self, ctx: Ctx) -> Shape:
        feature_dim(ctx, "normalise")
        return ctx.x0

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        return [f"output = input = {fmt_shape(out)}, normalised along dim {ctx.p['dim']}; params = 0"]


@register
class Softmax(_SoftmaxLike):
    name = "Softmax"
    doc = "exp(x) / sum(exp(x)) along dim: class probabilities"


@register
class LogSoftmax(_SoftmaxLike):
    name = "LogSoftmax"
    doc = "log of Softmax, numerically stable (pair with NLLLoss)"


_P = Param("p", Kind.FLOAT, 0.5, low=0, high=1, doc="probability of zeroing an element")


@register
class Dropout(LayerSpec):
    name = "Dropout"
    category = "Regularization"
    doc = "Zeroes random elements with probability p during training"
    params = (_P, _INPLACE)


@register
class Dropout2d(LayerSpec):
    name = "Dropout2d"
    category = "Regularization"
    doc = "Zeroes whole random channels with probability p during training"
    ranks = (3,)
    params = (_P, _INPLACE)


@register
class Identity(LayerSpec):
    name = "Identity"
    category = "Reshape"
    doc = "Passes its input through unchanged (a placeholder, e.g. for a removed head)"
