"""Shape-preserving layers: activations, dropout, stochastic depth, identity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model.params import Kind, Param, required
from .registry import Ctx, LayerSpec, Shape, feature_dim, fmt_int, fmt_shape, register

if TYPE_CHECKING:
    from torch import nn

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
_activation("Mish", "x * tanh(softplus(x)) (YOLOv4, some timm models)", _INPLACE)
_activation(
    "Softplus",
    "log(1 + exp(beta * x)) / beta: a smooth ReLU",
    Param("beta", Kind.FLOAT, 1.0, doc="sharpness of the bend"),
    Param("threshold", Kind.FLOAT, 20.0, doc="above beta * x > threshold the output is x itself"),
)


@register
class Hardtanh(_Activation):
    name = "Hardtanh"
    doc = "x clipped to [min_val, max_val] (ReLU6 is Hardtanh(0, 6))"
    params = (
        Param("min_val", Kind.FLOAT, -1.0, doc="lower clip value"),
        Param("max_val", Kind.FLOAT, 1.0, doc="upper clip value"),
        _INPLACE,
    )

    def shape(self, ctx: Ctx) -> Shape:
        low, high = ctx.p["min_val"], ctx.p["max_val"]
        if not high > low:
            raise ctx.fail(
                "param.order",
                f"{ctx.who}: max_val ({high!r}) must be greater than min_val ({low!r})",
                "swap them, or set max_val above min_val",
            )
        return ctx.x0


@register
class PReLU(_Activation):
    name = "PReLU"
    doc = "x for x > 0, a * x otherwise, with a learned slope a (one, or one per channel)"
    min_rank = 1
    params = (
        Param("num_parameters", Kind.INT, 1, doc="learned slopes: 1, or the number of channels"),
        Param("init", Kind.FLOAT, 0.25, doc="initial slope"),
    )

    def shape(self, ctx: Ctx) -> Shape:
        n, c = ctx.p["num_parameters"], ctx.x0[0]
        if n not in (1, c):
            raise ctx.fail(
                "param.num_parameters",
                f"{ctx.who}: num_parameters={n} is neither 1 nor the {c} channels of its input from '{ctx.src[0]}'",
                f"set num_parameters to 1 (one slope) or {c} (one per channel)",
            )
        return ctx.x0

    def weights(self, ctx: Ctx) -> dict[str, Shape]:
        return {"weight": (ctx.p["num_parameters"],)}

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        return [f"output = input = {fmt_shape(out)}", f"params = num_parameters = {fmt_int(ctx.p['num_parameters'])}"]


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
class StochasticDepth(LayerSpec):
    name = "StochasticDepth"
    category = "Regularization"
    doc = "Drops a residual branch for random samples (row) or the whole batch during training (drop path)"
    params = (
        Param("p", Kind.FLOAT, required(), low=0, high=1, doc="probability of dropping the branch"),
        Param("mode", Kind.CHOICE, required(), choices=("row", "batch"), doc="drop per sample, or for the batch"),
    )

    def module_class(self) -> type[nn.Module]:
        from ..modules import StochasticDepth as cls

        return cls


@register
class Identity(LayerSpec):
    name = "Identity"
    category = "Reshape"
    doc = "Passes its input through unchanged (a placeholder, e.g. for a removed head)"
