"""A detection design with its decode and NMS as one module: equal to ``decode`` in torch, and exported to ONNX
(``export --with-nms``) it gives onnxruntime's NonMaxSuppression the same boxes, scores and labels."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
import torch

from designer.cli import main as cli
from designer.compiler import compile_graph
from designer.export import ExportError, export_onnx
from designer.export.checkpoint import save_checkpoint
from designer.export.onnx_model import run_onnx
from designer.model.fileformat import load
from designer.training.detection import Detections, candidates, decode
from designer.training.detection_predict import OUTPUT_NAMES, DetectionPredictor
from tests.helpers import chain

TINY_YOLO = Path(__file__).resolve().parent.parent / "templates" / "tiny_yolo.json"
SIZE = (64, 64)


def _model(seed: int = 0) -> torch.nn.Module:
    """tiny_yolo freshly initialised, its head's weights scaled up: at initialisation every predictor scores about
    0.05 with one or two classes; scaled, scores spread over 0.007-0.25 and labels over several classes."""
    model = compile_graph(load(TINY_YOLO), seed=seed).eval()
    with torch.no_grad():
        model.get_submodule("head").weight.mul_(100)
    return model


def _images(batch: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 3, *SIZE, generator=torch.Generator().manual_seed(seed))


def _assert_rows_equal(found: tuple[torch.Tensor, ...], want: list[Detections], atol: float) -> None:
    """The padded rows hold each image's detections in ``decode``'s order, then padding."""
    count, boxes, scores, labels = found
    assert count.tolist() == [min(len(w.scores), boxes.shape[1]) for w in want]
    for i, w in enumerate(want):
        k = int(count[i])
        assert torch.allclose(boxes[i, :k], w.boxes[:k], atol=atol, rtol=0)
        assert torch.allclose(scores[i, :k], w.scores[:k], atol=atol, rtol=0)
        assert torch.equal(labels[i, :k], w.labels[:k])
        assert bool((labels[i, k:] == -1).all() and (scores[i, k:] == 0).all() and (boxes[i, k:] == 0).all())


@pytest.mark.parametrize(("threshold", "max_detections"), [(0.01, 100), (0.05, 100), (0.01, 5)])
def test_the_predictor_gives_decodes_detections(threshold, max_detections):
    model = _model()
    predictor = DetectionPredictor(
        model, grid=4, boxes=2, image_size=SIZE, score_threshold=threshold, max_detections=max_detections
    )
    x = _images(4)
    with torch.no_grad():
        out = model(x)
        found = predictor(x)
    want = decode(out, 2, SIZE, score_threshold=threshold)
    _assert_rows_equal(found, want, atol=0)
    assert found[1].shape == (4, min(max_detections, 32), 4)
    # the case is one NMS decides: boxes pass the threshold and are then suppressed, in differing numbers per image
    passing = (candidates(out, 2, SIZE)[1] > threshold).sum(1)
    kept = torch.tensor([len(w.scores) for w in want])
    assert bool((passing > kept).any()) and len(set(kept.tolist())) > 1 and int(passing.sum()) < 4 * 32


@pytest.mark.parametrize("section", [None, {"task": "detection", "detection": {"grid": 4, "boxes": 2}}])
def test_with_nms_refuses_a_design_that_does_not_train_for_detection_or_lacks_the_grid_head(section, tmp_path):
    # 16x16 input, stride 2: an 8x8 grid; the section's is 4x4 (the validator only warns about it)
    graph = chain([1, 16, 16], ("Conv2d", {"out_channels": 12, "kernel_size": 2, "stride": 2}), name="not yolo")
    if section is not None:
        graph.extra["training"] = section
    with pytest.raises(ExportError) as err:
        export_onnx(graph, tmp_path / "m.onnx", seed=0, with_nms=True)
    assert [d.code for d in err.value.diagnostics] == ["export.not_detection"]
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.slow
def test_onnx_with_nms_matches_decode_in_onnxruntime(tmp_path, capsys):
    checkpoint, path = tmp_path / "yolo.pt", tmp_path / "yolo.onnx"
    model = _model(seed=0)
    save_checkpoint(checkpoint, load(TINY_YOLO), model)
    assert cli(["export", str(checkpoint), "-f", "onnx", "-o", str(path), "--with-nms"]) == 0
    assert "decode and NMS" in capsys.readouterr().out
    written = onnx.load(path)
    assert [o.name for o in written.graph.output] == list(OUTPUT_NAMES)
    assert "NonMaxSuppression" in {n.op_type for n in written.graph.node}
    meta = {p.key: p.value for p in written.metadata_props}
    assert json.loads(meta["cnn-designer.nms"])["iou_threshold"] == 0.5
    for batch in (1, 5):
        x = _images(batch, seed=batch)
        got = run_onnx(written, (x,))
        with torch.no_grad():
            want = decode(model(x), 2, SIZE)
        assert sum(len(w.scores) for w in want) > 10 * batch
        _assert_rows_equal(tuple(got), want, atol=1e-4)
