"""The dynamo exporter's ``as_strided`` (a Gather over the flattened value, its indices computed from the batch size)
imports as nothing when it reads the value in its own order, and is still refused when it reorders it."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

import designer
from designer.importers import ModelImportError, import_source


def _restride_model(channel_order: list[int]) -> onnx.ModelProto:
    """x -> mean over H, W -> Gather(flat, n * 4 + order[c]) shaped [N, 4, 1, 1], as dynamo writes as_strided."""
    consts = {
        "hw": np.array([2, 3], np.int64),
        "flat": np.array([-1], np.int64),
        "zero": np.array(0, np.int64),
        "one": np.array(1, np.int64),
        "four": np.array(4, np.int64),
        "to_n111": np.array([1, 2, 3], np.int64),
        "channels": np.array(channel_order, np.int64).reshape(1, 4, 1, 1),
    }
    nodes = [
        helper.make_node("ReduceMean", ["x", "hw"], ["m"], name="mean", keepdims=1),
        helper.make_node("Reshape", ["m", "flat"], ["m_flat"], name="flatten"),
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["n"], name="batch", axis=0),
        helper.make_node("Range", ["zero", "n", "one"], ["rows"], name="rows"),
        helper.make_node("Mul", ["rows", "four"], ["starts"], name="starts"),
        helper.make_node("Unsqueeze", ["starts", "to_n111"], ["starts4"], name="starts4"),
        helper.make_node("Add", ["starts4", "channels"], ["index"], name="index"),
        helper.make_node("Gather", ["m_flat", "index"], ["y"], name="as_strided", axis=0),
    ]
    graph = helper.make_graph(
        nodes,
        "restride",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model


def test_a_gather_that_reads_in_order_imports_as_the_value_it_reads(tmp_path):
    onnx.save(_restride_model([0, 1, 2, 3]), tmp_path / "r.onnx")
    result = import_source(f"onnx:{tmp_path / 'r.onnx'}")
    assert [(n.type, n.params) for n in result.graph] == [
        ("Input", {"shape": [4, 3, 3]}),
        ("AdaptiveAvgPool2d", {"output_size": 1}),
    ]


def test_a_gather_that_reorders_is_still_refused(tmp_path):
    onnx.save(_restride_model([1, 0, 3, 2]), tmp_path / "r.onnx")
    with pytest.raises(ModelImportError) as caught:
        import_source(f"onnx:{tmp_path / 'r.onnx'}")
    assert any("'as_strided' (Gather)" in p for p in caught.value.problems)


class _PermutedHead(nn.Module):
    """ConvNeXt's pattern: a Linear on channels-last, permuted back, then global pooling and a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = nn.Linear(8, 8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mix(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.fc(torch.flatten(self.pool(y), 1))


@pytest.mark.slow  # the dynamo exporter: 7 s
def test_torch_dynamo_export_of_a_permuted_pooling_imports_with_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    model = _PermutedHead().eval()
    path = tmp_path / "head.onnx"
    x = torch.randn(2, 8, 5, 5)
    torch.onnx.export(model, (x,), str(path), dynamo=True, dynamic_shapes=({0: torch.export.Dim("N")},))
    assert "Gather" in {n.op_type for n in onnx.load(path).graph.node}  # what this test is about
    result = import_source(f"onnx:{path}")
    assert [n.type for n in result.graph if n.type in ("Permute", "AdaptiveAvgPool2d", "Linear")] == [
        "Permute",
        "Linear",
        "Permute",
        "AdaptiveAvgPool2d",
        "Linear",
    ]
    design = designer.compile(result.graph).eval()
    design.load_state_dict(result.state_dict, strict=True)
    with torch.no_grad():
        torch.testing.assert_close(design(x), model(x))
