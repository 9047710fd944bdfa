"""The module an ONNX export ``with_nms`` writes: a detection design followed by its decode and NMS.

The ONNX file then goes from pixels to boxes: its outputs are ``DetectionPredictor``'s (``num_detections``,
``boxes``, ``scores``, ``labels``, padded per image), computed with the thresholds the validation mAP uses.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ._common import fail

if TYPE_CHECKING:
    from torch import nn

    from ..analysis.validate import Analysis
    from ..training.detection_predict import DetectionPredictor

#: The diagnostic code of a design that ``with_nms`` cannot wrap.
NOT_DETECTION = "export.not_detection"


def detection_predictor(module: nn.Module, analysis: Analysis) -> DetectionPredictor:
    """``module`` (the compiled design) with the decode and NMS of its training section's detection head.

    Raises:
        ExportError: the design does not train for detection, or its output is not that task's grid head.
    """
    from ..training.config import ConfigError, detection_head, read_section
    from ..training.detection_predict import DetectionPredictor

    graph = analysis.graph
    try:
        config = read_section(graph)
    except ConfigError as exc:
        raise fail(NOT_DETECTION, f"the design's training section cannot be read: {exc}") from None
    if config.task != "detection":
        raise fail(
            NOT_DETECTION,
            f"decode and NMS apply to detection designs; this one trains for {config.task}",
            None,
            'export without NMS, or set "task": "detection" in its training section',
        )
    grid, boxes = detection_head(config)
    inputs, outputs = graph.input_ids(), graph.output_ids()
    head = analysis.shape(outputs[0]) if len(outputs) == 1 else None
    if len(inputs) != 1 or head is None or len(head) != 3 or head[0] <= 5 * boxes or head[1:] != (grid, grid):
        raise fail(
            NOT_DETECTION,
            f"a detection design has one input and one output [{boxes}*5 + classes, {grid}, {grid}] (its training "
            f"section's boxes and grid); this one outputs {', '.join(str(analysis.shape(o)) for o in outputs)}",
            outputs[0] if outputs else None,
        )
    size = analysis.shape(inputs[0])
    assert size is not None  # a design without errors has every shape
    return DetectionPredictor(module, grid=grid, boxes=boxes, image_size=(int(size[1]), int(size[2])))


def nms_metadata(predictor: DetectionPredictor) -> str:
    """What the outputs are and the thresholds that made them, as JSON for the file's metadata."""
    return json.dumps(
        {
            "outputs": "num_detections [N], boxes [N, D, 4] (x1, y1, x2, y2 in input pixels), scores [N, D], "
            "labels [N, D] (padding: label -1, score 0)",
            "score_threshold": predictor.score_threshold,
            "iou_threshold": predictor.iou_threshold,
            "max_detections": predictor.rows,
        }
    )
