"""Hand-built ONNX files for the operators that rearrange tensors (Slice, Split, Transpose, ShuffleNet's channel
shuffle), a mean over channels, a per-channel constant gain and layer normalisation (ConvNeXt's between two
Transposes), each compared with onnxruntime."""

from __future__ import annotations

import numpy as np
from onnx import helper

from tests.test_import_onnx_ops import _import_and_compare, _save, _types, _w


def test_slice_of_channels_with_an_open_end(tmp_path):
    nodes = [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"], name="upper")]
    consts = {"starts": np.array([2]), "ends": np.array([2**63 - 1]), "axes": np.array([1])}
    result = _import_and_compare(_save(tmp_path / "slice.onnx", nodes, consts, ["N", 6, 3, 3]))
    assert result.graph["upper"].params == {"start": 2}


def test_split_on_channels_becomes_one_split_node_whose_parts_are_read_by_port(tmp_path):
    nodes = [
        helper.make_node("Split", ["x", "sizes"], ["a", "b"], name="split", axis=1),
        helper.make_node("Relu", ["b"], ["r"], name="branch"),
        helper.make_node("Concat", ["a", "r"], ["y"], name="join", axis=1),
    ]
    consts = {"sizes": np.array([2, 4], np.int64)}
    result = _import_and_compare(_save(tmp_path / "split.onnx", nodes, consts, ["N", 6, 3, 3], opset=13))
    assert [(n.id, n.type, n.params, n.inputs) for n in result.graph][1:] == [
        ("split", "Split", {"sections": [2, 4]}, ["x"]),
        ("branch", "ReLU", {}, ["split:1"]),
        ("join", "Concat", {}, ["split", "branch"]),
    ]


def test_split_into_equal_parts_by_output_count(tmp_path):
    nodes = [
        helper.make_node("Split", ["x"], ["a", "b"], name="halves", axis=1, num_outputs=2),
        helper.make_node("Mul", ["a", "b"], ["y"], name="gate"),
    ]
    result = _import_and_compare(_save(tmp_path / "glu.onnx", nodes, {}, ["N", 8, 2, 2], opset=18))
    assert _types(result) == ["Split", "Mul"]
    assert result.graph["gate"].inputs == ["halves", "halves:1"]


def test_channel_shuffle_pattern_is_one_node(tmp_path):
    """ShuffleNet's Reshape (N, g, C/g, H, W) -> Transpose (0, 2, 1, 3, 4) -> Reshape (N, C, H, W)."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1]),
        helper.make_node("Reshape", ["c", "grouped"], ["g"], name="shuffle/view"),
        helper.make_node("Transpose", ["g"], ["t"], name="shuffle/transpose", perm=[0, 2, 1, 3, 4]),
        helper.make_node("Reshape", ["t", "flat"], ["y"], name="shuffle/back"),
    ]
    consts = {"w": _w(6, 3, 1, 1), "grouped": np.array([-1, 2, 3, 4, 4]), "flat": np.array([-1, 6, 4, 4])}
    result = _import_and_compare(_save(tmp_path / "shuffle.onnx", nodes, consts, ["N", 3, 4, 4]))
    assert [(n.type, n.params) for n in result.graph][2:] == [("ChannelShuffle", {"groups": 2})]


def test_transpose_of_sample_dimensions_is_a_permute(tmp_path):
    nodes = [helper.make_node("Transpose", ["x"], ["y"], name="channels_last", perm=[0, 2, 3, 1])]
    result = _import_and_compare(_save(tmp_path / "perm.onnx", nodes, {}, ["N", 3, 4, 5]))
    assert result.graph["channels_last"].params == {"dims": [0, 2, 3, 1]}


def test_mul_by_a_constant_per_channel_is_a_layer_scale(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["gamma", "c"], ["y"], name="layer_scale"),
    ]
    consts = {"w": _w(4, 3, 3, 3), "gamma": _w(4, 1, 1)}
    result = _import_and_compare(_save(tmp_path / "ls.onnx", nodes, consts, ["N", 3, 5, 5]))
    assert _types(result) == ["Conv2d", "LayerScale"]


def test_mean_over_channels_is_a_mean_node(tmp_path):
    nodes = [helper.make_node("ReduceMean", ["x"], ["y"], name="avg_c", axes=[1], keepdims=1)]
    result = _import_and_compare(_save(tmp_path / "mean.onnx", nodes, {}, ["N", 3, 4, 4], opset=13))
    assert result.graph["avg_c"].params == {"dim": [1], "keepdim": True}


def test_layer_normalization_over_the_last_dimension_then_a_gelu_written_as_erf(tmp_path):
    """LayerNormalization on [N, C, L] is a LayerNorm over L; the dynamo exporter's opset-18 GELU (x / sqrt 2, Erf,
    + 1, times 0.5, times x) is one GELU."""
    nodes = [
        helper.make_node("LayerNormalization", ["x", "scale", "shift"], ["n"], name="norm", axis=-1, epsilon=1e-6),
        helper.make_node("Div", ["n", "sqrt2"], ["d"], name="gelu/div"),
        helper.make_node("Erf", ["d"], ["e"], name="gelu/erf"),
        helper.make_node("Add", ["e", "one"], ["p"], name="gelu/add"),
        helper.make_node("Mul", ["half", "p"], ["h"], name="gelu/half"),
        helper.make_node("Mul", ["n", "h"], ["y"], name="gelu"),
    ]
    consts = {
        "scale": _w(5),
        "shift": _w(5),
        "sqrt2": np.array(np.sqrt(2), np.float32),
        "one": np.array(1, np.float32),
        "half": np.array(0.5, np.float32),
    }
    result = _import_and_compare(_save(tmp_path / "ln.onnx", nodes, consts, ["N", 3, 5]))
    assert [(n.type, n.params) for n in result.graph][1:] == [
        ("LayerNorm", {"normalized_shape": [5], "eps": 1e-6}),
        ("GELU", {}),
    ]


def test_layer_norm_between_transposes_is_a_layer_norm_2d(tmp_path):
    """ConvNeXt's LayerNorm2d as torch writes it: to channels-last, LayerNormalization, back."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], name="ln/to_last", perm=[0, 2, 3, 1]),
        helper.make_node("LayerNormalization", ["t", "scale", "shift"], ["n"], name="ln/norm"),
        helper.make_node("Transpose", ["n"], ["y"], name="ln/back", perm=[0, 3, 1, 2]),
    ]
    result = _import_and_compare(_save(tmp_path / "ln2d.onnx", nodes, {"scale": _w(4), "shift": _w(4)}, ["N", 4, 3, 3]))
    assert [(n.type, n.params) for n in result.graph][1:] == [("LayerNorm2d", {"normalized_shape": [4]})]
