"""RoIPool and RoIAlign against torchvision.ops (see tests/layer_harness.py), their values, ONNX and the palette."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torchvision
from hypothesis import strategies as st

import designer
from designer.export.onnx_model import export_onnx, run_onnx
from designer.export.python_source import python_source
from tests.helpers import graph
from tests.layer_harness import BATCH, INPUTS, MAP_RANKS, REFERENCES, Case, pair, run_property, sample_shape

_SCALE = st.sampled_from([1.0, 0.5, 0.25, 0.0625])


@st.composite
def _roi(draw: Any, type_: str) -> Case:
    """A map (mostly [C, H, W]) and boxes (mostly rows of 5; sometimes 4 or 6: torchvision and the designer refuse)."""
    shape = draw(sample_shape(MAP_RANKS))
    boxes = draw(st.sampled_from([(5,)] * 6 + [(4,), (6,)]))
    params: dict[str, Any] = {"output_size": draw(pair(1, 7))}
    if draw(st.booleans()):
        params["spatial_scale"] = draw(_SCALE)
    if type_ == "RoIAlign":
        params.update(draw(st.fixed_dictionaries({}, optional={"sampling_ratio": st.integers(-1, 3)})))
        params.update(draw(st.fixed_dictionaries({}, optional={"aligned": st.booleans()})))
    return Case(type_, params, (shape, boxes))


def _boxes(shapes: tuple[tuple[int, ...], ...]) -> list[torch.Tensor]:
    """A batch of 2 maps and 2 boxes (as many as the batch: the harness reads the output's leading size as the
    batch) inside the map's pixels, each on its own image."""
    fmap = torch.randn(BATCH, *shapes[0])
    if shapes[1] != (5,):
        return [fmap, torch.rand(BATCH, *shapes[1])]
    h, w = (shapes[0][1], shapes[0][2]) if len(shapes[0]) == 3 else (4, 4)
    x1, y1 = torch.rand(BATCH) * w / 2, torch.rand(BATCH) * h / 2
    rows = torch.stack([torch.arange(BATCH).float(), x1, y1, x1 + w / 2, y1 + h / 2], dim=1)
    return [fmap, rows]


def _reference(type_: str) -> Any:
    def run(params: dict[str, Any], xs: list[torch.Tensor]) -> tuple[torch.nn.Module, torch.Tensor]:
        params = {"spatial_scale": 1.0, **params}
        if type_ == "RoIAlign":
            params = {"sampling_ratio": -1, **params}
        module = getattr(torchvision.ops, type_)(**params)
        return module, module(*xs)

    return run


for _type in ("RoIPool", "RoIAlign"):
    INPUTS[_type] = _boxes
    REFERENCES[_type] = _reference(_type)

STRATEGIES: dict[str, st.SearchStrategy] = {"RoIPool": _roi("RoIPool"), "RoIAlign": _roi("RoIAlign")}

EDGES = [
    ("RoIPool", {"output_size": 7, "spatial_scale": 0.0625}, [(8, 4, 4), (5,)]),  # Fast R-CNN: 7x7 on a /16 map
    ("RoIAlign", {"output_size": [2, 3], "sampling_ratio": 2, "aligned": True}, [(3, 5, 6), (5,)]),
    ("RoIPool", {"output_size": 2}, [(3, 5, 6), (4,)]),  # boxes without their batch index
]


@pytest.mark.parametrize("type_name", list(STRATEGIES))
def test_layer_agrees_with_torch(type_name: str) -> None:
    run_property(type_name, STRATEGIES[type_name], 20, EDGES)


