"""Design advice: each warning fires on a minimal design, names the node and its numbers, and not on the fixed one."""

from __future__ import annotations

import pytest

from designer import validate
from designer.analysis.advice import CODES
from designer.model import fileformat
from designer.model.diagnostics import Severity

from .helpers import chain, graph


def advice(g):
    return [(d.code, d.node_id) for d in validate(g) if d.code.startswith("advice.")]


def the_one(g, code):
    [d] = [d for d in validate(g) if d.code == code]
    assert d.severity is Severity.WARNING and d.hint
    return d


CONV3 = {"out_channels": 4, "kernel_size": 3, "padding": 1}


def test_receptive_field_smaller_than_the_input_before_global_pooling():
    head = [("AdaptiveAvgPool2d", {"output_size": 1}), ("Flatten", {}), ("Linear", {"out_features": 2})]
    small = chain([1, 32, 32], ("Conv2d", CONV3), ("ReLU", {}), *head)
    d = the_one(small, "advice.receptive_field")
    assert d.node_id == "n2" and "3x3" in d.message and "32x32" in d.message
    assert "15 more" in d.hint  # (32 - 3) / 2 pixels per 3x3 at stride 1, rounded up
    # three 3x3 convolutions and a 2x2 pooling see 3, 5, 6 and then 10 pixels: enough for an 8x8 input
    fixed = chain(
        [1, 8, 8],
        ("Conv2d", CONV3),
        ("ReLU", {}),
        ("Conv2d", CONV3),
        ("ReLU", {}),
        ("MaxPool2d", {"kernel_size": 2}),
        ("Conv2d", CONV3),
        ("ReLU", {}),
        *head,
    )
    assert advice(fixed) == []


def test_a_stated_object_scale_is_what_the_receptive_field_must_cover():
    g = chain([1, 32, 32], ("Conv2d", CONV3), ("ReLU", {}), ("AdaptiveMaxPool2d", {"output_size": 1}))
    assert advice(g) == [("advice.receptive_field", "n2")]
    g["x"].extra["object_scale"] = 3
    assert advice(g) == []
    g["x"].extra["object_scale"] = [5, 3]
    assert advice(g) == [("advice.receptive_field", "n2")]


def test_a_squeeze_and_excitation_gate_is_not_a_head():
    g = graph(
        ("x", "Input", {"shape": [4, 16, 16]}, []),
        ("pool", "AdaptiveAvgPool2d", {"output_size": 1}, ["x"]),
        ("fc", "Conv2d", {"out_channels": 4, "kernel_size": 1}, ["pool"]),
        ("gate", "Sigmoid", {}, ["fc"]),
        ("mul", "Mul", {}, ["x", "gate"]),
    )
    assert advice(g) == []


@pytest.mark.parametrize("between", [[], [("BatchNorm2d", {})], [("Dropout", {}), ("AvgPool2d", {"kernel_size": 1})]])
def test_two_convolutions_without_a_nonlinearity(between):
    first = ("Conv2d", {**CONV3, "bias": False})
    g = chain([3, 8, 8], first, *between, ("Conv2d", CONV3))
    last = f"n{len(between) + 2}"
    d = the_one(g, "advice.linear_stack")
    assert d.node_id == last and "'n1'" in d.message
    fixed = chain([3, 8, 8], first, *between, ("ReLU", {}), ("Conv2d", CONV3))
    assert advice(fixed) == []


def test_two_linear_layers_through_dropout():
    g = chain([16], ("Linear", {"out_features": 16}), ("Dropout", {}), ("Linear", {"out_features": 4}))
    assert advice(g) == [("advice.linear_stack", "n3")]
    fixed = chain([16], ("Linear", {"out_features": 16}), ("ReLU", {}), ("Linear", {"out_features": 4}))
    assert advice(fixed) == []


def test_a_linear_branch_off_a_map_read_elsewhere_is_not_a_stack():
    # SE-ResNet: the SE gate's fc1 reads bn3 (through the pooling) with no activation between, but bn3 also feeds
    # the block's output, so fc1 is a branch of its own, not a second half of one linear map.
    g = graph(
        ("x", "Input", {"shape": [8, 6, 6]}, []),
        ("conv", "Conv2d", {"out_channels": 8, "kernel_size": 1}, ["x"]),
        ("pool", "AdaptiveAvgPool2d", {"output_size": 1}, ["conv"]),
        ("fc1", "Conv2d", {"out_channels": 8, "kernel_size": 1}, ["pool"]),
        ("gate", "Sigmoid", {}, ["fc1"]),
        ("mul", "Mul", {}, ["conv", "gate"]),
    )
    assert advice(g) == []


def test_factorisations_are_linear_on_purpose():
    separable = chain(
        [8, 8, 8],
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1, "groups": 8}),
        ("Conv2d", {"out_channels": 16, "kernel_size": 1}),
    )
    bottleneck = chain(
        [32, 8, 8],
        ("Conv2d", {"out_channels": 4, "kernel_size": 1}),
        ("Conv2d", {"out_channels": 32, "kernel_size": 1}),
    )
    assert advice(separable) == [] and advice(bottleneck) == []


