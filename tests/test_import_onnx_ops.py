"""One hand-built ONNX file (onnx.helper) per mapped operator, imported and compared with onnxruntime; and graphs that
imitate what older frameworks (Caffe2's model zoo) wrote: LRN, variadic Sum, weights computed by ConstantOfShape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import designer
from designer.importers import ImportResult, ModelImportError, import_source

RNG = np.random.default_rng(0)


def _w(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _save(
    path: Path,
    nodes: list[onnx.NodeProto],
    consts: dict[str, np.ndarray],
    in_shape: list[int | str],
    opset: int = 17,
    more_inputs: dict[str, list[int | str]] | None = None,
) -> Path:
    """A hand-built file: Input ``x`` of ``in_shape`` (and ``more_inputs``, name: shape), ``nodes``, the last one's
    output as the graph's."""
    inputs = {"x": in_shape, **(more_inputs or {})}
    graph = helper.make_graph(
        nodes,
        "hand_built",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in inputs.items()],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def _import_and_compare(path: Path, batch: int = 2) -> ImportResult:
    """Import ``path`` and check the design's outputs against onnxruntime's on a fresh sample (1e-4 relative)."""
    result = import_source(f"onnx:{path}")
    module = designer.compile(result.graph).eval()
    module.load_state_dict(result.state_dict, strict=True)
    shape = [d if isinstance(d, int) else batch for d in _input_dims(path)]
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    (want,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    return result


def _input_dims(path: Path) -> list[int | str]:
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]


def _types(result: ImportResult) -> list[str]:
    return [n.type for n in result.graph if n.type != "Input"]


def test_lrn_is_local_response_norm_as_caffe2_wrote_it(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "conv1_w", "conv1_b"], ["conv1"], name="conv1", kernel_shape=[3, 3]),
        helper.make_node("Relu", ["conv1"], ["conv1_relu"], name="conv1_relu"),
        helper.make_node("LRN", ["conv1_relu"], ["norm1"], name="norm1", size=5, alpha=2e-4, beta=0.75, bias=2.0),
    ]
    consts = {"conv1_w": _w(8, 3, 3, 3), "conv1_b": _w(8)}
    result = _import_and_compare(_save(tmp_path / "lrn.onnx", nodes, consts, ["N", 3, 9, 9], opset=9))
    norm = next(n for n in result.graph if n.type == "LocalResponseNorm")
    assert (norm.id, norm.params) == ("norm1", {"size": 5, "alpha": 2e-4, "k": 2.0})


@pytest.mark.parametrize("opset, batch", [(11, "fixed"), (17, "dynamic")])
def test_lrn_as_torch_writes_it_is_local_response_norm(tmp_path, opset, batch):
    """torch's TorchScript exporter writes LocalResponseNorm as x / (k + alpha * avg_pool3d(x * x)) ** beta, with
    reshapes, a pad and an If on the rank in between: one LocalResponseNorm again (ZFNet's round trip)."""
    torch.manual_seed(0)
    lrn = torch.nn.LocalResponseNorm(3, alpha=2e-4, beta=0.6, k=2.0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), lrn).eval()
    path = tmp_path / "lrn.onnx"
    axes = {"dynamic_axes": {"x": {0: "N"}}} if batch == "dynamic" else {}
    x = torch.randn(1, 3, 9, 9)
    torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=opset, input_names=["x"], **axes)
    result = _import_and_compare(path, batch=3)
    assert [(n.type, n.params) for n in result.graph][1:] == [
        ("Conv2d", {"out_channels": 8, "kernel_size": 3}),
        ("ReLU", {}),
        ("LocalResponseNorm", {"size": 3, "alpha": 2e-4, "beta": 0.6, "k": 2.0}),
    ]