def _design(type_: str, params: dict[str, Any]) -> designer.Graph:
    return graph(
        ("img", "Input", {"shape": [3, 16, 16]}, []),
        ("boxes", "Input", {"shape": [5]}, []),
        ("conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}, ["img"]),
        ("roi", type_, params, ["conv", "boxes"]),
    )


#: Boxes in image pixels on a batch of 3: one past the image, one with fractional corners, one on the last image.
BOXES = torch.tensor([[0, 1.0, 2, 20, 30], [1, 0.5, 0.25, 8.7, 8], [2, 3, 1, 11, 9.5]])
CASES = [
    ("RoIPool", {"output_size": [2, 3], "spatial_scale": 0.5}),
    ("RoIAlign", {"output_size": 3, "spatial_scale": 0.5, "sampling_ratio": 2, "aligned": True}),
    ("RoIAlign", {"output_size": 2, "spatial_scale": 0.5}),
]


@pytest.mark.parametrize(("type_", "params"), CASES)
def test_values_equal_torchvision(type_: str, params: dict[str, Any]) -> None:
    design = _design(type_, params)
    model = designer.compile(design, seed=0).eval()
    x = torch.randn(3, 3, 16, 16)
    kwargs = {"spatial_scale": 1.0, **params, "output_size": params["output_size"]}
    if type_ == "RoIAlign":
        kwargs.setdefault("sampling_ratio", -1)
    reference = getattr(torchvision.ops, type_)(**kwargs)
    with torch.no_grad():
        want = reference(model.conv(x), BOXES)
        assert torch.equal(model(x, BOXES), want)
    assert designer.analyze(design).shape("roi") == tuple(want.shape[1:])


@pytest.mark.slow
def test_onnx_export_matches_onnxruntime(tmp_path: Any) -> None:
    """Both layers in one design (an export costs seconds): MaxRoiPool and RoiAlign against torch's values."""
    design = _design(*CASES[0])
    design.add_node(designer.Node(designer.NodeId("align"), CASES[1][0], dict(CASES[1][1]), ["conv", "boxes"]))
    model = designer.compile(design, seed=0).eval()
    onnx_model = export_onnx(design, tmp_path / "roi.onnx", module=model)  # also checks random inputs at batch 1, 3
    assert {"MaxRoiPool", "RoiAlign"} <= {n.op_type for n in onnx_model.graph.node}
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        want = model(x, BOXES)
    got = run_onnx(onnx_model, (x, BOXES))
    assert len(got) == 2 and all(torch.allclose(g, w, atol=1e-5) for g, w in zip(got, want, strict=True))


def test_python_export_runs_alone() -> None:
    design = _design("RoIAlign", {"output_size": 2, "spatial_scale": 0.5})
    namespace: dict[str, Any] = {}
    exec(compile(python_source(design), "roi_model.py", "exec"), namespace)
    model = designer.compile(design, seed=0).eval()
    exported = namespace["Test"]().eval()
    exported.load_state_dict(model.state_dict())
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(exported(x, BOXES), model(x, BOXES))


def test_boxes_must_be_rows_of_five() -> None:
    design = _design("RoIPool", {"output_size": 2})
    design["boxes"].params["shape"] = [4]
    errors = designer.analyze(design).errors
    assert [(d.code, d.node_id, d.port) for d in errors] == [("shape.roi_boxes", "roi", 1)]


@pytest.mark.slow
def test_onnx_max_roi_pool_imports_as_roipool(tmp_path: Any) -> None:
    """A MaxRoiPool model written with onnx.helper (not by our exporter) imports, and computes onnxruntime's values."""
    import onnx
    from onnx import TensorProto, helper

    from designer.importers.onnx_import import import_onnx

    node = helper.make_node("MaxRoiPool", ["x", "rois"], ["y"], pooled_shape=[2, 3], spatial_scale=0.5)
    graph_proto = helper.make_graph(
        [node],
        "roi",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 8, 8]),
            helper.make_tensor_value_info("rois", TensorProto.FLOAT, ["R", 5]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["R", 4, 2, 3])],
    )
    path = tmp_path / "roi.onnx"
    onnx.save(helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    result = import_onnx(str(path))
    roi = next(n for n in result.graph if n.type == "RoIPool")
    assert roi.params == {"output_size": [2, 3], "spatial_scale": 0.5}
    x = torch.randn(3, 4, 8, 8)
    model = designer.compile(result.graph).eval()
    with torch.no_grad():
        got = model(x, BOXES)
    (want,) = run_onnx(onnx.load(str(path)), (x, BOXES))
    assert torch.equal(got, want)


@pytest.mark.slow
def test_a_fresh_process_exports_the_fast_rcnn_template_to_torchscript(tmp_path):
    """torchvision's operators load when a RoI layer is built: loaded in the middle of a trace they broke it
    ("unsupported output type: int, from operator: torchvision::_cuda_version")."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "frc.pt"
    cmd = [sys.executable, "-m", "designer", "export", str(root / "templates" / "fast_rcnn_shapes.json")]
    done = subprocess.run([*cmd, "-f", "torchscript", "-o", str(out)], capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr
    assert "traced" in done.stdout and out.stat().st_size > 0
