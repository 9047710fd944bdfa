"""Everything a run needs before its first step: device and precision, the model with its frozen parts, optimiser
parameter groups, the schedule, the loss, and weights loaded from a file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from ..analysis.budgets import over_limit
from ..analysis.heads import data_classes, head_problems
from ..analysis.roi_heads import is_roi, roi_problems
from ..analysis.validate import Analysis, analyze
from ..compiler import compile_graph
from ..layers.registry import prod
from ..model.graph import Graph, NodeId
from . import eager_optim
from .config import TrainConfig
from .shapes import SHAPE_CLASSES


class TrainingError(Exception):
    """A reason the run cannot go on; becomes a ``Failed`` event with the same ``code``, message and hint."""

    def __init__(self, code: str, message: str, hint: str = ""):
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    """``auto`` is CUDA, then Apple's MPS, then the CPU; a named device that is missing is an error."""
    kind = name.split(":")[0]
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if kind == "cuda" and not torch.cuda.is_available():
        raise TrainingError(
            "device.unavailable", "CUDA was asked for but no CUDA GPU is available", "use --device auto or cpu"
        )
    if kind == "mps" and not _mps_available():
        raise TrainingError("device.unavailable", "MPS was asked for but is not available", "use --device auto or cpu")
    if kind == "cuda" and ":" not in name and local_rank is not None:
        return torch.device("cuda", local_rank)
    return torch.device(name if ":" in name else kind)


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_precision(name: str, device: torch.device) -> tuple[str, torch.dtype | None]:
    """``auto`` is bf16 on GPUs that have it, fp16 on older GPUs, fp32 elsewhere; returns (name, autocast dtype)."""
    if name == "auto":
        if device.type != "cuda":
            name = "fp32"
        else:
            name = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return name, {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


@dataclass
class ModelInfo:
    """The compiled design and what training needs to know about its ends."""

    model: nn.Module
    input_shape: tuple[int, ...]
    outputs: int
    output_id: str
    has_conv: bool


def build_model(
    graph: Graph, seed: int, batch: int = 1, data_samples: int = 0, section: Mapping[str, Any] | None = None
) -> ModelInfo:
    """Compile the design for training: exactly one Input and one output (``(classes,)`` for classification, a head
    that fits the task of the training settings ``section`` otherwise; Fast R-CNN's two of each, ``roi_heads``), and
    a model, ``batch`` and ``data_samples`` generated samples that fit in the memory available (checked before
    building). ``input_shape`` and ``outputs`` are the image Input's and the first output's."""
    section = section or {}
    analysis = analyze(graph)
    if not analysis.ok:
        raise TrainingError(
            "design.invalid",
            "the design has errors: " + str(analysis.errors[0]),
            "fix the errors the validator lists, then train",
        )
    image, output_id = _roi_ends(graph, analysis, section) if is_roi(section) else _ends(graph, analysis, section)
    shape, sample = analysis.shape(output_id) or (), analysis.shape(image) or ()
    too_big = over_limit(analysis.info.values(), "training", batch, True, data_samples * prod(sample) * 4)
    if too_big:
        raise TrainingError(too_big[0].code, too_big[0].message, too_big[0].hint)
    model = compile_graph(graph, seed=seed, analysis=analysis)
    has_conv = any("Conv" in type(m).__name__ for m in model.modules())
    return ModelInfo(model, tuple(sample), int(shape[0]), output_id, has_conv)


def _ends(graph: Graph, analysis: Analysis, section: Mapping[str, Any]) -> tuple[NodeId, NodeId]:
    """The Input and the output of a one-input, one-output design whose head fits the task of ``section``."""
    inputs, outputs = graph.input_ids(), graph.output_ids()
    if len(inputs) != 1 or len(outputs) != 1:
        raise TrainingError(
            "design.ends",
            f"training needs one Input and one output; the design has {len(inputs)} "
            f"input(s) and {len(outputs)} output(s)",
            "mark a single output node",
        )
    shape = analysis.shape(outputs[0])
    _check_output_rank(outputs[0], shape, str(section.get("task", "classification")))
    assert shape is not None  # _check_output_rank refused a missing shape
    sample = analysis.shape(inputs[0]) or ()
    head = head_problems(section, tuple(sample), outputs[0], tuple(shape))
    if head:
        raise TrainingError(head[0].code, head[0].message, head[0].hint)
    return inputs[0], outputs[0]


def _roi_ends(graph: Graph, analysis: Analysis, section: Mapping[str, Any]) -> tuple[NodeId, NodeId]:
    """The image Input and the class-scores output of a Fast R-CNN design (its proposals and deltas follow them)."""
    classes = data_classes(str(section.get("data", "shapes")), "detection")
    inputs, outputs = graph.input_ids(), graph.output_ids()
    problems = roi_problems(inputs, outputs, analysis.shape, classes)
    if problems:
        raise TrainingError(problems[0].code, problems[0].message, problems[0].hint)
    return inputs[0], outputs[0]


def _check_output_rank(output_id: str, shape: tuple[int, ...] | None, task: str) -> None:
    if task == "classification" and shape is not None and len(shape) == 1:
        return
    if task != "classification" and shape is not None and len(shape) == 3:
        return
    if task == "classification":
        want, hint = "a classifier gives one score per class, shape [classes]", "end the design with Flatten and Linear"
        hint += "(out_features=classes)"
    elif task == "segmentation":
        want = "segmentation gives one map of scores per class at the input's size, shape [classes, H, W]"
        hint = "end the design with a 1x1 Conv2d to the classes, up-sampled to the input's size"
    else:
        want = "detection gives a grid of box predictions, shape [boxes*5 + classes, S, S]"
        hint = "end the design with a Conv2d giving boxes*5 + classes channels on an S x S grid"
    raise TrainingError("design.output_shape", f"output '{output_id}' gives shape {list(shape or ())}; {want}", hint)


def check_classes(
    outputs: int,
    output_id: str,
    classes: list[str],
    data: str,
    task: str = "classification",
    boxes: int = 0,
    head: str = "grid",
) -> None:
    """The design must score each class of the dataset (or give one logit for a two-class dataset); a detection
    grid head also gives ``boxes * 5`` box channels, Fast R-CNN's scores (``head`` ``roi``) also the background."""
    if task == "detection" and head == "roi":
        if outputs == len(classes) + 1:
            return
        raise TrainingError(
            "data.classes_mismatch",
            f"the class scores '{output_id}' give {outputs} per RoI; the {len(classes)} classes of {data} and the "
            f"background need {len(classes) + 1}",
            f"set out_features of '{output_id}' to {len(classes) + 1}",
        )
    if task == "detection":
        if outputs == boxes * 5 + len(classes):
            return
        raise TrainingError(
            "data.classes_mismatch",
            f"the detection head '{output_id}' gives {outputs} channels; {boxes} boxes per cell and the "
            f"{len(classes)} classes of {data} need {boxes} x 5 + {len(classes)} = {boxes * 5 + len(classes)}",
            f"set the output layer '{output_id}' to {boxes * 5 + len(classes)} channels",
        )
    if outputs == len(classes) or (outputs == 1 and len(classes) == 2 and task == "classification"):
        return
    shown = ", ".join(classes[:6]) + (", ..." if len(classes) > 6 else "")
    raise TrainingError(
        "data.classes_mismatch",
        f"the design outputs {outputs} value(s) from '{output_id}'; "
        f"dataset {data} has {len(classes)} classes ({shown})",
        f"set the output layer '{output_id}' to {len(classes)} {'features' if task == 'classification' else 'channels'}"
        + (
            f", or train on the first {outputs} shapes: data shapes:{outputs}"
            if task == "classification" and _shapes_fit(data, outputs)
            else ""
        ),
    )


def _shapes_fit(data: str, outputs: int) -> bool:
    """True when the built-in dataset could give a design with ``outputs`` scores as many classes."""
    return data.partition(":")[0] == "shapes" and 2 <= outputs <= len(SHAPE_CLASSES)


def freeze(model: nn.Module, graph: Graph) -> list[str]:
    """Stop gradients for frozen nodes; returns their ids (their BatchNorms must also stay in eval mode)."""
    frozen: list[str] = [n.id for n in graph if n.frozen and _has_submodule(model, n.id)]
    for node_id in frozen:
        model.get_submodule(node_id).requires_grad_(False)
    return frozen


def _has_submodule(model: nn.Module, name: str) -> bool:
    try:
        model.get_submodule(name)
        return True
    except AttributeError:
        return False


#: torch's BatchNorm classes (their common base is private); compiled designs use the 1d and 2d ones.
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def set_train_mode(model: nn.Module, frozen: Sequence[str]) -> None:
    """Training mode, except frozen BatchNorms, which keep their running statistics as loaded."""
    model.train()
    for node_id in frozen:
        for m in model.get_submodule(node_id).modules():
            if isinstance(m, _BATCH_NORMS):
                m.eval()


def param_groups(model: nn.Module, graph: Graph, lr: float, weight_decay: float) -> list[dict[str, Any]]:
    """One optimiser group per learning-rate multiplier; ``lr_mult`` 0 leaves a node's parameters untouched."""
    mults: dict[str, float] = {n.id: (1.0 if n.lr_mult is None else float(n.lr_mult)) for n in graph}
    groups: dict[float, list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        mult = mults.get(_owner(name, mults), 1.0)
        if mult == 0:
            p.requires_grad_(False)
            continue
        groups.setdefault(mult, []).append(p)
    if not groups:
        raise TrainingError(
            "design.nothing_to_train", "every parameter is frozen or has lr_mult 0", "unfreeze at least one node"
        )
    return [
        {"params": ps, "lr": lr * m, "lr_mult": m, "weight_decay": weight_decay}
        for m, ps in sorted(groups.items(), reverse=True)
    ]


def _owner(param_name: str, node_ids: dict[str, float]) -> str:
    """The node that owns ``layer1.0.conv1.weight``: the longest dotted prefix that is a node id."""
    parts = param_name.split(".")
    for k in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:k])
        if prefix in node_ids:
            return prefix
    return ""