@pytest.mark.slow  # the dynamo exporter
def test_lrn_as_dynamo_writes_it_is_local_response_norm(tmp_path):
    """The dynamo exporter writes the same arithmetic without the If; unoptimised (as the designer exports), its
    reshapes read a batch size computed once for the whole graph: two LRNs and a Flatten share it, as in ZFNet."""
    torch.manual_seed(0)
    lrns = [torch.nn.LocalResponseNorm(3, alpha=2e-4, beta=0.6, k=2.0), torch.nn.LocalResponseNorm(5)]
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), *lrns, torch.nn.Flatten()).eval()
    path = tmp_path / "lrn.onnx"
    dims = {"dynamic_shapes": ({0: torch.export.Dim("N")},), "optimize": False}
    torch.onnx.export(model, (torch.randn(2, 3, 9, 9),), str(path), dynamo=True, input_names=["x"], **dims)
    result = _import_and_compare(path, batch=3)
    assert [(n.type, n.params) for n in result.graph][3:] == [
        ("LocalResponseNorm", {"size": 3, "alpha": 2e-4, "beta": 0.6, "k": 2.0}),
        ("LocalResponseNorm", {"size": 5}),
        ("Flatten", {}),
    ]


@pytest.mark.parametrize(
    "op, want, opset", [("Sum", "Add", 8), ("Max", "Maximum", 13), ("Min", "Minimum", 13), ("Mean", "Average", 13)]
)
def test_variadic_merge_of_three_branches_is_one_node(tmp_path, op, want, opset):
    nodes = [
        helper.make_node("Conv", ["x", f"w{i}"], [f"b{i}"], name=f"branch{i}", kernel_shape=[1, 1]) for i in range(3)
    ] + [helper.make_node(op, ["b0", "b1", "b2"], ["merged"], name="merge")]
    consts = {f"w{i}": _w(4, 3, 1, 1) for i in range(3)}
    result = _import_and_compare(_save(tmp_path / "merge.onnx", nodes, consts, ["N", 3, 5, 5], opset=opset))
    merge = result.graph["merge"]
    assert (merge.type, merge.inputs) == (want, ["branch0", "branch1", "branch2"])


