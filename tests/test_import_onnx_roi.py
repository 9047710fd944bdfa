"""ONNX's RoI operators come back as RoIPool / RoIAlign, the rows' preparation folded in: hand-built files (the
index clamp our exporters write, RoiAlign's split of index and boxes as torchvision's translation writes it, at
opsets 11 and 16), compared with onnxruntime; torchvision's own modules and a RoIAlign design through torch's
exporters; and preparations that are not the rows, refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torchvision
from onnx import TensorProto, helper, numpy_helper

import designer
from designer.importers import ImportResult, ModelImportError, import_source
from tests.helpers import graph
from tests.test_import_onnx_ops import _save as save_onnx

#: Valid rows on a batch of 3: every image, fractional corners, one box past the 12x12 map's edge.
ROWS = np.array([[0, 1, 2, 9.5, 7], [1, 0.5, 0.25, 8.7, 8], [2, 3, 1, 11, 9.5], [1, 4, 4, 15, 13]], np.float32)


def _save(path: Path, nodes: list[onnx.NodeProto], consts: dict[str, np.ndarray], opset: int) -> Path:
    return save_onnx(path, nodes, consts, ["N", 3, 12, 12], opset, more_inputs={"rows": ["R", 5]})


def _import_and_compare(path: Path) -> ImportResult:
    """Import ``path``; the design's outputs on a batch of 3 and ``ROWS`` equal onnxruntime's (1e-5)."""
    result = import_source(f"onnx:{path}")
    module = designer.compile(result.graph).eval()
    module.load_state_dict(result.state_dict, strict=True)
    x = np.random.default_rng(1).standard_normal((3, 3, 12, 12)).astype(np.float32)
    (want,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x, "rows": ROWS})
    with torch.no_grad():
        got = module(torch.from_numpy(x), torch.from_numpy(ROWS)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    return result


def _clamped_rows(out: str) -> tuple[list[onnx.NodeProto], dict[str, np.ndarray]]:
    """The designer's index clamp as the TorchScript exporter writes it: Slice, Round, Clip to Shape(x)[0] - 1."""
    i64 = np.int64
    nodes = [
        helper.make_node("Slice", ["rows", "zero", "one", "one"], ["index"]),
        helper.make_node("Round", ["index"], ["rounded"]),
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero_scalar"], ["batch"], axis=0),
        helper.make_node("Sub", ["batch", "one_scalar"], ["last"]),
        helper.make_node("Cast", ["last"], ["last_f"], to=TensorProto.FLOAT),
        helper.make_node("Clip", ["rounded", "zero_f", "last_f"], ["clamped"]),
        helper.make_node("Slice", ["rows", "one", "five", "one"], ["boxes"]),
        helper.make_node("Concat", ["clamped", "boxes"], ["joined"], axis=1),
        helper.make_node("Cast", ["joined"], [out], to=TensorProto.FLOAT),
    ]
    consts = {"zero": np.array([0], i64), "one": np.array([1], i64), "five": np.array([5], i64)}
    consts |= {"zero_scalar": np.array(0, i64), "one_scalar": np.array(1, i64), "zero_f": np.array(0, np.float32)}
    return nodes, consts


def test_max_roi_pool_after_the_index_clamp_is_one_roipool(tmp_path):
    nodes, consts = _clamped_rows("rois")
    nodes.append(helper.make_node("MaxRoiPool", ["x", "rois"], ["y"], pooled_shape=[2, 3], spatial_scale=0.5))
    result = _import_and_compare(_save(tmp_path / "pool.onnx", nodes, consts, 17))
    assert [(n.type, n.params, n.inputs) for n in result.graph][2:] == [
        ("RoIPool", {"output_size": [2, 3], "spatial_scale": 0.5}, ["x", "rows"])
    ]