def make_optimizer(groups: list[dict[str, Any]], cfg: TrainConfig) -> torch.optim.Optimizer:
    """The configured optimiser (SGD, Adam or AdamW) over ``param_groups``' groups."""
    eager_optim.unmark_optimizers()  # no torch._dynamo import unless something is compiled
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay
        )
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(
    opt: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int
) -> tuple[LRScheduler | None, bool]:
    """The learning-rate schedule and whether it steps per batch (one-cycle) rather than per epoch."""
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(
            opt, step_size=cfg.step_size or max(1, cfg.epochs // 3), gamma=cfg.gamma
        ), False
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs), False
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=max(1, cfg.epochs * steps_per_epoch)
        ), True
    return None, False


def load_weights(model: nn.Module, path: str) -> str:
    """Copy every tensor of a checkpoint or torchvision state_dict whose name and shape match; say what was used.

    Raises:
        TrainingError: the file cannot be read or nothing in it fits the design.
    """
    from ..export.checkpoint import CheckpointError, read_checkpoint

    try:
        sd = read_checkpoint(path).state_dict
    except CheckpointError as exc:
        raise TrainingError("weights.unreadable", f"cannot load weights from {path}: {exc}") from None
    # Weights saved from a DistributedDataParallel wrapper carry its "module." prefix.
    sd = {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}
    own = model.state_dict()
    matched = {k: v for k, v in sd.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise TrainingError(
            "weights.no_match",
            f"no tensor in {path} matches the design by name and shape",
            "node ids must match the state_dict keys (e.g. 'layer1.0.conv1')",
        )
    model.load_state_dict(matched, strict=False)
    skipped = sorted(k for k in own if k not in matched)
    msg = f"loaded {len(matched)} of {len(own)} tensors from {path}"
    return msg + (
        f"; kept initial values for {', '.join(skipped[:5])}" + (", ..." if len(skipped) > 5 else "") if skipped else ""
    )
