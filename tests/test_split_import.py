"""A Split comes back from what others wrote: ``x.chunk`` / ``torch.split`` in a forward (torch.fx) and an ONNX
``Split`` in each of its forms (opset 11's attribute, opset 13's input, opset 18's ``num_outputs``) become one Split
node whose readers name its ports; outputs are checked against the module and onnxruntime. A design with Splits
exported to ONNX imports back as the same design."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torchvision
from onnx import TensorProto, helper, numpy_helper
from torch import nn

import designer
from designer.export import export_onnx
from designer.importers import ImportResult, ModelImportError, import_source
from designer.importers.fx_import import import_module
from tests.helpers import graph


def _nodes(result: ImportResult, *types: str) -> list[tuple[str, str, dict[str, Any], list[str]]]:
    return [(n.id, n.type, n.params, list(n.inputs)) for n in result.graph if not types or n.type in types]


def _same_as_module(result: ImportResult, model: nn.Module, shape: list[int]) -> None:
    design = designer.compile(result.graph).eval()
    design.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        got, want = design(x), model.eval()(x)
    got, want = (t if isinstance(t, tuple) else (t,) for t in (got, want))
    assert len(got) == len(want) and all(torch.equal(a, b) for a, b in zip(got, want))


class Halves(nn.Module):
    """ShuffleNetV2's unit as a course writes it: unpack two halves, convolve one, join them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)
        self.branch = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.conv(x).chunk(2, dim=1)
        return torch.cat([a, self.branch(b)], dim=1)


def test_a_chunk_unpacked_into_two_names_is_one_split_read_by_port():
    model = Halves()
    result = import_module(model, [3, 6, 6])
    assert _nodes(result, "Split", "Conv2d", "Concat") == [
        ("conv", "Conv2d", {"out_channels": 8, "kernel_size": 1}, ["x"]),
        ("split", "Split", {}, ["conv"]),
        ("branch", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, ["split:1"]),
        ("concat", "Concat", {}, ["split", "branch"]),
    ]
    assert "Slice" not in [n.type for n in result.graph]
    _same_as_module(result, model, [3, 6, 6])


class Sections(nn.Module):
    """``torch.split`` by a list, ``x.split`` by an int size that leaves a smaller last part, a chunk of 5 into 2
    (3 + 2) along the last dimension, and parts returned as they are."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        y = self.conv(x)
        p, q = torch.split(y, [2, 6], 1)
        r = y.split(3, dim=1)
        s, t = y.chunk(2, -1)
        return p.relu(), q, r[0] + r[1], r[2], s, t.sigmoid()


def test_split_by_sections_or_by_size_gives_the_sections_torch_cuts():
    model = Sections()
    result = import_module(model, [3, 4, 5])
    assert _nodes(result, "Split") == [
        ("split", "Split", {"sections": [2, 6]}, ["conv"]),
        ("split_1", "Split", {"sections": [3, 3, 2]}, ["conv"]),
        ("split_2", "Split", {"dim": 3, "sections": [3, 2]}, ["conv"]),
    ]
    assert result.graph.output_ids()[1] == "split:1" and result.graph.output_ids()[3] == "split_1:2"
    assert designer.analyze(result.graph).errors == []
    _same_as_module(result, model, [3, 4, 5])


class SomeParts(nn.Module):
    """Parts 0 and 2 of four taken by index (1 and 3 dropped), and one part alone of another split."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        parts = y.chunk(4, 1)
        return parts[0] * parts[-2] + y.split([2, 6], 1)[0]


def test_only_some_parts_taken_a_split_with_unread_parts_or_a_slice_for_one():
    model = SomeParts()
    result = import_module(model, [3, 4, 4])
    assert _nodes(result, "Split", "Slice", "Mul") == [
        ("split", "Split", {"chunks": 4}, ["conv"]),
        ("mul", "Mul", {}, ["split", "split:2"]),
        ("slice", "Slice", {"end": 2}, ["conv"]),
    ]
    unread = [d for d in designer.analyze(result.graph).diagnostics if d.code == "graph.unused_part"]
    assert [(d.node_id, d.severity.name) for d in unread] == [("split", "WARNING")]
    _same_as_module(result, model, [3, 4, 4])


class BatchHalves(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, 0)
        return a + b


