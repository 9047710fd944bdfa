"""The ONNX export records each graph operation's id as its module scope, so that an import (ours, or any reader of
the dynamo exporter's ``pkg.torch.onnx.name_scopes``) names a residual ``layer1.0.add`` rather than ``add_1``."""

from __future__ import annotations

import ast

import onnx
import pytest
import torch

import designer
from designer.analysis.validate import analyze
from designer.export.onnx_model import export_onnx
from designer.export.onnx_scopes import scoped_module
from designer.importers import import_source
from designer.model.graph import Graph, Node, NodeId


def _design() -> Graph:
    """A residual with a scale, a concatenation, a channels-last round trip and a reshape: every kind of emit."""

    def node(node_id: str, kind: str, params: dict[str, object], *inputs: str) -> Node:
        return Node(NodeId(node_id), kind, params, [NodeId(i) for i in inputs])

    return Graph(
        "scopes",
        [
            node("input", "Input", {"shape": [3, 6, 6]}),
            node("stem", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "input"),
            node("layer1.0.conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "stem"),
            node("layer1.0.add", "Add", {}, "layer1.0.conv", "stem"),
            node("layer1.0.scale", "Mul", {}, "layer1.0.add", "stem"),
            node("merge", "Concat", {}, "layer1.0.scale", "stem"),
            node("block.to_last", "Permute", {"dims": [0, 2, 3, 1]}, "merge"),
            node("block.to_first", "Permute", {"dims": [0, 3, 1, 2]}, "block.to_last"),
            node("head.pool", "AdaptiveAvgPool2d", {"output_size": 1}, "block.to_first"),
            node("head.rows", "Reshape", {"shape": [2, 4]}, "head.pool"),
            node("head.flat", "Flatten", {}, "head.rows"),
            node("head.fc", "Linear", {"out_features": 2}, "head.flat"),
        ],
    )


def test_the_scoped_module_computes_what_the_compiled_one_does_with_the_same_weights():
    g = _design()
    module = designer.compile(g, seed=0).eval()
    scoped = scoped_module(module, analyze(g)).eval()
    assert scoped.state_dict().keys() == module.state_dict().keys()
    assert {name for name, _ in scoped.named_modules()} >= {"layer1.0.add", "merge", "block.to_last", "head.rows"}
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        assert torch.equal(scoped(x), module(x))


@pytest.mark.slow  # the dynamo exporter
def test_an_exported_design_imports_back_with_its_own_ids(tmp_path):
    g = _design()
    path = tmp_path / "scopes.onnx"
    export_onnx(g, path, seed=0, verify=False)  # the import checks the file against onnxruntime itself
    scopes = {
        node.name: ast.literal_eval(p.value)
        for node in onnx.load(path).graph.node
        for p in node.metadata_props
        if p.key == "pkg.torch.onnx.name_scopes"
    }
    assert any("layer1.0.add" in levels for levels in scopes.values())  # the file says it, for any reader
    back = import_source(f"onnx:{path}").graph
    assert [(n.id, n.type, n.inputs) for n in back] == [(n.id, n.type, n.inputs) for n in g]
