"""Design advice on the shipped templates: every warning that fires is listed here with why it is true of the design.

The torchvision mirrors are checked against torchvision itself (built on the meta device: no weights, no time), so a
warning here is a fact about the original network, not about our copy of it.
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch
import torchvision
from torch import nn

import designer
from designer.editing.templates import list_templates, load_template

#: template -> {code: how many times}, and why each is true of the design. Anything else that fires is a false alarm.
EXPECTED: dict[str, tuple[dict[str, int], str]] = {
    "alexnet": ({"advice.head_params": 1}, "classifier.1 takes the 256x6x6 map flattened: 37.7M of 61.1M weights"),
    "vgg11": ({"advice.head_params": 1}, "classifier.0 over the flattened 512x7x7 map holds 102.8M of 132.9M"),
    "vgg16": ({"advice.head_params": 1}, "the same 102.8M-weight first classifier layer, of 138.4M"),
    "vgg16_bn": (
        {"advice.head_params": 1, "advice.bias_before_bn": 13},
        "torchvision's vgg16_bn keeps bias=True on all 13 convolutions although each feeds a BatchNorm2d",
    ),
    "squeezenet1_1": (
        {"advice.receptive_field": 1},
        "SqueezeNet 1.1 pools early (3 max pools by fire4): its last features see 207x207 of the 224x224 input",
    ),
    "small_cnn": ({"advice.head_params": 1}, "a 32x7x7 map flattened into the classifier: 15,690 of 20,490"),
    "fashion_mnist_cnn": ({"advice.head_params": 1}, "fc1 over a flattened 64x7x7 map: 401,536 of 421,642"),
    "cats_vs_dogs": ({"advice.head_params": 1}, "fc1 over a flattened 128x7x7 map: 3.2M of 3.45M"),
    "vgg_cifar": (
        {"advice.head_params": 1, "advice.bias_before_bn": 6},
        "VGG-style blocks with biased convolutions before BatchNorm, a flattened 128x4x4 map into fc1",
    ),
    "fast_rcnn_shapes": (
        {"advice.head_params": 1},
        "fc6 reads each RoI's 64x4x4 pooled map flattened (131,200 of 210,771), as the paper's fc6 reads RoIPool's "
        "7x7 map: averaging it to 1x1 would drop the layout inside the box that the box regression reads",
    ),
    "zfnet": ({"advice.head_params": 1}, "as AlexNet: fc6 takes the 256x6x6 map flattened, 37.8M of 62.4M weights"),
    "fashion_mnist_gap": (
        {"advice.receptive_field": 1},
        "two 3x3 convolutions and two poolings see 10x10 pixels before the global pooling of a 28x28 image",
    ),
    "fcn_shapes": (
        {"advice.linear_stack": 2},
        "as in FCN, each learned up-sampling (up1, up2: ConvTranspose2d) is linear and feeds a 3x3 convolution "
        "directly; U-Net puts the skip Concat between them",
    ),
}

NAMES = [t.name for t in list_templates()]


@pytest.mark.parametrize("name", NAMES)
def test_template_advice_is_listed_with_its_reason(name):
    found = Counter(d.code for d in designer.analyze(load_template(name)).diagnostics if d.code.startswith("advice."))
    assert dict(found) == EXPECTED.get(name, ({}, ""))[0]


def _meta(builder: str) -> nn.Module:
    with torch.device("meta"):
        return getattr(torchvision.models, builder)(weights=None)


def test_vgg16_bn_biases_before_batchnorm_are_torchvisions():
    model = _meta("vgg16_bn")
    warned = [d.node_id for d in designer.analyze(load_template("vgg16_bn")).diagnostics if "bias_before" in d.code]
    layers = list(model.features)
    biased = [
        f"features.{i}"
        for i, m in enumerate(layers[:-1])
        if isinstance(m, nn.Conv2d) and m.bias is not None and isinstance(layers[i + 1], nn.BatchNorm2d)
    ]
    assert warned == biased and len(biased) == 13


@pytest.mark.parametrize("name", ["alexnet", "vgg11", "vgg16", "vgg16_bn"])
def test_heads_holding_most_parameters_do_so_in_torchvision(name):
    model = _meta(name)
    [d] = [d for d in designer.analyze(load_template(name)).diagnostics if d.code == "advice.head_params"]
    head = model.get_submodule(d.node_id)
    assert isinstance(head, nn.Linear)
    share = sum(p.numel() for p in head.parameters()) / sum(p.numel() for p in model.parameters())
    assert share > 0.5 and f"({100 * share:.0f} %)" in d.message
