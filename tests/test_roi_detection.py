"""Fast R-CNN's task: proposals and their labels (hand-computed), deltas against torchvision's BoxCoder, the loss,
decoding with NMS, the head check and the config, and the template training through the engine."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.models.detection._utils import BoxCoder
from torchvision.ops import box_iou

from designer import analyze
from designer.editing.templates import load_template
from designer.training import roi_proposals
from designer.training.api import Failed, Finished, Trainer, read_section
from designer.training.config import ConfigError, TrainConfig
from designer.training.roi_detection import RoIBatch, RoIDetectionTask, RoIOutput, decode, fast_rcnn_loss
from designer.training.roi_proposals import (
    DELTA_STD,
    FG_FRACTION,
    decode_deltas,
    encode_deltas,
    grid_proposals,
    label_proposals,
    sample_rois,
)
from designer.training.shapes import make_scenes
from designer.training.task_data import padded_boxes
from tests.helpers import short_run

TRUTH = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 40.0, 40.0]])
TRUTH_LABELS = torch.tensor([2, 5])


def test_proposals_are_labelled_by_their_best_iou_with_the_truth():
    proposals = torch.tensor(
        [
            [0, 0, 10, 10],  # IoU 1 with the first box: its class, 2 + 1
            [0, 0, 10, 20],  # 100 / 200 = 0.5: foreground at exactly the threshold
            [5, 0, 15, 10],  # 50 / 150 = 0.33: background
            [20, 20, 40, 30],  # 200 / 400 = 0.5 with the second box: 5 + 1
            [22, 22, 40, 40],  # 324 / 400 = 0.81
            [50, 50, 60, 60],  # touches nothing
            [0, 0, 12, 12],  # 100 / 144 = 0.69
        ],
        dtype=torch.float32,
    )
    classes, matched = label_proposals(proposals, TRUTH, TRUTH_LABELS)
    assert classes.tolist() == [3, 3, 0, 6, 6, 0, 3]
    assert matched[[0, 1, 6]].eq(TRUTH[0]).all() and matched[[3, 4]].eq(TRUTH[1]).all()
    empty, boxes = label_proposals(proposals, TRUTH[:0], TRUTH_LABELS[:0])
    assert empty.tolist() == [0] * 7 and boxes.shape == (7, 4)


@pytest.mark.parametrize("count", [16, 64])
def test_training_rois_hold_a_fixed_share_of_foreground(monkeypatch, count):
    """Without jitter the candidates are the truth and the grid, so the foreground ones can be counted here: a
    quarter of the RoIs when there are enough of them, all of them when there are fewer."""
    monkeypatch.setattr(roi_proposals, "JITTERS", 0)
    torch.manual_seed(0)
    grid = grid_proposals((64, 64))
    candidates = torch.cat([TRUTH, grid])
    fg_candidates = int((box_iou(candidates, TRUTH).amax(dim=1) >= 0.5).sum())
    rois, classes, matched = sample_rois(TRUTH, TRUTH_LABELS, grid, count, (64, 64))
    assert rois.shape == (count, 4)
    assert int((classes > 0).sum()) == min(fg_candidates, round(FG_FRACTION * count))
    best, match = box_iou(rois, TRUTH).max(dim=1)
    assert classes.tolist() == torch.where(best >= 0.5, TRUTH_LABELS[match] + 1, 0).tolist()
    assert matched.eq(TRUTH[match]).all()
    background = rois[classes == 0].tolist()
    assert len({tuple(r) for r in background}) == len(background)  # drawn without repeats: the grid has plenty


def test_jittered_copies_and_an_image_without_objects():
    torch.manual_seed(0)
    grid = grid_proposals((64, 64))
    copies = roi_proposals.jitter(TRUTH, 8, (64, 64))
    assert copies.shape == (16, 4) and (copies >= 0).all() and (copies <= 64).all()
    assert (box_iou(copies[:8], TRUTH[:1]) > 0.2).all()  # shifted by a quarter of the side at most
    rois, classes, _ = sample_rois(TRUTH[:0], TRUTH_LABELS[:0], grid, 16, (64, 64))
    assert rois.shape == (16, 4) and classes.tolist() == [0] * 16


def test_grid_proposals_cover_the_scenes_without_looking_at_them():
    grid = grid_proposals((64, 64))
    assert grid.shape == (575, 4) and (grid >= 0).all() and (grid <= 64).all()
    scenes = make_scenes(200, (64, 64), 3, seed=5)
    rows = padded_boxes(scenes.boxes, scenes.box_labels)
    best = torch.cat([box_iou(r[r[:, 0] >= 0, 1:], grid).amax(dim=1) for r in rows])
    assert (best >= 0.5).float().mean() >= 0.99  # the recall that bounds mAP@0.5


def test_deltas_are_torchvisions_box_coding():
    torch.manual_seed(1)
    proposals = torch.rand(20, 2) * 40
    proposals = torch.cat([proposals, proposals + 4 + torch.rand(20, 2) * 20], dim=1)
    boxes = torch.cat([proposals[:, :2] + torch.randn(20, 2), proposals[:, 2:] + torch.randn(20, 2)], dim=1)
    coder = BoxCoder(tuple(1 / s for s in DELTA_STD))
    deltas = encode_deltas(proposals, boxes)
    torch.testing.assert_close(deltas, coder.encode_single(boxes, proposals))
    torch.testing.assert_close(decode_deltas(proposals, deltas[:, None])[:, 0], boxes, rtol=1e-4, atol=1e-4)
    three = torch.randn(20, 3, 4)
    want = coder.decode_single(three.reshape(20, 12), proposals).reshape(20, 3, 4)
    torch.testing.assert_close(decode_deltas(proposals, three), want)


def _output(scores, deltas, rois, classes=None, targets=None, counts=None):
    rois = torch.tensor(rois, dtype=torch.float32)
    n = len(rois)
    classes = torch.zeros(n, dtype=torch.long) if classes is None else torch.tensor(classes)
    targets = torch.zeros(n, 4) if targets is None else torch.tensor(targets)
    return RoIOutput(torch.tensor(scores), torch.tensor(deltas), RoIBatch(rois, classes, targets, counts or (n,)))


def test_loss_is_cross_entropy_plus_smooth_l1_on_the_true_class_of_foreground_rois():
    deltas = [[100.0] * 4 + [0.5, -2.0, 0.0, 0.0], [100.0] * 8]  # other classes' and background's deltas are ignored
    out = _output([[0.0] * 3, [0.0] * 3], deltas, [[0, 0, 0, 8, 8], [0, 4, 4, 9, 9]], classes=[2, 0])
    # smooth L1 (beta 1): 0.5 * 0.5^2 + (2 - 0.5) = 1.625 for the foreground RoI, divided by the 2 RoIs
    assert fast_rcnn_loss(out).item() == pytest.approx(math.log(3) + 1.625 / 2)
    one = _output(
        [[0.0] * 3, [0.0] * 3], [[0.5, -2.0, 0.0, 0.0], [9.0] * 4], [[0, 0, 0, 8, 8], [0, 4, 4, 9, 9]], [1, 0]
    )
    assert fast_rcnn_loss(one).item() == pytest.approx(math.log(3) + 1.625 / 2)  # class-agnostic deltas [4]


def test_decoding_keeps_one_box_per_object_and_class_after_nms():
    strong, weaker, other = [0.0, 6.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 6.0]
    rois = [[0, 10, 10, 30, 30], [0, 11, 10, 31, 30], [1, 40, 40, 60, 50]]
    out = _output([strong, weaker, other], [[0.0] * 8] * 3, rois, counts=(2, 1))
    first, second = decode(out, (64, 64))
    assert first.labels.tolist() == [0] and first.boxes.tolist() == [[10.0, 10.0, 30.0, 30.0]]
    assert first.scores[0] == pytest.approx(math.exp(6) / (math.exp(6) + 2))
    assert second.labels.tolist() == [1] and second.boxes.tolist() == [[40.0, 40.0, 60.0, 50.0]]


def test_evaluation_proposals_do_not_depend_on_the_truth():
    task = RoIDetectionTask(classes=10, image_size=(64, 64))
    seen = []

    def model(x, rois):
        seen.append(rois)
        return torch.zeros(len(rois), 11), torch.zeros(len(rois), 40)

    model.training = False
    x = torch.zeros(2, 3, 64, 64)
    one = torch.tensor([[[1.0, 5, 5, 20, 20], [-1, 0, 0, 0, 0]]] * 2)
    other = torch.tensor([[[3.0, 30, 30, 50, 44], [7, 2, 2, 12, 12]]] * 2)
    first, second = task.forward(model, x, one), task.forward(model, x, other)
    assert torch.equal(seen[0], seen[1]) and seen[0].shape == (2 * 575, 5)
    assert first.batch.classes.sum() > 0 and not torch.equal(first.batch.classes, second.batch.classes)


def _template(**section):
    graph = load_template("fast_rcnn_shapes")
    graph.extra["training"] = {**graph.extra["training"], **section}
    return graph


def _head(graph):
    return [(d.code, d.node_id) for d in analyze(graph).diagnostics if d.code.startswith("head.")]


def test_the_template_fits_its_head_and_a_wrong_head_is_named():
    assert _head(_template()) == []
    g = _template()
    g.set_param("cls_score", "out_features", 10)
    [problem] = [d for d in analyze(g).diagnostics if d.code.startswith("head.")]
    assert (problem.code, problem.node_id) == ("head.classes", "cls_score") and "to 11" in problem.hint
    g = _template()
    g.set_param("bbox_pred", "out_features", 8)
    assert _head(g) == [("head.roi_deltas", "bbox_pred")]
    g.set_param("bbox_pred", "out_features", 4)  # one box for every class
    assert _head(g) == []
    g.outputs = ["cls_score"]
    assert _head(g) == [("head.roi_outputs", "cls_score")]
    assert _head(_template(detection={"head": "grid"})) == []  # the grid check wants one output: not its business


def test_swapped_inputs_are_named_and_training_refuses_a_wrong_head(tmp_path):
    g = _template()
    image = g["image"]
    g.remove_node("image")  # removing it drops its edge; put it back after the proposals
    g.add_node(image)
    g.connect("image", "conv1")
    [problem] = [d for d in analyze(g).diagnostics if d.code.startswith("head.")]
    assert (problem.code, problem.node_id) == ("head.roi_inputs", "proposals") and "'image'" in problem.hint
    g = _template(samples=16)
    g.set_param("cls_score", "out_features", 12)
    end = Trainer(g, read_section(g).replace(workers=0), runs_root=tmp_path).run()
    assert isinstance(end, Failed) and end.code == "head.classes" and "cls_score" in end.hint


@pytest.mark.parametrize(
    ("detection", "key"),
    [({"head": "rpn"}, "detection.head"), ({"head": "roi", "rois": 0}, "detection.rois")],
)
def test_config_checks_the_roi_settings(detection, key):
    assert (
        TrainConfig.from_dict({"task": "detection", "detection": {"head": "roi", "rois": 32}}).detection["rois"] == 32
    )
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict({"task": "detection", "detection": detection})
    assert info.value.key == key


@pytest.mark.slow
def test_fast_rcnn_template_trains_and_its_loss_falls(tmp_path):
    """The template's own section, shortened to two epochs of 36 scenes: the engine makes the proposals, trains the
    multi-task loss, validates with mAP on the grid proposals, and the last epoch's loss is below the first step's."""
    graph = load_template("fast_rcnn_shapes")
    config = read_section(graph).replace(samples=48, epochs=2, batch_size=12, workers=0, val_split=0.25)
    assert config.task == "detection" and config.detection["head"] == "roi"
    end, steps, epochs = short_run(graph, config, tmp_path)
    assert isinstance(end, Finished) and end.status == "completed", end
    assert len(steps) == 6 and len(epochs) == 2
    assert epochs[-1].train_loss < steps[0]
    assert all(0.0 <= epochs[-1].metrics[k] <= 1.0 for k in ("val_map50", "val_map"))


def test_predict_draws_what_the_design_finds_on_the_grid_proposals():
    """``designer predict`` and the insight dock's view run a Fast R-CNN design with the grid proposals."""
    from designer.compiler import compile_graph
    from designer.insight.prediction import predict

    graph = load_template("fast_rcnn_shapes")
    model = compile_graph(graph, seed=0)
    scene = make_scenes(1, (64, 64), 3, seed=2)
    x = torch.from_numpy(scene.images[0]).float().div(255)
    found = predict(model, x, graph=graph, threshold=0.06, truth=padded_boxes(scene.boxes, scene.box_labels)[0])
    want = RoIDetectionTask(classes=10, image_size=(64, 64)).predict(model.eval(), x[None])[0]
    keep = want.scores >= 0.06
    assert keep.any() and len(found.lines) == int(keep.sum())
    assert [line.split("\t")[1] for line in found.lines] == [f"{s:.4f}" for s in want.scores[keep].tolist()]
    assert found.title.startswith("true boxes") and found.picture.shape == (64, 2 * 64 + 4, 3)