def _split_rows(gather: bool) -> tuple[list[onnx.NodeProto], dict[str, np.ndarray]]:
    """RoiAlign's batch indices and boxes from the rows: torchvision's translation (Gather of columns) or ours
    (Slice); both Squeeze the index column and Cast it to int64."""
    i64 = np.int64
    if gather:
        take = [
            helper.make_node("Gather", ["rows", "first"], ["index_col"], axis=1),
            helper.make_node("Gather", ["rows", "box_cols"], ["boxes"], axis=1),
        ]
    else:
        take = [
            helper.make_node("Slice", ["rows", "first", "one", "one"], ["index_col"]),
            helper.make_node("Slice", ["rows", "one", "five", "one"], ["boxes"]),
        ]
    nodes = [
        *take,
        helper.make_node("Squeeze", ["index_col", "one"], ["index_f"]),
        helper.make_node("Cast", ["index_f"], ["index"], to=TensorProto.INT64),
    ]
    consts = {"first": np.array([0], i64), "one": np.array([1], i64), "five": np.array([5], i64)}
    return nodes, consts | ({"box_cols": np.array([1, 2, 3, 4], i64)} if gather else {})


@pytest.mark.parametrize(
    ("opset", "mode", "gather", "want"),
    [
        (16, "half_pixel", True, {"aligned": True}),
        (16, "output_half_pixel", False, {}),
        (11, None, True, {}),  # before opset 16 RoiAlign had no mode, and sampled as output_half_pixel
    ],
)
def test_roi_align_after_the_index_split_is_one_roialign(tmp_path, opset, mode, gather, want):
    nodes, consts = _split_rows(gather)
    if opset < 13:
        nodes[-2] = helper.make_node("Squeeze", ["index_col"], ["index_f"], axes=[1])
    attrs = {"output_height": 3, "output_width": 2, "spatial_scale": 0.5, "sampling_ratio": 2}
    attrs |= {"coordinate_transformation_mode": mode} if mode else {}
    nodes.append(helper.make_node("RoiAlign", ["x", "boxes", "index"], ["y"], **attrs))
    result = _import_and_compare(_save(tmp_path / "align.onnx", nodes, consts, opset))
    params = {"output_size": [3, 2], "spatial_scale": 0.5, "sampling_ratio": 2} | want
    assert [(n.type, n.params, n.inputs) for n in result.graph][2:] == [("RoIAlign", params, ["x", "rows"])]


def test_roi_align_with_adaptive_sampling_is_torchvisions_default(tmp_path):
    nodes, consts = _split_rows(gather=False)
    nodes.append(helper.make_node("RoiAlign", ["x", "boxes", "index"], ["y"], output_height=2, output_width=2))
    result = _import_and_compare(_save(tmp_path / "align.onnx", nodes, consts, 16))
    assert [(n.type, n.params) for n in result.graph][2:] == [("RoIAlign", {"output_size": 2, "aligned": True})]


def test_preparations_that_change_the_rows_are_refused(tmp_path):
    """A clamp to a fixed index 0 (not the batch), and RoiAlign's indices from rows other than its boxes': neither
    is folded, so the import fails naming the preparation."""
    nodes, consts = _clamped_rows("rois")
    nodes[6] = helper.make_node("Clip", ["rounded", "zero_f", "zero_f"], ["clamped"])
    nodes.append(helper.make_node("MaxRoiPool", ["x", "rois"], ["y"], pooled_shape=[2, 2]))
    with pytest.raises(ModelImportError) as error:
        import_source(f"onnx:{_save(tmp_path / 'pool.onnx', nodes, consts, 17)}")
    assert any("'rounded' (Round)" in p for p in error.value.problems)
    assert any(p.startswith("ONNX node 'y' (MaxRoiPool): its boxes are computed") for p in error.value.problems)
    nodes, consts = _split_rows(gather=False)
    nodes[0] = helper.make_node("Slice", ["others", "first", "one", "one"], ["index_col"])
    nodes.append(helper.make_node("RoiAlign", ["x", "boxes", "index"], ["y"], output_height=2, output_width=2))
    graph_proto = helper.make_graph(
        nodes,
        "roi",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 12, 12]),
            helper.make_tensor_value_info("rows", TensorProto.FLOAT, ["R", 5]),
            helper.make_tensor_value_info("others", TensorProto.FLOAT, ["R", 5]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in consts.items()],
    )
    path = tmp_path / "split.onnx"
    onnx.save(helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 16)]), path)
    with pytest.raises(ModelImportError) as error:
        import_source(f"onnx:{path}")
    assert any("'index' (Cast)" in p for p in error.value.problems)  # not folded: its preparation stays unmapped
    assert any(p.startswith("ONNX node 'y' (RoiAlign): its boxes are computed") for p in error.value.problems)