def test_a_flatten_linear_head_holding_most_parameters():
    conv = ("Conv2d", CONV3)
    g = chain([4, 3, 3], conv, ("ReLU", {}), ("Flatten", {}), ("Linear", {"out_features": 10}))
    d = the_one(g, "advice.head_params")
    # conv: 4*4*9 + 4 = 148; Linear: 36*10 + 10 = 370 of 518; after global pooling 4*10 + 10 = 50, 320 fewer
    assert d.node_id == "n4" and "370 of the design's 518" in d.message and "71 %" in d.message
    assert "50 parameters, 320 fewer" in d.hint
    fixed = chain(
        [4, 3, 3],
        conv,
        ("ReLU", {}),
        ("AdaptiveAvgPool2d", {"output_size": 1}),
        ("Flatten", {}),
        ("Linear", {"out_features": 10}),
    )
    assert advice(fixed) == []


def test_a_large_linear_is_warned_once():
    g = chain([64, 32, 32], ("Flatten", {}), ("Linear", {"out_features": 10}))
    assert [d.code for d in validate(g)] == ["cost.large_linear"]


def test_a_kernel_larger_than_its_input():
    g = chain([1, 4, 4], ("Conv2d", {"out_channels": 2, "kernel_size": 5, "padding": 2}))
    d = the_one(g, "advice.kernel_too_large")
    assert d.node_id == "n1" and "5x5 window on the 4x4 map" in d.message and "at least 9 of its 25" in d.message
    assert advice(chain([1, 4, 4], ("Conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1}))) == []


def test_a_stride_larger_than_the_kernel_skips_pixels():
    g = chain([1, 8, 8], ("Conv2d", {"out_channels": 2, "kernel_size": 1, "stride": 2}))
    d = the_one(g, "advice.stride_skips")
    assert d.node_id == "n1" and "3 of every 4 pixels" in d.message
    fixed = chain([1, 8, 8], ("Conv2d", {"out_channels": 2, "kernel_size": 3, "stride": 2, "padding": 1}))
    assert advice(fixed) == []


def test_a_strided_shortcut_beside_a_branch_that_reads_every_pixel_is_fine():
    g = graph(
        ("x", "Input", {"shape": [2, 8, 8]}, []),
        ("short", "Conv2d", {"out_channels": 4, "kernel_size": 1, "stride": 2, "bias": False}, ["x"]),
        ("main", "Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}, ["x"]),
        ("act", "ReLU", {}, ["main"]),
        ("add", "Add", {}, ["short", "act"]),
    )
    assert advice(g) == []


def test_a_bias_before_batchnorm():
    g = chain([3, 8, 8], ("Conv2d", CONV3), ("BatchNorm2d", {}), ("ReLU", {}))
    d = the_one(g, "advice.bias_before_bn")
    assert d.node_id == "n1" and "4 biases" in d.message and "4 fewer parameters" in d.hint
    fixed = chain([3, 8, 8], ("Conv2d", {**CONV3, "bias": False}), ("BatchNorm2d", {}), ("ReLU", {}))
    assert advice(fixed) == []


def test_dropout_before_batchnorm():
    g = chain([8], ("Dropout", {"p": 0.2}), ("BatchNorm1d", {}), ("ReLU", {}))
    assert advice(g) == [("advice.dropout_before_bn", "n1")]
    assert advice(chain([8], ("BatchNorm1d", {}), ("ReLU", {}), ("Dropout", {"p": 0.2}))) == []


def test_a_map_reduced_to_one_pixel_before_larger_kernels():
    g = chain([1, 4, 4], ("MaxPool2d", {"kernel_size": 4}), ("Conv2d", CONV3), ("ReLU", {}), ("Conv2d", CONV3))
    d = the_one(g, "advice.early_collapse")
    assert d.node_id == "n1" and "2 layer(s)" in d.message and "'n2' (3x3)" in d.message
    assert advice(g) == [("advice.receptive_field", "x"), ("advice.early_collapse", "n1")]
    fixed = chain([1, 8, 8], ("MaxPool2d", {"kernel_size": 2}), ("Conv2d", CONV3), ("ReLU", {}), ("Conv2d", CONV3))
    assert advice(fixed) == []


def test_a_node_silences_advice_by_code_or_by_family():
    g = chain([3, 8, 8], ("Conv2d", CONV3), ("BatchNorm2d", {}), ("ReLU", {}))
    for silence in (["advice.bias_before_bn"], "advice", ["shape", "advice"]):
        g["n1"].extra["silence"] = silence
        assert advice(g) == []
    g["n1"].extra["silence"] = ["advice.linear_stack"]
    assert advice(g) == [("advice.bias_before_bn", "n1")]
    g["n1"].extra["silence"] = {"advice": True}
    assert sorted(advice(g)) == [("advice.bias_before_bn", "n1"), ("advice.silence", "n1")]


def test_silence_survives_a_save_and_load():
    g = chain([3, 8, 8], ("Conv2d", CONV3), ("BatchNorm2d", {}))
    g["n1"].extra["silence"] = ["advice.bias_before_bn"]
    text = fileformat.dumps(g)
    again = fileformat.loads(text)
    assert advice(again) == [] and fileformat.dumps(again) == text


def test_every_code_is_documented():
    docs = open(fileformat.__file__.rsplit("designer", 1)[0] + "docs/format.md", encoding="utf-8").read()
    assert [c for c in CODES if f"`{c}`" not in docs] == []