def test_insight_probes_the_design_with_the_grid_proposals():
    """Feature maps and the other insight views run the two-input design: the probe adds the grid proposals."""
    from designer.compiler import compile_graph
    from designer.insight.probe import Probe

    graph = load_template("fast_rcnn_shapes")
    model = compile_graph(graph, seed=0).eval()
    x = torch.rand(2, 3, 64, 64)
    out, seen = Probe(model, graph).run(x, ["conv1", "roi_pool"])
    with torch.no_grad():
        torch.testing.assert_close(seen["conv1"], model.conv1(x))
    assert seen["roi_pool"].shape == (2 * 575, 64, 4, 4) and out[0].shape == (2 * 575, 11)
    assert Probe(model).inputs(x) == (x,)  # without the design, nothing says which Input holds boxes


def test_data_whose_classes_the_validator_cannot_know_are_checked_when_loaded():
    """VOC's or COCO's classes are known only once read: the scores must then be one per class plus the background."""
    from designer.training.setup import TrainingError, check_classes

    voc = [f"c{k}" for k in range(20)]
    check_classes(21, "cls_score", voc, "voc:/data", "detection", 2, "roi")
    with pytest.raises(TrainingError) as info:
        check_classes(20, "cls_score", voc, "voc:/data", "detection", 2, "roi")
    assert info.value.code == "data.classes_mismatch" and info.value.hint == "set out_features of 'cls_score' to 21"