class SeveralAtOnce(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(x.chunk(4, 1)[1:], 1)


@pytest.mark.parametrize("model, what", [(BatchHalves(), "Tensor.chunk"), (SeveralAtOnce(), "operator.getitem")])
def test_a_split_of_the_batch_or_parts_taken_by_a_slice_are_named_not_mapped(model, what):
    with pytest.raises(ModelImportError) as info:
        import_module(model, [4, 3, 3])
    assert [p.split(" in ")[0].strip() for p in info.value.problems] == [what]


@pytest.mark.slow
def test_torchvision_shufflenet_halves_are_splits_with_strict_state_dict_and_equal_outputs():
    torch.manual_seed(0)
    model = torchvision.models.shufflenet_v2_x0_5(weights=None).eval()
    result = import_module(model, [3, 32, 32], "shufflenet_v2_x0_5")
    splits = _nodes(result, "Split")
    assert len(splits) == 13 and all(params == {} for _, _, params, _ in splits)  # every unit but a stage's first
    assert "Slice" not in [n.type for n in result.graph]
    _same_as_module(result, model, [3, 32, 32])


# -- ONNX -------------------------------------------------------------------------------------------------------------


def _save(
    path: Path,
    nodes: list[onnx.NodeProto],
    consts: dict[str, np.ndarray],
    shape: list[Any],
    opset: int,
    outputs: list[str],
) -> Path:
    """A hand-built file with input ``x`` of ``shape`` and the given ``outputs``."""
    g = helper.make_graph(
        nodes,
        "hand_built",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
        [numpy_helper.from_array(v, k) for k, v in consts.items()],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def _same_as_onnxruntime(path: Path, result: ImportResult, shape: list[int]) -> None:
    module = designer.compile(result.graph).eval()
    module.load_state_dict(result.state_dict, strict=True)
    x = np.random.default_rng(1).standard_normal([2, *shape]).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    with torch.no_grad():
        got = module(torch.from_numpy(x))
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(w).max())))


def _split_then_relu(split: onnx.NodeProto) -> list[onnx.NodeProto]:
    """The Split, then a Relu on its last part; every part but the last and the Relu are the graph's outputs."""
    return [split, helper.make_node("Relu", [split.output[-1]], ["r"], name="branch")]


@pytest.mark.parametrize(
    "opset, node, consts, want",
    [
        (11, helper.make_node("Split", ["x"], ["a", "b"], name="cut", axis=1, split=[2, 4]), {}, {"sections": [2, 4]}),
        (11, helper.make_node("Split", ["x"], ["a", "b", "c"], name="cut", axis=1), {}, {"chunks": 3}),
        (
            13,
            helper.make_node("Split", ["x", "sizes"], ["a", "b"], name="cut", axis=-3),
            {"sizes": np.array([5, 1], np.int64)},
            {"sections": [5, 1]},
        ),
        (18, helper.make_node("Split", ["x"], ["a", "b"], name="cut", axis=1, num_outputs=2), {}, {}),
        (
            18,
            helper.make_node("Split", ["x"], ["a", "b"], name="cut", axis=3, num_outputs=2),
            {},
            {"dim": 3, "sections": [3, 2]},
        ),
    ],
    ids=["opset11-split-attribute", "opset11-equal", "opset13-split-input", "opset18-num-outputs", "opset18-uneven"],
)
def test_onnx_split_in_each_opset_form_is_one_split_node(tmp_path, opset, node, consts, want):
    outputs = [*node.output[:-1], "r"]
    path = _save(tmp_path / "split.onnx", _split_then_relu(node), consts, ["N", 6, 4, 5], opset, outputs)
    result = import_source(f"onnx:{path}")
    last = len(node.output) - 1
    assert _nodes(result)[1:] == [
        ("cut", "Split", want, ["x"]),
        ("branch", "ReLU", {}, [f"cut:{last}"]),
    ]
    assert result.graph.output_ids() == ["cut", *[f"cut:{k}" for k in range(1, last)], "branch"]
    _same_as_onnxruntime(path, result, [6, 4, 5])


# -- ONNX export round trip -------------------------------------------------------------------------------------------


def test_a_design_with_splits_exports_to_onnx_and_imports_back_as_the_same_design(tmp_path):
    g = graph(
        ("x", "Input", {"shape": [8, 6, 6]}, []),
        ("unit.split", "Split", {}, ["x"]),
        ("unit.conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, ["unit.split:1"]),
        ("unit.cat", "Concat", {}, ["unit.split", "unit.conv"]),
        ("unit.shuffle", "ChannelShuffle", {"groups": 2}, ["unit.cat"]),
        ("head", "Split", {"sections": [3, 5]}, ["unit.shuffle"]),
        ("thirds", "Split", {"dim": 3, "chunks": 3}, ["head:1"]),
        ("mul", "Mul", {}, ["thirds", "thirds:2"]),
        ("halves", "Split", {"dim": 2}, ["unit.shuffle"]),  # read by Splits only
        ("top", "Split", {"dim": 3}, ["halves"]),
        ("bottom", "Split", {"dim": 3, "sections": [2, 4]}, ["halves:1"]),
    )
    g.outputs = ["head", "mul", "thirds:1", "top", "top:1", "bottom", "bottom:1"]
    path = tmp_path / "splits.onnx"
    export_onnx(g, path, seed=0)
    result = import_source(f"onnx:{path}")
    assert sorted(_nodes(result)) == sorted((n.id, n.type, n.params, list(n.inputs)) for n in g)
    assert result.graph.output_ids() == g.output_ids()
    _same_as_onnxruntime(path, result, [8, 6, 6])