def test_weights_given_by_constant_of_shape_and_a_cast_are_folded(tmp_path):
    """Caffe2-era and converter files compute constants: a zero bias from ConstantOfShape, a weight through Cast and
    Identity of an initialiser, a reshape target from a Shape -> Gather -> Unsqueeze -> Concat chain."""
    nodes = [
        helper.make_node(
            "ConstantOfShape",
            ["bias_shape"],
            ["zero_bias"],
            name="fill",
            value=numpy_helper.from_array(np.array([0.5], np.float32)),
        ),
        helper.make_node("Cast", ["w64"], ["w32"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Identity", ["w32"], ["w"], name="same"),
        helper.make_node("Conv", ["x", "w", "zero_bias"], ["conv"], name="conv", kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Shape", ["conv"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero_index"], ["n"], name="batch", axis=0),
        helper.make_node("Unsqueeze", ["n", "zero_axis"], ["n1"], name="n1"),
        helper.make_node("Concat", ["n1", "minus_one"], ["target"], name="target", axis=0),
        helper.make_node("Reshape", ["conv", "target"], ["flat"], name="flat"),
    ]
    consts = {
        "bias_shape": np.array([6], np.int64),
        "w64": _w(6, 3, 3, 3).astype(np.float64),
        "zero_index": np.array(0, np.int64),
        "zero_axis": np.array([0], np.int64),
        "minus_one": np.array([-1], np.int64),
    }
    result = _import_and_compare(_save(tmp_path / "folded.onnx", nodes, consts, ["N", 3, 4, 4]))
    assert _types(result) == ["Conv2d", "Flatten"]
    torch.testing.assert_close(result.state_dict["conv.bias"], torch.full((6,), 0.5))


@pytest.mark.parametrize(
    "bounds, want",
    [
        ((0.0, 6.0), ("ReLU6", {})),
        ((0.0, None), ("ReLU", {})),
        ((-2.0, 2.5), ("Hardtanh", {"min_val": -2.0, "max_val": 2.5})),
    ],
    ids=["relu6", "relu", "hardtanh"],
)
def test_clip_becomes_the_activation_it_is(tmp_path, bounds, want):
    low, high = bounds
    consts = {"low": np.array(low, np.float32)} | ({"high": np.array(high, np.float32)} if high is not None else {})
    node = helper.make_node("Clip", ["x", "low", "high" if high is not None else ""], ["y"], name="act")
    result = _import_and_compare(_save(tmp_path / "clip.onnx", [node], consts, ["N", 3, 4, 4]))
    act = result.graph["act"]
    assert (act.type, act.params) == want


def test_hard_sigmoid_and_hard_swish(tmp_path):
    """onnxruntime has no HardSwish kernel at opset 17 and writes it as x * HardSigmoid(x): one Hardswish again."""
    nodes = [
        helper.make_node("HardSigmoid", ["x"], ["g"], name="gate", alpha=1 / 6, beta=0.5),
        helper.make_node("HardSwish", ["g"], ["y"], name="act"),
    ]
    result = _import_and_compare(_save(tmp_path / "hard.onnx", nodes, {}, ["N", 3, 4, 4]))
    assert _types(result) == ["Hardsigmoid", "Hardswish"]


def test_x_times_sigmoid_of_x_is_one_silu(tmp_path):
    nodes = [
        helper.make_node("Sigmoid", ["x"], ["s"], name="/act/Sigmoid"),
        helper.make_node("Mul", ["x", "s"], ["y"], name="/act/Mul"),
    ]
    result = _import_and_compare(_save(tmp_path / "silu.onnx", nodes, {}, ["N", 3, 4, 4]))
    assert [(n.id, n.type) for n in result.graph][1:] == [("act", "SiLU")]


def test_squeeze_and_excitation_multiplies_with_broadcast(tmp_path):
    """An SE block as exporters write it: ReduceMean over H, W, two 1x1 convs, a sigmoid, Mul with the input."""
    nodes = [
        helper.make_node("ReduceMean", ["x", "hw"], ["avg"], name="se.pool", keepdims=1),
        helper.make_node("Conv", ["avg", "fc1_w", "fc1_b"], ["s1"], name="se.fc1", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["s1"], ["s2"], name="se.relu"),
        helper.make_node("Conv", ["s2", "fc2_w", "fc2_b"], ["s3"], name="se.fc2", kernel_shape=[1, 1]),
        helper.make_node("Sigmoid", ["s3"], ["scale"], name="se.gate"),
        helper.make_node("Mul", ["x", "scale"], ["y"], name="se.mul"),
    ]
    consts = {"hw": np.array([2, 3], np.int64), "fc1_w": _w(2, 8, 1, 1), "fc1_b": _w(2)}
    consts |= {"fc2_w": _w(8, 2, 1, 1), "fc2_b": _w(8)}
    result = _import_and_compare(_save(tmp_path / "se.onnx", nodes, consts, ["N", 8, 5, 5], opset=18))
    assert _types(result) == ["AdaptiveAvgPool2d", "Conv2d", "ReLU", "Conv2d", "Sigmoid", "Mul"]


def test_reduce_mean_without_keepdims_then_gemm_with_alpha_beta_and_trans_b(tmp_path):
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["avg"], name="pool", axes=[2, 3], keepdims=0),
        helper.make_node("Gemm", ["avg", "w", "b"], ["y"], name="fc", transB=1, alpha=0.5, beta=2.0),
    ]
    consts = {"w": _w(5, 4), "b": _w(5)}
    result = _import_and_compare(_save(tmp_path / "gemm.onnx", nodes, consts, ["N", 4, 3, 3], opset=13))
    assert _types(result) == ["AdaptiveAvgPool2d", "Flatten", "Linear"]


def test_gemm_without_trans_b_and_with_a_row_bias(tmp_path):
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "w", "b"], ["y"], name="fc", alpha=1.5),
    ]
    consts = {"w": _w(12, 5), "b": _w(1, 5)}
    result = _import_and_compare(_save(tmp_path / "gemm.onnx", nodes, consts, ["N", 3, 2, 2]))
    assert result.graph["fc"].params == {"out_features": 5}


def test_gemm_with_a_transposed_input_is_refused_with_its_name(tmp_path):
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], name="odd_fc", transA=1)]
    path = _save(tmp_path / "gemm.onnx", nodes, {"w": _w(3, 5)}, [3, 3])
    with pytest.raises(ModelImportError, match="'odd_fc' \\(Gemm\\): .*transA"):
        import_source(f"onnx:{path}")