class _TorchvisionRoIs(torch.nn.Module):
    """torchvision's own RoI modules on a map, as a user would export them."""

    def __init__(self, aligned: bool) -> None:
        super().__init__()
        self.align = torchvision.ops.RoIAlign([3, 2], 0.5, sampling_ratio=2, aligned=aligned)
        self.pool = torchvision.ops.RoIPool(2, 0.5)

    def forward(self, x: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.align(x, rows), self.pool(x, rows)


@pytest.mark.parametrize("opset", [11, 16])
def test_torchvision_modules_through_torchscript_come_back(tmp_path, opset):
    """torchvision's ONNX translations: RoiAlign from Gather/Squeeze/Cast (aligned only from opset 16: before, the
    file samples as aligned=False, which is what comes back), MaxRoiPool on the rows."""
    aligned = opset >= 16
    model = _TorchvisionRoIs(aligned).eval()
    x, rows = torch.randn(3, 3, 12, 12), torch.from_numpy(ROWS)
    path = tmp_path / "tv.onnx"
    names = {"input_names": ["x", "rows"], "dynamic_axes": {"x": {0: "N"}, "rows": {0: "R"}}}
    torch.onnx.export(model, (x, rows), str(path), dynamo=False, opset_version=opset, **names)
    result = import_source(f"onnx:{path}")
    align = {"output_size": [3, 2], "spatial_scale": 0.5, "sampling_ratio": 2} | ({"aligned": True} if aligned else {})
    assert [(n.type, n.params, n.inputs) for n in result.graph][2:] == [
        ("RoIAlign", align, ["x", "rows"]),
        ("RoIPool", {"output_size": 2, "spatial_scale": 0.5}, ["x", "rows"]),
    ]
    with torch.no_grad():
        got = designer.compile(result.graph).eval()(x, rows)
        want = _TorchvisionRoIs(aligned).eval()(x, rows)
    assert all(torch.allclose(g, w, atol=1e-6) for g, w in zip(got, want, strict=True))


def _roi_design() -> designer.Graph:
    align = {"output_size": [3, 2], "spatial_scale": 0.5, "sampling_ratio": 2, "aligned": True}
    return graph(
        ("img", "Input", {"shape": [3, 16, 16]}, []),
        ("boxes", "Input", {"shape": [5]}, []),
        ("conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}, ["img"]),
        ("align", "RoIAlign", align, ["conv", "boxes"]),
        ("pool", "RoIPool", {"output_size": 2}, ["conv", "boxes"]),
        outputs=["align", "pool"],
    )


@pytest.mark.parametrize(
    "exporter", ["torchscript", "torchscript-fixed", pytest.param("designer", marks=pytest.mark.slow)]
)
def test_a_roi_align_design_round_trips(tmp_path, exporter):
    """A design with RoIAlign (and RoIPool on the same rows) exported by torch's TorchScript exporter (batch dynamic
    or fixed) or by the designer's own (dynamo, with its RoiAlign translation) imports as the same nodes, params and
    values."""
    from designer.export import export

    design = _roi_design()
    module = designer.compile(design, seed=0).eval()
    path = tmp_path / "roi.onnx"
    x, rows = torch.randn(3, 3, 16, 16), torch.from_numpy(ROWS)
    if exporter == "designer":
        export(design, path, "onnx", seed=0)
    else:
        names = {"input_names": ["img", "boxes"], "output_names": ["align", "pool"]}
        # output names given: without them the exporter reads the module's ``graph``, which is the design
        if exporter != "torchscript-fixed":  # fixed, the clamp's batch is a constant (onnxruntime folds the Shape)
            names["dynamic_axes"] = {"img": {0: "N"}, "boxes": {0: "R"}}
        torch.onnx.export(module, (x, rows), str(path), dynamo=False, **names)
    result = import_source(f"onnx:{path}")
    assert [(n.type, n.params, n.inputs) for n in result.graph] == [(n.type, n.params, n.inputs) for n in design]
    back = designer.compile(result.graph).eval()
    back.load_state_dict(result.state_dict, strict=True)
    with torch.no_grad():
        assert all(torch.allclose(g, w, atol=1e-6) for g, w in zip(back(x, rows), module(x, rows), strict=True))
