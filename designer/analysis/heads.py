"""The output head against the task of the design's ``training`` section (issue 16), without loading torch.

Segmentation needs one score map per class at the input's resolution, ``[C, H, W]``; detection needs the grid head
``[B*5 + C, S, S]`` of the section's ``detection`` settings, or with ``"head": "roi"`` the two Inputs and two per-RoI
outputs of Fast R-CNN (``roi_heads``). ``C`` is checked when the section's data says how many
classes there are (the built-in shapes datasets). Each problem is a warning on the output node, with a hint that
names the layer to add; training refuses the same problems as errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..model import diagnostics as dg
from ..model.diagnostics import Diagnostic
from ..model.graph import Graph, NodeId, ref_node, split_ref
from .roi_heads import is_roi, roi_problems

if TYPE_CHECKING:
    from .validate import NodeInfo

#: Classes drawn by the built-in shapes datasets (``designer.training.shapes.SHAPE_CLASSES``, which needs numpy).
SHAPE_CLASS_COUNT = 10
#: The grid head's defaults (``designer.training.config.DETECTION_DEFAULTS``).
GRID, BOXES = 4, 2

CODES = {
    "head.segmentation_rank": "a segmentation design whose output is not a [classes, H, W] score map",
    "head.segmentation_size": "a segmentation output smaller or larger than the input",
    "head.detection_rank": "a detection design whose output is not a [boxes*5 + classes, S, S] grid",
    "head.detection_grid": "a detection output whose grid is not the configured S x S",
    "head.classes": "an output with a different number of class maps than the data has classes",
}


def check_head(graph: Graph, info: Mapping[NodeId, NodeInfo]) -> list[Diagnostic]:
    """Warnings for an output head that does not fit the task of the design's ``training`` section."""
    section = graph.extra.get("training")
    if not isinstance(section, dict):
        return []
    inputs, outputs = graph.input_ids(), graph.output_ids()
    if is_roi(section):
        classes = data_classes(str(section.get("data", "shapes")), "detection")
        found = roi_problems(inputs, outputs, lambda n: _shape(info, n), classes)
    elif len(inputs) != 1 or len(outputs) != 1:
        return []
    else:
        x, y = _shape(info, inputs[0]), _shape(info, outputs[0])
        found = [] if x is None or y is None else head_problems(section, tuple(x), outputs[0], tuple(y))
    # an output may be one part of a Split ("split:1"): the message names the part, the diagnostic its node
    return [replace(d, node_id=ref_node(d.node_id)) if d.node_id else d for d in found]


def _shape(info: Mapping[NodeId, NodeInfo], ref: str) -> tuple[int, ...] | None:
    """The shape of a value: a node's id or one part of a Split (``"id:k"``)."""
    node_id, port = split_ref(ref)
    known = info.get(node_id)
    shape = known.output_shape(port) if known is not None else None
    return tuple(shape) if shape is not None else None


def head_problems(section: Mapping[str, Any], x: tuple[int, ...], out: str, y: tuple[int, ...]) -> list[Diagnostic]:
    """The problems of output ``out`` of shape ``y`` for an input ``x`` under the training settings ``section``."""
    task = section.get("task")
    if task not in ("segmentation", "detection") or len(x) != 3:
        return []
    classes = data_classes(str(section.get("data", "shapes")), task)
    if task == "segmentation":
        return _segmentation(out, x, y, classes)
    detection = section.get("detection")
    grid, boxes = _head(detection if isinstance(detection, dict) else {})
    return _detection(out, y, grid, boxes, classes)


def data_classes(data: str, task: str) -> int | None:
    """Classes of ``data`` for ``task`` when known without reading it: the shapes datasets' (plus the background
    for segmentation)."""
    kind, _, root = data.partition(":")
    if kind.strip().lower().replace("_", "-") not in ("shapes", "shapes-scenes"):
        return None
    k = int(root) if root.strip().isdigit() else SHAPE_CLASS_COUNT
    return k + 1 if task == "segmentation" else k


def _head(section: Mapping[str, Any]) -> tuple[int, int]:
    grid, boxes = section.get("grid", GRID), section.get("boxes", BOXES)
    return (grid if isinstance(grid, int) else GRID), (boxes if isinstance(boxes, int) else BOXES)


def _segmentation(out: str, x: tuple[int, ...], y: tuple[int, ...], classes: int | None) -> list[Diagnostic]:
    size = list(x[1:])
    if len(y) != 3:
        return [
            dg.warning(
                "head.segmentation_rank",
                f"segmentation needs a score map per class at the input's size, [classes, {size[0]}, {size[1]}]; "
                f"the output '{out}' gives {list(y)}",
                out,
                "end the design with a 1x1 Conv2d to the classes instead of a Flatten/Linear classifier",
            )
        ]
    found: list[Diagnostic] = []
    if list(y[1:]) != size:
        found.append(dg.warning("head.segmentation_size", _size_message(out, y, size), out, _upsample_hint(out, y, x)))
    if classes is not None and y[0] != classes:
        found.append(_classes(out, y[0], "segmentation", f"{classes} channels (one per class)", str(classes)))
    return found


def _size_message(out: str, y: tuple[int, ...], size: list[int]) -> str:
    return f"segmentation scores each pixel of the {size[0]}x{size[1]} input; the output '{out}' is {y[1]}x{y[2]}"


def _upsample_hint(out: str, y: tuple[int, ...], x: tuple[int, ...]) -> str:
    h, w = x[1], x[2]
    if y[1] and y[2] and h % y[1] == 0 and w % y[2] == 0 and h // y[1] == w // y[2] and h > y[1]:
        k = h // y[1]
        return (
            f"add a ConvTranspose2d with kernel_size {k} and stride {k} after '{out}' (or an Upsample with "
            f"scale_factor {k}) to bring it to {h}x{w}"
        )
    return f"change the strides, padding or up-sampling before '{out}' so that it gives {h}x{w}"


def _detection(out: str, y: tuple[int, ...], grid: int, boxes: int, classes: int | None) -> list[Diagnostic]:
    want = f"[{boxes}*5 + {classes if classes is not None else 'classes'}, {grid}, {grid}]"
    if len(y) != 3:
        return [
            dg.warning(
                "head.detection_rank",
                f"detection needs a grid head {want}; the output '{out}' gives {list(y)}",
                out,
                f"end the design with a 1x1 Conv2d on a {grid}x{grid} map instead of a Flatten/Linear classifier",
            )
        ]
    found: list[Diagnostic] = []
    if (y[1], y[2]) != (grid, grid):
        found.append(
            dg.warning(
                "head.detection_grid",
                f"the detection grid is {grid}x{grid} (training section); the output '{out}' is {y[1]}x{y[2]}",
                out,
                f"pool or stride the map before '{out}' to {grid}x{grid}, or set the training section's "
                f"detection grid to {y[1]}"
                if y[1] == y[2]
                else f"make the map before '{out}' square, {grid}x{grid}",
            )
        )
    if classes is not None and y[0] != boxes * 5 + classes:
        n = boxes * 5 + classes
        found.append(_classes(out, y[0], "detection", f"{boxes}*5 + {classes} = {n} channels", str(n)))
    elif classes is None and y[0] <= boxes * 5:
        found.append(_classes(out, y[0], "detection", f"more than {boxes}*5 channels", f"{boxes}*5 + the classes"))
    return found


def _classes(out: str, has: int, task: str, want: str, channels: str) -> Diagnostic:
    return dg.warning(
        "head.classes",
        f"{task} on this data needs {want} from the output '{out}'; it gives {has}",
        out,
        f"set out_channels of '{out}' to {channels}",
    )