def test_gemm_with_trans_a_after_a_transpose_is_one_linear(tmp_path):
    """A Transpose of [N, K] read back by Gemm(transA=1): the two cancel, alpha and beta go into the Linear."""
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flatten"),
        helper.make_node("Transpose", ["f"], ["t"], name="to_columns", perm=[1, 0]),
        helper.make_node("Gemm", ["t", "w", "b"], ["y"], name="fc", transA=1, transB=1, alpha=0.5, beta=2.0),
    ]
    result = _import_and_compare(_save(tmp_path / "gemm_ta.onnx", nodes, {"w": _w(4, 12), "b": _w(4)}, ["N", 3, 2, 2]))
    assert [(n.id, n.type) for n in result.graph][1:] == [("flatten", "Flatten"), ("fc", "Linear")]


@pytest.mark.parametrize("opset", [11, 13])
def test_unsqueeze_and_squeeze_of_sample_dimensions(tmp_path, opset):
    def axes(name: str, values: list[int]) -> tuple[list[str], dict]:
        return (["x" if name == "u" else "u", f"{name}_axes"], {}) if opset >= 13 else ([], {"axes": values})

    u_in, u_attr = axes("u", [3])
    s_in, s_attr = axes("s", [2, 3])
    nodes = [
        helper.make_node("Unsqueeze", u_in or ["x"], ["u"], name="grow", **u_attr),
        helper.make_node("Squeeze", s_in or ["u"], ["y"], name="shrink", **s_attr),
    ]
    consts = {"u_axes": np.array([3], np.int64), "s_axes": np.array([2, 3], np.int64)} if opset >= 13 else {}
    result = _import_and_compare(_save(tmp_path / "sq.onnx", nodes, consts, ["N", 6, 1], opset=opset))
    assert [(n.type, n.params) for n in result.graph if n.type != "Input"] == [
        ("Reshape", {"shape": [6, 1, 1]}),
        ("Flatten", {}),
    ]


def test_zero_pad_from_an_input_and_from_the_old_attribute(tmp_path):
    new = [helper.make_node("Pad", ["x", "pads"], ["y"], name="pad", mode="constant")]
    consts = {"pads": np.array([0, 0, 1, 2, 0, 0, 3, 0], np.int64)}
    result = _import_and_compare(_save(tmp_path / "pad.onnx", new, consts, ["N", 2, 4, 4], opset=13))
    assert result.graph["pad"].params == {"padding": [2, 0, 1, 3]}
    old = [helper.make_node("Pad", ["x"], ["y"], name="pad", pads=[0, 0, 1, 1, 0, 0, 1, 1], value=0.0)]
    result = _import_and_compare(_save(tmp_path / "pad2.onnx", old, {}, ["N", 2, 4, 4], opset=9))
    assert result.graph["pad"].params == {"padding": [1, 1, 1, 1]}


def test_matmul_then_add_is_one_linear_and_reshape_to_flat_is_a_flatten(tmp_path):
    nodes = [
        helper.make_node("Reshape", ["x", "flat"], ["f"], name="flatten"),
        helper.make_node("MatMul", ["f", "w"], ["h"], name="fc/MatMul"),
        helper.make_node("Add", ["h", "b"], ["y"], name="fc/Add"),
    ]
    consts = {"flat": np.array([-1, 8], np.int64), "w": _w(8, 3), "b": _w(3)}
    result = _import_and_compare(_save(tmp_path / "mm.onnx", nodes, consts, ["N", 2, 2, 2]))
    assert _types(result) == ["Flatten", "Linear"]


def test_a_fixed_batch_file_is_checked_with_its_own_batch(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    result = _import_and_compare(_save(tmp_path / "fixed.onnx", nodes, {}, [3, 2, 4, 4]), batch=3)
    assert any("match onnxruntime" in note for note in result.notes)


def test_ids_come_from_node_names_never_doubled_always_valid(tmp_path):
    """Names as converters write them: paths with slashes, colons, leading digits, the same name twice."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="block/1:relu"),
        helper.make_node("Relu", ["a"], ["b"], name="block.1.relu"),
        helper.make_node("Sigmoid", ["b"], ["c"], name="2nd-gate"),
        helper.make_node("Tanh", ["c"], ["y"], name=""),
    ]
    result = _import_and_compare(_save(tmp_path / "names.onnx", nodes, {}, ["N", 4]))
    ids = list(result.graph.ids())
    assert ids == ["x", "block.1.relu", "block.1.relu_1", "n2nd_gate", "y"]
    assert not any(d.is_error for d in designer.validate(result.graph))
