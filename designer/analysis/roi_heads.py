"""The ends of a Fast R-CNN design (``detection: {"head": "roi"}``), checked without loading torch.

Inputs, in order: the image ``[C, H, W]``, then the proposals ``[5]`` (rows of batch index, x1, y1, x2, y2 in input
pixels; the engine makes them). Outputs, in order, one row per RoI: the class scores ``[classes + 1]`` (class 0 the
background) and the box deltas ``[4 * classes]`` (a box per class, as the paper's) or ``[4]`` (one for every class).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..model import diagnostics as dg
from ..model.diagnostics import Diagnostic
from ..model.graph import Graph, ref_node

CODES = {
    "head.roi_inputs": "a Fast R-CNN design whose Inputs are not the image [C, H, W] then the proposals [5]",
    "head.roi_outputs": "a Fast R-CNN design without two per-RoI outputs, class scores then box deltas",
    "head.roi_deltas": "Fast R-CNN box deltas that are neither 4 per class nor 4",
}

#: A node's output shape without the batch (None when it could not be inferred).
ShapeOf = Callable[[str], "tuple[int, ...] | None"]


def box_inputs(graph: Graph) -> set[str]:
    """The Inputs that feed an RoIPool's or RoIAlign's boxes: their first dimension counts boxes, not samples."""
    return {
        n.inputs[1]
        for n in graph
        if n.type in ("RoIPool", "RoIAlign") and len(n.inputs) > 1 and graph[ref_node(n.inputs[1])].type == "Input"
    }


def is_roi(section: Mapping[str, Any]) -> bool:
    """Whether the training settings ``section`` train a Fast R-CNN head."""
    detection = section.get("detection")
    return section.get("task") == "detection" and isinstance(detection, dict) and detection.get("head") == "roi"


def roi_problems(
    inputs: Sequence[str], outputs: Sequence[str], shape: ShapeOf, classes: int | None
) -> list[Diagnostic]:
    """The problems of a Fast R-CNN design's Inputs and outputs; ``classes`` the data's, when known."""
    found = _inputs(inputs, shape, outputs[0] if outputs else None)
    if len(outputs) != 2:
        hint = "mark two outputs: the Linear giving the class scores, then the Linear giving the box deltas"
        message = (
            f"Fast R-CNN needs two outputs per RoI, class scores [classes + 1] then box deltas; the design has "
            f"{len(outputs)} ({', '.join(repr(o) for o in outputs) or 'none'})"
        )
        return [*found, dg.warning("head.roi_outputs", message, outputs[0] if outputs else None, hint)]
    scores, deltas = outputs
    y, d = shape(scores), shape(deltas)
    if y is None or d is None:
        return found
    if len(y) != 1 or len(d) != 1:
        bad = scores if len(y) != 1 else deltas
        got = list(y if bad == scores else d)
        message = f"Fast R-CNN's outputs are one row per RoI; the output '{bad}' gives {got} per RoI"
        hint = f"end '{bad}' with a Flatten and a Linear: RoIPool gives one map per RoI, so the batch is the RoIs"
        return [*found, dg.warning("head.roi_outputs", message, bad, hint)]
    if classes is not None and y[0] != classes + 1:
        message = f"detection on this data needs {classes} + 1 class scores (the background is 0) from '{scores}'"
        hint = f"set out_features of '{scores}' to {classes + 1}"
        found.append(dg.warning("head.classes", f"{message}; it gives {y[0]}", scores, hint))
    c = classes if classes is not None else y[0] - 1
    if d[0] not in (4 * c, 4):
        message = (
            f"the box deltas '{deltas}' give {d[0]} values per RoI; {c} classes need {4 * c} (a box per class) or 4"
        )
        found.append(dg.warning("head.roi_deltas", message, deltas, f"set out_features of '{deltas}' to {4 * c}"))
    return found


def _inputs(inputs: Sequence[str], shape: ShapeOf, near: str | None) -> list[Diagnostic]:
    shapes = [shape(i) for i in inputs]
    if len(inputs) == 2 and shapes[0] is not None and len(shapes[0]) == 3 and shapes[1] == (5,):
        return []
    if len(inputs) == 2 and shapes[1] is not None and len(shapes[1]) == 3 and shapes[0] == (5,):
        hint = f"make the image Input '{inputs[1]}' the first node of the design, before '{inputs[0]}'"
    else:
        hint = "add an Input of shape [5] after the image Input and feed it to the RoIPool's second port"
    described = ", ".join(f"'{i}' {list(s) if s is not None else '?'}" for i, s in zip(inputs, shapes, strict=True))
    message = f"Fast R-CNN needs two Inputs, the image [C, H, W] then the proposals [5]; the design has {described}"
    return [dg.warning("head.roi_inputs", message, inputs[0] if inputs else near, hint)]
