"""The alternatives to a convolution keep its output shape, and their stated counts are torch's and torchinfo's."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchinfo import summary

from designer import analyze
from designer.analysis.alternatives import alternatives

from .helpers import chain


def _torch(layers, c_in):
    """The chain built with torch directly (not through our compiler): the oracle for shape and counts."""
    modules = []
    for type_, params in layers:
        if type_ == "ReLU":
            modules.append(nn.ReLU())
            continue
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        modules.append(nn.Conv2d(c_in, **kwargs))
        c_in = params["out_channels"]
    return nn.Sequential(*modules)


CASES = [
    ([16, 32, 32], {"out_channels": 32, "kernel_size": 7, "stride": 2, "padding": 3}),
    ([8, 15, 15], {"out_channels": 12, "kernel_size": 5, "padding": "same", "bias": False}),
    ([8, 9, 9], {"out_channels": 4, "kernel_size": 5, "stride": 2}),
    ([3, 12, 12], {"out_channels": 8, "kernel_size": 9, "padding": 5, "padding_mode": "reflect"}),
    ([16, 8, 8], {"out_channels": 16, "kernel_size": 3, "padding": 1}),
]


@pytest.mark.parametrize("shape, params", CASES)
def test_alternatives_keep_the_shape_and_state_torchs_counts(shape, params):
    analysis = analyze(chain(shape, ("Conv2d", params)))
    found = alternatives(analysis, "n1")
    k = params["kernel_size"]
    expected = {"Depthwise-separable"} | ({"1x1 bottleneck"} if shape[0] >= 8 else set())
    assert {a.name for a in found} == expected | ({"Stack of 3x3"} if k >= 5 else set())
    x = torch.randn(1, *shape)
    for alt in found:
        model = _torch(alt.layers, shape[0])
        assert tuple(model(x).shape[1:]) == alt.shape == analysis.shape("n1"), alt.name
        assert alt.params == sum(p.numel() for p in model.parameters()), alt.name
        assert alt.mult_adds == summary(model, input_data=x, verbose=0).total_mult_adds, alt.name


def test_a_stack_of_3x3_sees_the_same_window_with_fewer_weights():
    analysis = analyze(chain([16, 32, 32], ("Conv2d", {"out_channels": 16, "kernel_size": 5, "padding": 2})))
    [stack] = [a for a in alternatives(analysis, "n1") if a.name == "Stack of 3x3"]
    assert [t for t, _ in stack.layers] == ["Conv2d", "ReLU", "Conv2d"]
    assert stack.params == 2 * (9 * 16 * 16 + 16) < analysis.info["n1"].params == 25 * 16 * 16 + 16
    stacked = analyze(chain([16, 32, 32], *stack.layers))
    assert stacked.info["n3"].receptive_field == analysis.info["n1"].receptive_field == (5, 5)


def test_only_plain_convolutions_have_alternatives():
    grouped = analyze(chain([8, 8, 8], ("Conv2d", {"out_channels": 8, "kernel_size": 3, "groups": 2})))
    pool = analyze(chain([8, 8, 8], ("MaxPool2d", {"kernel_size": 2})))
    assert alternatives(grouped, "n1") == [] and alternatives(pool, "n1") == [] and alternatives(pool, "nope") == []
