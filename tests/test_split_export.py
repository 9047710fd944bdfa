"""A Split's parts through the exports: the Python file unpacks them (``x1, x2 = x.chunk(2, 1)``) and a group may
take or give one part; TorchScript and ONNX give each part's values as the compiled module does."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch

from designer.compiler import compile_graph
from designer.export import export_onnx, export_torchscript
from designer.model.graph import Graph
from tests.helpers import graph, randomize_norms
from tests.test_export import jit_load, random_inputs, torch_outputs
from tests.test_export_python import check_same_layers, exported_model, outputs


def _block(prefix: str, src: str, channels: int) -> list[tuple[str, str, dict[str, Any], list[str]]]:
    """ShuffleNetV2's unit without downsampling: half the channels pass, half go through a branch."""
    half = channels // 2
    return [
        (f"{prefix}.split", "Split", {}, [src]),
        (
            f"{prefix}.branch.0",
            "Conv2d",
            {"out_channels": half, "kernel_size": 1, "bias": False},
            [f"{prefix}.split:1"],
        ),
        (f"{prefix}.branch.1", "BatchNorm2d", {}, [f"{prefix}.branch.0"]),
        (f"{prefix}.branch.2", "ReLU", {}, [f"{prefix}.branch.1"]),
        (f"{prefix}.cat", "Concat", {}, [f"{prefix}.split", f"{prefix}.branch.2"]),
        (f"{prefix}.shuffle", "ChannelShuffle", {"groups": 2}, [f"{prefix}.cat"]),
    ]


def shuffle_graph() -> Graph:
    """Two identical ShuffleNetV2 units in a stage, then a head with unequal sections."""
    nodes = [("x", "Input", {"shape": [8, 6, 6]}, [])]
    nodes += _block("stage.0", "x", 8) + _block("stage.1", "stage.0.shuffle", 8)
    nodes += [("head", "Split", {"sections": [3, 5]}, ["stage.1.shuffle"])]
    nodes += [("conv", "Conv2d", {"out_channels": 2, "kernel_size": 1}, ["head:1"])]
    g = graph(*nodes)
    g.outputs = ["conv", "head"]
    return g


def parts_graph() -> Graph:
    """Parts that leave their group: one is read outside, one is a design output, one is not used at all."""
    g = graph(
        ("x", "Input", {"shape": [6, 4]}, []),
        ("body.split", "Split", {"chunks": 3}, ["x"]),
        ("body.fc", "Linear", {"out_features": 4}, ["body.split"]),
        ("tail", "Tanh", {}, ["body.split:1"]),
        ("merge", "Add", {}, ["tail", "body.fc"]),
        ("last", "Split", {"sections": [1, 3], "dim": 2}, ["merge"]),
    )
    g.outputs = ["merge", "last:1"]
    return g


DESIGNS = [pytest.param(shuffle_graph, id="shuffle"), pytest.param(parts_graph, id="parts")]


@pytest.mark.parametrize("make", DESIGNS)
def test_python_export_of_parts_loads_compiled_weights_and_matches(make, tmp_path):
    g = make()
    compiled = randomize_norms(compile_graph(g, seed=3))
    exported, source = exported_model(g, tmp_path)
    exported.load_state_dict(compiled.state_dict(), strict=True)
    check_same_layers(exported, compiled)
    inputs = random_inputs(g, 2)
    got, want = outputs(exported.eval(), inputs), outputs(compiled.eval(), inputs)
    assert len(got) == len(want) == len(g.outputs)
    assert all(torch.equal(a, b) for a, b in zip(got, want))


def test_python_export_unpacks_the_parts_and_shares_one_class_for_identical_units(tmp_path):
    _, source = exported_model(shuffle_graph(), tmp_path)
    assert "split, split_1 = x.chunk(2, 1)" in source, source
    assert source.count(".chunk(") == 1, source  # the two units are one class
    assert "torch.split(" in source and "[3, 5]" in source, source


def test_python_export_names_each_part_a_group_gives(tmp_path):
    _, source = exported_model(parts_graph(), tmp_path)
    assert ".chunk(3, 1)" in source, source
    assert "[N, 2, 4], [N, 2, 4], [N, 2, 4]" in source, source  # each part's shape beside the line that cuts
    assert "torch.split(merge, [1, 3], 2)" in source, source


@pytest.mark.parametrize("make", DESIGNS)
def test_torchscript_and_onnx_give_every_part(make, tmp_path):
    g = make()
    module = randomize_norms(compile_graph(g, seed=1)).eval()
    export_torchscript(g, tmp_path / "m.pt", module=module)
    loaded = jit_load(tmp_path / "m.pt")
    export_onnx(g, tmp_path / "m.onnx", module=module)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        inputs = random_inputs(g, batch, seed=batch)
        want = torch_outputs(module, inputs)
        assert len(want) == len(g.outputs)
        for a, b in zip(torch_outputs(loaded, inputs), want, strict=True):
            assert np.allclose(a, b, rtol=1e-5, atol=1e-6)
        got = session.run(None, {i: x.numpy() for i, x in zip(g.input_ids(), inputs)})
        for a, b in zip(got, want, strict=True):
            assert a.shape == b.shape and np.abs(a - b).max() <= 1e-4
