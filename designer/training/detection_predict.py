"""A detection design's compiled model followed by its decode and NMS, as one module that exports to ONNX (issue 16).

``decode`` returns a list of variable-length results, which no exported graph can; ``DetectionPredictor`` returns
the same detections as four fixed-rank tensors, padded per image to ``D`` rows: how many each image has ``[N]``,
boxes ``[N, D, 4]`` (x1, y1, x2, y2 in input pixels), scores ``[N, D]`` and labels ``[N, D]`` (padding: 0 boxes and
scores, label -1), best first. ``D`` is ``max_detections`` or the grid's S*S*B predictors, whichever is smaller.

The NMS is ``torchvision.ops.nms`` over every image and class at once, kept apart by shifting each (image, class)
group's boxes by a multiple of the image size (torchvision's ``batched_nms`` does the same for small inputs, where
``decode`` uses it; its other path branches on the data, which an export cannot follow). torch's dynamo exporter
writes ``nms`` as ONNX ``NonMaxSuppression`` (opset 10 on) and the score threshold as a boolean mask (``NonZero``),
so the exported file computes everything, from pixels to boxes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.ops import nms

from .detection import MAX_DETECTIONS, NMS_IOU, SCORE_THRESHOLD, candidates

#: The exported outputs, in ``forward``'s order.
OUTPUT_NAMES = ("num_detections", "boxes", "scores", "labels")


class DetectionPredictor(nn.Module):
    """``model`` (a YOLO v1 grid head ``[N, B*5 + C, S, S]``) then ``decode``'s boxes, padded per image."""

    def __init__(
        self,
        model: nn.Module,
        *,
        grid: int,
        boxes: int,
        image_size: tuple[int, int],
        score_threshold: float = SCORE_THRESHOLD,
        iou_threshold: float = NMS_IOU,
        max_detections: int = MAX_DETECTIONS,
    ) -> None:
        super().__init__()
        self.model = model
        self.boxes = boxes
        self.image_size = image_size
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.rows = min(max_detections, grid * grid * boxes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Counts ``[N]``, boxes ``[N, D, 4]``, scores ``[N, D]`` and labels ``[N, D]`` of the images ``x``."""
        out = self.model(x)
        n, classes = out.shape[0], out.shape[1] - 5 * self.boxes
        corners, scores, labels = candidates(out, self.boxes, self.image_size)
        image = torch.arange(n, device=out.device)[:, None].expand_as(scores)
        keep = scores > self.score_threshold
        flat_boxes, flat_scores, flat_labels, flat_image = corners[keep], scores[keep], labels[keep], image[keep]
        # boxes lie in [0, max(H, W)]: a shift of that plus one per (image, class) group keeps groups from overlapping
        shift = (flat_image * classes + flat_labels).to(flat_boxes.dtype) * (max(self.image_size) + 1)
        kept = nms(flat_boxes + shift[:, None], flat_scores, self.iou_threshold)  # by descending score
        return self._pad(n, flat_image[kept], flat_boxes[kept], flat_scores[kept], flat_labels[kept])

    def _pad(
        self, n: int, image: Tensor, boxes: Tensor, scores: Tensor, labels: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Each image's first ``D`` detections in rows ``[N, D, ...]``, zeros (labels -1) after them."""
        rows = self.rows
        mine = (image[:, None] == torch.arange(n, device=image.device)[None, :]).long()  # [K, N]
        rank = (mine.cumsum(0) * mine).sum(1) - 1  # place of each detection among its image's, best first
        # a mask, not a spare row for the surplus: ONNX leaves a scatter to one index twice undefined
        fits = rank < rows
        slot = (image * rows + rank)[fits]
        out_boxes = boxes.new_zeros(n * rows, 4).index_copy(0, slot, boxes[fits])
        out_scores = scores.new_zeros(n * rows).index_copy(0, slot, scores[fits])
        out_labels = labels.new_full((n * rows,), -1).index_copy(0, slot, labels[fits])
        count = mine.sum(0).clamp_max(rows)
        return count, out_boxes.view(n, rows, 4), out_scores.view(n, rows), out_labels.view(n, rows)
