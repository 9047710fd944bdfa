"""The training configuration: a plain dataclass, stored as the project's optional ``training`` section.

No torch here: the panel's form and the CLI's flags read and write it without loading the engine.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from ..model.graph import Graph

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
NORMALIZATIONS = ("auto", "imagenet", "none")
#: What the design learns: one label per image, a class per pixel, or boxes with classes (issue 16).
TASKS = ("classification", "segmentation", "detection")
#: Each task's validation metrics (the first is the counterpart of the training score) and its headline: the one
#: that picks the best checkpoint and that sweeps optimise. Here, not in ``tasks``, so that reading them needs no torch.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("val_acc",),
    "segmentation": ("val_pixel_acc", "val_miou"),
    "detection": ("val_map50", "val_map"),
}
HEADLINES = {"classification": "val_acc", "segmentation": "val_miou", "detection": "val_map50"}
#: How a person reads each task metric (plots, logs).
METRIC_LABELS = {
    "val_acc": "accuracy",
    "val_pixel_acc": "pixel accuracy",
    "val_miou": "mean IoU",
    "val_map50": "mAP@0.5",
    "val_map": "mAP@0.5:0.95",
}
#: The YOLO-style grid head's defaults: S x S cells of B boxes each (suits the 64x64 shapes scenes).
DETECTION_DEFAULTS: dict[str, int] = {"grid": 4, "boxes": 2}
#: The detection heads: YOLO's grid (``grid``) or Fast R-CNN's per-RoI head (``roi``: ``training.roi_detection``).
DETECTION_HEADS = ("grid", "roi")
#: Fast R-CNN's settings: RoIs sampled per training image (the paper's 64, a quarter of them foreground at most).
ROI_DEFAULTS: dict[str, int] = {"rois": 64}
SECTION = "training"
#: Far past any learning rate that trains, and inside float32, in which the optimisers step (1e300 was a traceback).
MAX_LR = 1e30
#: DataLoader workers beyond this many per CPU only cost memory and start-up time.
WORKERS_PER_CPU, MIN_WORKER_CAP = 4, 8
#: Sizes beyond any run on one machine: the shapes dataset holds ``samples`` images in memory, a batch is one tensor.
MAX_BATCH, MAX_SAMPLES, MAX_EPOCHS = 1 << 20, 1 << 26, 1 << 20


class ConfigError(ValueError):
    """A training setting that cannot be used; ``code`` is stable (``config.bad_value``) and ``key`` names it."""

    def __init__(self, key: str, message: str, code: str = "config.bad_value"):
        super().__init__(f"training setting {key!r}: {message}")
        self.key, self.code = key, code


@dataclass
class TrainConfig:
    """Everything that decides a run; saved in the project so that one file reproduces it."""

    #: ``classification`` (one label per image), ``segmentation`` (a class per pixel) or ``detection`` (boxes).
    task: str = "classification"
    data: str = "shapes"
    #: Samples drawn for the built-in shapes dataset (ignored by the others).
    samples: int = 10_000
    val_split: float = 0.1
    #: Augmentations that are on, e.g. ``{"hflip": true, "rotation": 15}`` (see ``designer.training.data.Augment``).
    augment: dict[str, Any] = field(default_factory=dict)
    normalize: str = "auto"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "none"
    #: Epochs between learning-rate drops for the ``step`` schedule; 0 means a third of the run.
    step_size: int = 0
    gamma: float = 0.1
    label_smoothing: float = 0.0
    epochs: int = 5
    batch_size: int = 64
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    #: ``None`` means on for CUDA, off elsewhere.
    channels_last: bool | None = None
    #: ``torch.compile`` the model for training. ``None`` means on for CUDA, off on the CPU, where compiling a small
    #: design made its training step slower (bench/bench_train.py measures both on the machine at hand).
    compile: bool | None = None
    #: DataLoader worker processes; -1 picks a number for the device and dataset.
    workers: int = -1
    deterministic: bool = False
    #: Let torchvision download a missing MNIST / Fashion-MNIST / CIFAR-10 (needs a network).
    download: bool = False
    #: A checkpoint or torchvision state_dict to start from (transfer learning).
    init_weights: str | None = None
    #: Report training metrics every N steps; 0 picks 1 on CPU and 10 on GPUs (each report waits for the device).
    log_every: int = 0
    #: Epochs (fractions allowed: 0.1 is a tenth of the first) over which the learning rate rises linearly from 0.
    warmup_epochs: float = 0.0
    #: Scale the gradients down to this total norm before each step; 0 is off.
    clip_grad_norm: float = 0.0
    #: Segmentation: add the Dice loss (mean over classes) to the pixel cross-entropy.
    dice: bool = False
    #: Detection: the grid head's ``{"grid": S, "boxes": B}``; the head gives ``B * 5 + classes`` maps of ``S x S``.
    #: ``{"head": "roi", "rois": R}`` trains a Fast R-CNN design instead (two Inputs, two outputs per RoI).
    detection: dict[str, Any] = field(default_factory=lambda: dict(DETECTION_DEFAULTS))

    def to_dict(self) -> dict[str, Any]:
        """Every field, so that a file keeps meaning the same run if defaults change."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], ignored: list[str] | None = None) -> TrainConfig:
        """Read a ``training`` section; keys this version does not know go to ``ignored`` (or raise without it).

        Raises:
            ConfigError: a value of the wrong type or outside its range.
        """
        if not isinstance(data, dict):
            raise ConfigError(SECTION, "must be an object")
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = [k for k in data if k not in names]
        if unknown and ignored is None:
            raise ConfigError(unknown[0], "unknown setting", "config.unknown_key")
        (ignored if ignored is not None else []).extend(unknown)
        cfg = cls()
        for key, value in data.items():
            if key in names:
                setattr(cfg, key, _coerce(key, value, getattr(cfg, key)))
        cfg.check()
        return cfg

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied and checked (how CLI flags override the file)."""
        cfg = dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
        cfg.check()
        return cfg

    def check(self) -> None:
        """Raise ``ConfigError`` for the first unusable value."""
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("device", self.device.split(":")[0], DEVICES)
        _choice("precision", self.precision, PRECISIONS)
        _choice("normalize", self.normalize, NORMALIZATIONS)
        _choice("task", self.task, TASKS)
        _check_detection(self.detection)
        for key in ("epochs", "batch_size", "samples"):
            if getattr(self, key) < 1:
                raise ConfigError(key, f"must be at least 1, not {getattr(self, key)}")
        if not 0 < self.lr <= MAX_LR:
            raise ConfigError("lr", f"must be positive and at most {MAX_LR:g}, not {self.lr:g}")
        _check_machine(self)
        for key in ("weight_decay", "momentum", "step_size", "log_every", "warmup_epochs", "clip_grad_norm"):
            if getattr(self, key) < 0:
                raise ConfigError(key, f"must not be negative, not {getattr(self, key)}")
        if not 0.0 <= self.val_split < 1.0:
            raise ConfigError("val_split", f"must be in [0, 1), not {self.val_split}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError("label_smoothing", f"must be in [0, 1), not {self.label_smoothing}")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum <= 0):
            raise ConfigError("nesterov", "needs the sgd optimizer with a positive momentum")


def _check_machine(cfg: TrainConfig) -> None:
    """Counts that this machine cannot serve: ``workers: 1000000`` would start forking before anything failed."""
    cpus = os.cpu_count() or 1
    most = max(MIN_WORKER_CAP, WORKERS_PER_CPU * cpus)
    if cfg.workers > most:
        raise ConfigError("workers", f"{cfg.workers} is more than this machine's {cpus} CPUs can use (at most {most})")
    if cfg.workers < -1:
        raise ConfigError("workers", f"must be -1 (automatic) or a count, not {cfg.workers}")
    for key, most in (("batch_size", MAX_BATCH), ("samples", MAX_SAMPLES), ("epochs", MAX_EPOCHS)):
        if getattr(cfg, key) > most:
            raise ConfigError(key, f"must be at most {most:,}, not {getattr(cfg, key):,}")


def _check_detection(section: dict[str, Any]) -> None:
    unknown = sorted(set(section) - {*DETECTION_DEFAULTS, *ROI_DEFAULTS, "head"})
    if unknown:
        raise ConfigError(
            f"detection.{unknown[0]}", "unknown setting (use grid and boxes, or head and rois)", "config.unknown_key"
        )
    if section.get("head", "grid") not in DETECTION_HEADS:
        raise ConfigError("detection.head", f"{section['head']!r} is not one of {', '.join(DETECTION_HEADS)}")
    for key in DETECTION_DEFAULTS:
        _whole(f"detection.{key}", section.get(key, DETECTION_DEFAULTS[key]), 64)
    _whole("detection.rois", section.get("rois", ROI_DEFAULTS["rois"]), 4096)


def _whole(key: str, value: Any, most: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise ConfigError(key, f"must be a whole number from 1 to {most}, not {value!r}")


def detection_head(config: TrainConfig) -> tuple[int, int]:
    """``(grid S, boxes B)`` of the detection head, defaults filled in."""
    d = {**DETECTION_DEFAULTS, **config.detection}
    return d["grid"], d["boxes"]


def detection_kind(config: TrainConfig) -> str:
    """The detection head a run trains: ``grid`` (YOLO v1) or ``roi`` (Fast R-CNN)."""
    return str(config.detection.get("head", "grid"))


def roi_count(config: TrainConfig) -> int:
    """RoIs sampled per training image for Fast R-CNN."""
    return int(config.detection.get("rois", ROI_DEFAULTS["rois"]))


def _choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(key, f"{value!r} is not one of {', '.join(choices)}")


_NULLABLE: dict[str, type] = {"channels_last": bool, "compile": bool, "init_weights": str}


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Check a file value against the type of its default (ints are accepted where floats are expected)."""
    if key in _NULLABLE:
        if value is None or isinstance(value, _NULLABLE[key]):
            return value
        raise ConfigError(key, f"expected {_NULLABLE[key].__name__} or null, not {value!r}")
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(key, f"expected {type(default).__name__}, not {value!r}")
    return value


def read_section(graph: Graph, ignored: list[str] | None = None) -> TrainConfig:
    """The design's ``training`` section as a config (defaults when it has none)."""
    data = graph.extra.get(SECTION)
    return TrainConfig() if data is None else TrainConfig.from_dict(data, ignored)


def write_section(graph: Graph, config: TrainConfig) -> None:
    """Store ``config`` as the design's ``training`` section (saved with the project by the file format)."""
    graph.extra[SECTION] = config.to_dict()
