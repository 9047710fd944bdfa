"""The ONNX importer's builder: how ONNX names become design ids, and which shapes count as static."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import NodeProto, StringStringEntryProto, TensorProto, helper

from designer.importers.onnx_builder import OnnxGraphBuilder, module_path, sanitize, static_sample_shape
from designer.model.graph import Node, NodeId


def _builder(*nodes: NodeProto) -> OnnxGraphBuilder:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])
    return OnnxGraphBuilder(helper.make_model(helper.make_graph(list(nodes), "g", [x], [])))


def _node(name: str, scopes: str | None = None) -> NodeProto:
    node = helper.make_node("Relu", ["x"], ["y"], name=name)
    if scopes is not None:
        node.metadata_props.append(StringStringEntryProto(key="pkg.torch.onnx.name_scopes", value=scopes))
    return node


@pytest.mark.parametrize(
    "name, want",
    [("/layer1/conv1/Conv", "layer1.conv1.Conv"), ("x:0", "x.0"), ("input.1", "input.1"), ("_x", "x"), ("/", "")],
)
def test_sanitize_gives_dotted_ids(name, want):
    assert sanitize(name) == want


def test_unique_avoids_taken_and_enclosing_ids():
    b = _builder()
    b.add(Node(NodeId("layer1.conv"), "Conv2d"), "c")
    assert b.unique("other") == "other"
    assert b.unique("layer1.conv") == "layer1.conv_1"
    assert b.unique("layer1") == "layer1_1"  # a module path cannot also be a node of its own
    assert b.unique("") == "node"


def test_unique_renames_the_level_a_taken_id_encloses():
    """``block`` taken, ``block.inner`` wanted: a suffix at the end stays inside ``block``, so it goes on ``block``."""
    b = _builder()
    b.add(Node(NodeId("block"), "ReLU"), "r")
    assert b.unique("block.inner") == "block_1.inner"
    b.add(Node(NodeId("block_1"), "ReLU"), "s")
    assert b.unique("block.inner.conv") == "block_2.inner.conv"


def test_add_records_the_producer_of_an_onnx_value():
    b = _builder()
    b.add(Node(NodeId("relu"), "ReLU"), "y")
    assert b.producer == {"y": "relu"}
    assert [n.id for n in b.nodes] == ["relu"]


def test_data_inputs_leave_out_constants_and_shapes():
    b = _builder()
    b.consts["w"] = np.zeros(3, dtype=np.float32)
    b.shape_values.add("s")
    assert b.data_inputs(helper.make_node("Conv", ["x", "w", "", "s"], ["y"])) == ["x"]


@pytest.mark.parametrize(
    "node, weight, want",
    [
        (_node("/features/relu/Relu", "['', 'features', 'relu']"), "stem.weight", "stem"),
        (_node("node_relu_1", "['', 'features', 'relu_1']"), None, "features"),
        (_node("node_relu_1", "['', 'layer1', '0', 'relu', 'relu_1']"), None, "layer1.0.relu"),
        # newer torch records each level's full path: joining them gave layer1.layer1.0.layer1.0.relu
        (_node("node_relu_1", "['', 'layer1', 'layer1.0', 'layer1.0.relu', 'relu_1']"), None, "layer1.0.relu"),
        (_node("/features/relu/Relu"), "w_not_a_path", "features.relu"),
        (_node("node_relu_1"), None, "relu"),
        # TorchScript outside any module (a design's top-level merge) names only the operator, as dynamo does
        (_node("/Relu"), None, "relu"),
        (_node("/Relu_3"), None, "relu"),
        (_node("Relu"), None, "relu"),
        (_node("/Relu6"), None, "Relu6"),  # a name that is more than the operator is kept
        (_node("my_relu"), None, "my_relu"),
        (_node("/features/1/Relu"), None, "features.1"),
        (_node("/features/class/Relu"), None, "relu"),  # a keyword cannot be a module attribute
    ],
)
def test_node_id_prefers_weight_path_then_scope_then_name(node, weight, want):
    assert _builder(node).node_id_for(node, weight) == want


def test_static_sample_shape():
    assert static_sample_shape(["batch", 3, 8, 8]) == [3, 8, 8]
    assert static_sample_shape([1, "h", 8]) is None
    assert static_sample_shape([1, 0]) is None
    assert static_sample_shape(None) is None


@pytest.mark.parametrize(
    "levels",
    [
        ["features", "1", "conv", "0", "0"],  # one name per level
        ["features", "features.1", "features.1.conv", "features.1.conv.0", "features.1.conv.0.0"],  # full paths
        ["features", "features.1", "conv", "conv.0", "conv.0.0"],  # TorchScript on MobileNetV2: path in the parent
    ],
    ids=["names", "paths", "parent_paths"],
)
def test_module_path_reads_every_way_exporters_write_scopes(levels):
    assert module_path(levels) == "features.1.conv.0.0"
