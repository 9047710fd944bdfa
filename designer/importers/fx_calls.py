"""The functions and tensor methods a traced ``forward`` may call that map to one design node each, and how a call's
arguments become that node's parameters."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import torch
from torch.fx.node import Argument
from torch.nn import functional as F

from . import plain

#: Builds a node's params from a call's arguments (the first positional argument is the input).
ArgsMapper = Callable[[tuple[Argument, ...], dict[str, Argument]], dict[str, Any]]


def _no_params(args: tuple[Argument, ...], kwargs: dict[str, Argument]) -> dict[str, Any]:
    return {}


def _positional(*names: str, defaults: dict[str, Any] | None = None) -> ArgsMapper:
    """Params from a call's arguments after the input, by torch's positional order; only values given and not
    equal to ``defaults`` (torch's defaults, where the layer's differ or are implied) are kept."""
    skip = defaults or {}

    def params(args: tuple[Argument, ...], kwargs: dict[str, Argument]) -> dict[str, Any]:
        given = dict(zip(names, args[1:])) | {k: v for k, v in kwargs.items() if k in names}
        return {k: plain(v) for k, v in given.items() if k not in skip or plain(v) != skip[k]}

    return params


def _inplace(*names: str) -> ArgsMapper:
    """Like ``_positional``, with ``inplace=False`` left out (the layer's default)."""
    return _positional(*names, "inplace", defaults={"inplace": False})


def _dropout(args: tuple[Argument, ...], kwargs: dict[str, Argument]) -> dict[str, Any]:
    """``F.dropout(x, p, training, inplace)``: the node drops only in training, as the module does."""
    params = _inplace("p", "training")(args, kwargs)
    params.pop("training", None)
    return params


_DIM1 = _positional("dim", defaults={"dim": 1})
_POOL = ("kernel_size", "stride", "padding")

#: torch functions -> (node type, params from the arguments).
FUNCTIONS: dict[Any, tuple[str, ArgsMapper]] = {
    F.avg_pool2d: ("AvgPool2d", _positional(*_POOL, "ceil_mode", "count_include_pad", "divisor_override")),
    F.max_pool2d: ("MaxPool2d", _positional(*_POOL, "dilation", "ceil_mode")),
    F.adaptive_avg_pool2d: ("AdaptiveAvgPool2d", _positional("output_size")),
    F.adaptive_max_pool2d: ("AdaptiveMaxPool2d", _positional("output_size")),
    F.interpolate: ("Upsample", _positional("size", "scale_factor", "mode", "align_corners")),
    operator.add: ("Add", _no_params),
    operator.iadd: ("Add", _no_params),
    torch.add: ("Add", _no_params),
    operator.mul: ("Mul", _no_params),
    operator.imul: ("Mul", _no_params),
    torch.mul: ("Mul", _no_params),
    torch.cat: ("Concat", _DIM1),
    torch.concat: ("Concat", _DIM1),
    F.relu: ("ReLU", _inplace()),
    torch.relu: ("ReLU", _no_params),
    F.relu6: ("ReLU6", _inplace()),
    F.silu: ("SiLU", _inplace()),
    F.gelu: ("GELU", _positional("approximate", defaults={"approximate": "none"})),
    F.hardswish: ("Hardswish", _inplace()),
    F.hardsigmoid: ("Hardsigmoid", _inplace()),
    F.leaky_relu: ("LeakyReLU", _inplace("negative_slope")),
    F.elu: ("ELU", _inplace("alpha")),
    F.mish: ("Mish", _inplace()),
    F.softplus: ("Softplus", _positional("beta", "threshold")),
    F.hardtanh: ("Hardtanh", _inplace("min_val", "max_val")),
    torch.sigmoid: ("Sigmoid", _no_params),
    F.sigmoid: ("Sigmoid", _no_params),
    torch.tanh: ("Tanh", _no_params),
    F.tanh: ("Tanh", _no_params),
    F.softmax: ("Softmax", _DIM1),
    torch.softmax: ("Softmax", _DIM1),
    F.log_softmax: ("LogSoftmax", _DIM1),
    F.dropout: ("Dropout", _dropout),
    F.dropout2d: ("Dropout2d", _dropout),
    F.pixel_shuffle: ("PixelShuffle", _positional("upscale_factor")),
    torch.pixel_shuffle: ("PixelShuffle", _positional("upscale_factor")),
}

#: Tensor methods -> (node type, params from the arguments).
METHODS: dict[str, tuple[str, ArgsMapper]] = {
    "relu": ("ReLU", _no_params),
    "relu_": ("ReLU", _no_params),
    "sigmoid": ("Sigmoid", _no_params),
    "sigmoid_": ("Sigmoid", _no_params),
    "tanh": ("Tanh", _no_params),
    "add": ("Add", _no_params),
    "add_": ("Add", _no_params),
    "mul": ("Mul", _no_params),
    "mul_": ("Mul", _no_params),
    "softmax": ("Softmax", _DIM1),
    "log_softmax": ("LogSoftmax", _DIM1),
}

#: Calls that return their input's values unchanged: the node stands for its input.
PASS_THROUGH_METHODS = frozenset({"contiguous", "clone", "float"})
PASS_THROUGH_FUNCTIONS: frozenset[Any] = frozenset({torch.clone})
#: Calls that compute nothing the design needs (shape assertions).
IGNORED_FUNCTIONS: frozenset[Any] = frozenset({torch._assert})  # noqa: SLF001 - what fx records for timm's checks
#: Names of functions and methods that only reshape: mapped from the shapes they give (Flatten, Reshape, ...).
RESHAPING = frozenset({"view", "reshape", "squeeze", "unsqueeze", "flatten"})


def call_name(target: Any) -> str:
    """How a refusal names a called function: ``torch.cumsum``, ``F.unfold``, ``operator.truediv``."""
    name = getattr(target, "__name__", str(target))
    module = getattr(target, "__module__", None) or ""
    prefix = {"torch.nn.functional": "F", "_operator": "operator", "operator": "operator"}.get(module)
    if prefix is None:
        prefix = "torch" if module.startswith("torch") or getattr(torch, name, None) is target else module
    return f"{prefix}.{name}" if prefix else name
