"""The validator's head checks against the training section's task: codes, the output node, and hints that work."""

from __future__ import annotations

import pytest

from designer import analyze
from designer.analysis.heads import SHAPE_CLASS_COUNT
from designer.training.api import Failed, TrainConfig, Trainer
from designer.training.config import DETECTION_DEFAULTS
from designer.training.shapes import SHAPE_CLASSES
from tests.helpers import chain

CONV = ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1})


def _with(graph, **section):
    graph.extra["training"] = section
    return graph


def _head(graph):
    return [(d.code, d.node_id) for d in analyze(graph).diagnostics if d.code.startswith("head.")]


def test_a_strided_segmentation_head_is_told_the_up_sampling_that_fixes_it():
    down = ("Conv2d", {"out_channels": 3, "kernel_size": 4, "stride": 4})
    g = _with(chain([1, 16, 16], CONV, down), task="segmentation", data="shapes:2")
    [problem] = [d for d in analyze(g).diagnostics if d.code.startswith("head.")]
    assert (problem.code, problem.node_id) == ("head.segmentation_size", "n2")
    assert "ConvTranspose2d with kernel_size 4 and stride 4" in problem.hint
    fixed = chain([1, 16, 16], CONV, down, ("ConvTranspose2d", {"out_channels": 3, "kernel_size": 4, "stride": 4}))
    assert _head(_with(fixed, task="segmentation", data="shapes:2")) == []


@pytest.mark.parametrize(
    ("layers", "section", "found"),
    [
        ([CONV, ("Flatten", {}), ("Linear", {"out_features": 3})], {"data": "shapes:2"}, "head.segmentation_rank"),
        ([CONV, ("Conv2d", {"out_channels": 4, "kernel_size": 1})], {"data": "shapes:2"}, "head.classes"),
        ([CONV, ("Conv2d", {"out_channels": 4, "kernel_size": 1})], {"data": "folder:/x"}, None),
    ],
)
def test_segmentation_heads(layers, section, found):
    g = _with(chain([1, 16, 16], *layers), task="segmentation", **section)
    assert _head(g) == ([(found, f"n{len(layers)}")] if found else [])


@pytest.mark.parametrize(
    ("channels", "pool", "section", "found"),
    [
        (13, 4, {"data": "shapes-scenes:3"}, None),  # 2 boxes * 5 + 3 classes on the default 4x4 grid
        (12, 4, {"data": "shapes-scenes:3"}, "head.classes"),
        (13, 2, {"data": "shapes-scenes:3"}, "head.detection_grid"),
        (23, 2, {"data": "shapes-scenes:3", "detection": {"grid": 8, "boxes": 4}}, None),
        (9, 4, {"data": "folder:/x"}, "head.classes"),  # not even the boxes' 2 * 5 channels
    ],
)
def test_detection_heads(channels, pool, section, found):
    layers = [CONV, ("MaxPool2d", {"kernel_size": pool}), ("Conv2d", {"out_channels": channels, "kernel_size": 1})]
    g = _with(chain([3, 16, 16], *layers), task="detection", **section)
    assert _head(g) == ([(found, "n3")] if found else [])


def test_classification_designs_are_not_checked():
    g = _with(chain([1, 16, 16], CONV), data="shapes")
    assert _head(g) == []


def test_training_refuses_the_head_the_validator_warns_about(tmp_path):
    g = chain([1, 16, 16], ("Conv2d", {"out_channels": 3, "kernel_size": 2, "stride": 2}))
    cfg = TrainConfig(task="segmentation", data="shapes:2", samples=8, device="cpu", workers=0)
    result = Trainer(g, cfg, run_dir=tmp_path / "r").run()
    assert isinstance(result, Failed) and result.code == "head.segmentation_size"
    assert "ConvTranspose2d with kernel_size 2 and stride 2" in result.hint


def test_the_torch_free_defaults_match_the_training_ones():
    assert SHAPE_CLASS_COUNT == len(SHAPE_CLASSES)
    from designer.analysis.heads import BOXES, GRID

    assert {"grid": GRID, "boxes": BOXES} == DETECTION_DEFAULTS


def test_every_head_code_is_documented():
    from pathlib import Path

    from designer.analysis.heads import CODES
    from designer.analysis.roi_heads import CODES as ROI_CODES

    docs = (Path(__file__).parents[1] / "docs" / "format.md").read_text(encoding="utf-8")
    assert [c for c in {**CODES, **ROI_CODES} if f"`{c}`" not in docs] == []


def test_an_output_that_is_one_part_of_a_split_is_checked_and_tied_to_the_split():
    from tests.helpers import graph

    g = graph(
        ("x", "Input", {"shape": [1, 16, 16]}, []),
        ("conv", "Conv2d", {"out_channels": 6, "kernel_size": 4, "stride": 4}, ["x"]),
        ("parts", "Split", {"sections": [2, 4]}, ["conv"]),
    )
    g.set_outputs(["parts:1"])
    g.extra["training"] = {"task": "segmentation", "data": "shapes:2"}
    problems = [d for d in analyze(g).diagnostics if d.code.startswith("head.")]
    assert {d.node_id for d in problems} == {"parts"}
    [size] = [d for d in problems if d.code == "head.segmentation_size"]
    assert "'parts:1' is 4x4" in size.message
