"""The dynamo exporter's ``as_strided`` (a Gather over the flattened value, its indices computed from the batch size)
imports as nothing when it reads the value in its own order, and is still refused when it reorders it. Where torch
writes it (a pooling after a permute): test_import_onnx_models' ConvNeXt through dynamo."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from designer.importers import ModelImportError, import_source


def _restride_model(channel_order: list[int], batch: int | str = "N") -> onnx.ModelProto:
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
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("batch", ["N", 3], ids=["dynamic", "fixed"])
def test_a_gather_that_reads_in_order_imports_as_the_value_it_reads(tmp_path, batch):
    onnx.save(_restride_model([0, 1, 2, 3], batch), tmp_path / "r.onnx")
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
