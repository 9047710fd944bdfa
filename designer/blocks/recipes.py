"""How each template trains: the ``training`` section written into its file, and what that section achieves.

A recipe names only the settings that differ from ``TrainConfig``'s defaults, so a template keeps its meaning when a
new setting is added. ``goal`` is the validation accuracy the recipe reaches on the built-in shapes data within its
epochs on a 2-core CPU, as measured by ``bench/bench_templates.py`` (which fails a recipe that misses it) and stated
in the README's templates table. A recipe without a goal says why in ``note`` (it needs a GPU, or its task is not
classification). Templates with no recipe are the ImageNet-size mirrors: one epoch of the built-in data takes hours
on a CPU (the bench prints how many), so they need a GPU; their transfer-learning recipe is resnet18_transfer's:
freeze every node but the classifier and set it to your classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..training.config import HEADLINES


@dataclass(frozen=True)
class Recipe:
    """A template's training settings and the validation accuracy they reach on the built-in data."""

    training: dict[str, Any] = field(default_factory=dict)
    #: Validation accuracy reached within ``training["epochs"]`` on the built-in data, on this project's CPU (the
    #: task's headline metric: mean IoU for segmentation).
    goal: float | None = None
    note: str = ""

    @property
    def metric(self) -> str:
        """The validation metric ``goal`` is a value of: the headline of the recipe's task."""
        return HEADLINES[str(self.training.get("task", "classification"))]


SEGMENTATION = {"task": "segmentation", "data": "shapes:3", "samples": 1500, "lr": 0.003, "epochs": 2, "batch_size": 32}

RECIPES: dict[str, Recipe] = {
    "small_cnn": Recipe({"lr": 0.003, "epochs": 3}, goal=0.95),
    # Adam at 3e-3: LeNet's tanh units and average pooling learn slowly at the default 1e-3.
    "lenet5_28": Recipe({"lr": 0.003, "epochs": 3}, goal=0.9),
    "lenet5_32": Recipe({"lr": 0.003, "epochs": 3}, goal=0.9),
    "fashion_mnist_cnn": Recipe({"epochs": 3}, goal=0.95),
    "fashion_mnist_gap": Recipe({"lr": 0.003, "epochs": 5}, goal=0.9),
    "vgg_cifar": Recipe({"epochs": 2}, goal=0.95),
    # Two classes (circles and squares) drawn at 150x150 in colour. The deep plain-ReLU stack without BatchNorm sits at
    # chance for 1-3 epochs before it finds the shapes: Adam at the default 1e-3 never leaves that plateau (54 % after
    # 3 epochs), 3e-4 does. Measured here on 2 cores, best validation accuracy in 5 epochs (90 s): seed 0 100 %
    # (already after 3), seed 1 99.4 %, seed 2 98.8 %.
    "cats_vs_dogs": Recipe(
        {"data": "shapes:2", "samples": 1600, "batch_size": 16, "lr": 0.0003, "epochs": 5}, goal=0.95
    ),
    # A frozen backbone of random weights gives the head nothing to learn from (47 % measured on shapes:2).
    "resnet18_transfer": Recipe(
        note="load ImageNet weights first (init_weights): a random frozen backbone stays at chance"
    ),
    # Even a 9x9 view tells the shapes apart (99 % measured): corners, curvature and line ends are local evidence,
    # as Brendel and Bethge found on ImageNet.
    "bagnet9": Recipe({"epochs": 3}, goal=0.95),
    "bagnet17": Recipe({"epochs": 3}, goal=0.95),
    "bagnet33": Recipe({"epochs": 3}, goal=0.95),
    "segmentation_net": Recipe(note="segmentation at 128x128, 2 classes: fcn_shapes and unet_shapes train here"),
    # The shapes masks: the background and 3 shapes, 32x32 grey; 1,500 images keep 2 epochs to minutes on 2 cores.
    # Mean IoU measured by the bench: 85.6 % (FCN, no skips) and 97.6 % (U-Net): the skips give back the edges.
    "fcn_shapes": Recipe(SEGMENTATION, goal=0.8),
    "unet_shapes": Recipe(SEGMENTATION, goal=0.95),
    # YOLO v1 loss on 64x64 scenes of up to four shapes (S=4, B=2, the config's defaults), 3,600 training scenes an
    # epoch. Measured here (2 cores shared, load ~13): mAP@0.5 0.075, 0.591, 0.922 after epochs 1-3 (mAP@0.5:0.95
    # 0.47), 23 minutes; the constant learning rate makes these the first three epochs of any longer run.
    "tiny_yolo": Recipe(
        {"task": "detection", "data": "shapes-scenes", "samples": 4000, "lr": 0.003, "batch_size": 32, "epochs": 3},
        goal=0.8,
    ),
    # Fast R-CNN on the same scenes: 64 RoIs per training image, 575 grid proposals per image in evaluation. Measured
    # here (2 cores shared with three other runs, load 4-7): mAP@0.5 0.494, 0.897, 0.930 after epochs 1-3
    # (mAP@0.5:0.95 0.18, 0.40, 0.40), 3-4 minutes an epoch; the constant rate makes two epochs the first two of
    # three, and bench/bench_templates.py measured the same 0.897 for this recipe in 361 s. With RoIAlign in place of
    # RoIPool the same recipe reached 0.975 (mAP@0.5:0.95 0.63): RoIPool's rounding to the stride-4 map costs boxes.
    "fast_rcnn_shapes": Recipe(
        {
            "task": "detection",
            "data": "shapes-scenes",
            "detection": {"head": "roi", "rois": 64},
            "samples": 4000,
            "lr": 0.003,
            "batch_size": 32,
            "epochs": 2,
        },
        goal=0.8,
    ),
}


def training_section(template: str) -> dict[str, Any] | None:
    """The ``training`` section of a template's file, or None when it has no recipe."""
    recipe = RECIPES.get(template)
    return dict(recipe.training) if recipe is not None and recipe.training else None
