"""Regenerate the architecture templates (templates/*.json, shipped as designer.template_files) from designer.blocks.

Usage: python tools/build_templates.py [--check]
With --check, write nothing and exit 1 if a file differs from what the generators produce.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from designer.blocks import detectors, imported, mirrors, recipes, se_resnet, segmentation, teaching
from designer.model.fileformat import dumps, write_atomic
from designer.model.graph import Graph

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

_TV = (
    "Node ids are torchvision's module names, so torchvision.models.{fn}().state_dict() (pretrained weights "
    "included) loads into the compiled design with strict=True."
)


@dataclass(frozen=True)
class Template:
    """One template file: its name (file stem), the generator call, and its description."""

    name: str
    build: Callable[[], Graph]
    description: str


TEMPLATES = [
    Template(
        "small_cnn",
        teaching.small_cnn,
        "A small CNN for 1x28x28 greyscale images and 10 classes: two stages of 3x3 convolution, ReLU and 2x2 "
        "max pooling (16 and 32 channels), then one Linear layer on the flattened 32x7x7 map. About 20 "
        "thousand parameters; it trains in seconds on a CPU. The default design: start here and change it.",
    ),
    Template(
        "lenet5_28",
        lambda: teaching.lenet5(28),
        "LeNet-5 (LeCun et al., 1998), the convolutional network that read handwritten digits: convolutions "
        "learn the features, subsampling layers make them tolerant to small shifts. Input 1x28x28 (MNIST, "
        "Fashion-MNIST as they come); C1 pads by 2 so that every later layer has the sizes of the 32x32 "
        "original. Node ids are the paper's layer names: C1 (6 5x5 filters), S2 (2x2 subsampling), C3 (16 "
        "filters), S4, C5 (120 filters), F6 (84 units), 10 outputs. Tanh and average pooling stand in for the "
        "paper's scaled tanh and trainable subsampling, and C3 sees all six S2 maps. 61,706 parameters.",
    ),
    Template(
        "lenet5_32",
        lambda: teaching.lenet5(32),
        "LeNet-5 (LeCun et al., 1998) at the paper's input size, 1x32x32 (MNIST digits padded by 2 pixels): "
        "convolutions learn the features, subsampling layers make them tolerant to small shifts. Node ids "
        "are the paper's layer names: C1 (6 5x5 filters), S2 (2x2 subsampling), C3 (16 filters), S4, C5 (120 "
        "filters, a 1x1 output), F6 (84 units), 10 outputs. Tanh and average pooling stand in for the paper's "
        "scaled tanh and trainable subsampling, and C3 sees all six S2 maps. 61,706 parameters.",
    ),
    Template(
        "fashion_mnist_cnn",
        teaching.fashion_mnist_cnn,
        "A CNN for Fashion-MNIST (1x28x28 greyscale, 10 classes): two stages of 3x3 convolution, ReLU and 2x2 "
        "max pooling (32 and 64 channels), then the classic head: Flatten the 64x7x7 map into 3,136 features, "
        "a 128-unit hidden layer, Dropout 0.5 and 10 outputs. Almost all of its 422 thousand parameters sit "
        "in fc1; compare fashion_mnist_gap.",
    ),
    Template(
        "fashion_mnist_gap",
        lambda: teaching.fashion_mnist_cnn("gap"),
        "The Fashion-MNIST CNN (1x28x28 greyscale, 10 classes) with a global-average-pooling head (Lin et "
        "al., Network in Network, 2013): AdaptiveAvgPool2d(1) averages each of the 64 channels to one number, "
        "so the Linear layer has 64x10 weights instead of 3,136x128. 19 thousand parameters instead of 422 "
        "thousand, and the design accepts any input size.",
    ),
    Template(
        "cats_vs_dogs",
        teaching.cats_vs_dogs,
        "A CNN for colour photos of cats and dogs at 3x150x150, in the style of Chollet's Deep Learning with "
        "Python: four stages of unpadded 3x3 convolution, ReLU and 2x2 max pooling (32, 64, 128, 128 "
        "channels) shrink 150x150 to 7x7; Dropout 0.5 fights overfitting on a small data set; then a 512-unit "
        "hidden layer and 2 class scores (train with cross-entropy; the book used one sigmoid output). 3.5 "
        "million parameters, 93% of them in fc1.",
    ),
    Template(
        "vgg_cifar",
        teaching.vgg_cifar,
        "A VGG-style network for 3x32x32 colour images (CIFAR-10, 10 classes) built only from 3x3 "
        "convolutions, after VGG's idea that stacked small filters see as far as one large filter with fewer "
        "weights and more non-linearities. Three VGG blocks (block1..block3: two 3x3 convolutions with "
        "BatchNorm and ReLU, then 2x2 max pooling) with 32, 64 and 128 channels, then Flatten, a 256-unit "
        "layer, Dropout 0.5 and 10 outputs.",
    ),
    Template(
        "segmentation_net",
        teaching.segmentation_net,
        "A fully convolutional network for semantic segmentation: it outputs one score map per class at the "
        "input's resolution (3x128x128 in, 2x128x128 out; train with cross-entropy against an HxW map of "
        "class indices). The encoder halves the map twice with max pooling; the decoder upsamples with "
        "learned stride-2 ConvTranspose2d layers and concatenates the encoder's maps of the same size (skip "
        "connections, as in U-Net, Ronneberger et al., 2015) to recover detail; a 1x1 convolution gives the "
        "class scores. Having no Linear layer, it takes any input whose sides are divisible by 4.",
    ),
    Template(
        "fcn_shapes",
        segmentation.fcn,
        "A fully convolutional encoder-decoder for semantic segmentation (after Long et al., 2015): it scores "
        "every pixel of a 1x32x32 image for 4 classes (the background and the first 3 shapes), a 4x32x32 output. "
        "Two stages of 3x3 convolutions with 2x2 max pooling shrink the map to 8x8 while the features widen "
        "(16, 32, 64 channels); two learned stride-2 ConvTranspose2d up-samplings, each followed by two 3x3 "
        "convolutions, bring it back to 32x32, and a 1x1 convolution gives the class scores. No skip "
        "connections: compare unet_shapes, whose decoder gets the encoder's detail back. Its training section "
        "segments the built-in shapes masks (task segmentation).",
    ),
    Template(
        "unet_shapes",
        segmentation.unet,
        "A U-Net (Ronneberger et al., 2015) for semantic segmentation of 1x32x32 images into 4 classes (the "
        "background and the first 3 shapes): the encoder of fcn_shapes (3x3 conv-BN-ReLU stages, 2x2 max "
        "pooling, 16-32-64 channels), and a decoder that up-samples with stride-2 ConvTranspose2d, concatenates "
        "the encoder's map of the same size (the skip connections, Concat) and refines the pair with two 3x3 "
        "convolutions, then scores each pixel with a 1x1 convolution: a 4x32x32 output. Its training section "
        "segments the built-in shapes masks (task segmentation).",
    ),
    Template(
        "tiny_yolo",
        detectors.tiny_yolo,
        "A tiny single-shot detector in the style of YOLO v1 (Redmon et al., 2016) for the shapes scenes at "
        "3x64x64 (several shapes per image, 10 classes): the image is divided into a 4x4 grid, and each cell "
        "predicts 2 boxes (x, y of the centre inside the cell, w, h relative to the image, and a confidence = "
        "P(object) x IoU) plus 10 class scores, so the head is a 20x4x4 map [B*5 + C, S, S]. A stride-2 stem and three "
        "Conv-BN-ReLU-MaxPool stages shrink 64x64 to 4x4; a 1x1 convolution gives the head. Train with task "
        "detection: the YOLO v1 loss (5 x box errors with square-rooted sizes, 0.5 x confidence of empty "
        "predictors); at inference the boxes are decoded and filtered with non-maximum suppression, and mAP@0.5 "
        "is the validation metric.",
    ),
    Template(
        "fast_rcnn_shapes",
        detectors.fast_rcnn,
        "A Fast R-CNN (Girshick, 2015) teaching design for the shapes scenes at 3x64x64 (10 classes). Two inputs:"
        " the image and the proposals, rows of (batch index, x1, y1, x2, y2) in input pixels. The backbone (three"
        " 3x3 Conv-BN-ReLU, two 2x2 max poolings: 64x16x16 features, stride 4) runs once per image; RoIPool cuts "
        "a 4x4 map out of the features for every proposal, so the head below it sees the RoIs as its batch: two "
        "128-unit Linear layers (the paper's 4,096, cut to the task), then cls_score (11 scores: the background "
        "and the 10 classes) and bbox_pred (40 box deltas, one box per class as in the paper). Train with task "
        "detection and detection head roi: the engine makes the proposals (ground-truth boxes jittered and a "
        "fixed grid of windows in training, a quarter of them foreground; the grid alone, made without the truth,"
        " when it evaluates) and trains the multi-task loss (cross-entropy plus smooth L1 on the deltas); boxes "
        "are decoded per class and filtered with non-maximum suppression, and mAP@0.5 is the validation metric.",
    ),
    Template(
        "resnet18_transfer",
        teaching.resnet18_transfer,
        "Transfer learning with ResNet-18 (input 3x224x224): features learned on ImageNet carry over to new "
        "tasks, so a small data set is enough to train a new head. Every backbone node is frozen (its weights "
        "are not trained); only the new Linear head fc (512 -> 2 classes) learns. The backbone's node ids are "
        'torchvision\'s, so torchvision.models.resnet18(weights="IMAGENET1K_V1").state_dict() loads into it '
        "(all keys but fc.weight and fc.bias; load with strict=False). To change the number of classes, set "
        "fc's out_features. To fine-tune deeper, unfreeze layer4's nodes.",
    ),
    Template(
        "alexnet",
        mirrors.alexnet,
        "AlexNet (Krizhevsky, Sutskever & Hinton, 2012) as torchvision builds it: five convolutions (the first "
        "11x11 with stride 4) and three fully connected layers with Dropout. It won ImageNet 2012 by a wide "
        "margin and started the deep learning era with ReLU, dropout and GPU training. torchvision's version "
        "has 64/192 filters in the first layers and no local response normalisation. Input 3x224x224 "
        "(AdaptiveAvgPool2d(6) lets smaller inputs through too); 1000 ImageNet classes. " + _TV.format(fn="alexnet"),
    ),
    Template(
        "vgg11",
        lambda: mirrors.vgg(11),
        "VGG-11 (Simonyan & Zisserman, 2014; configuration A) as in torchvision: only 3x3 convolutions, in "
        "five stages separated by 2x2 max pooling with channels doubling from 64 to 512, then three fully "
        "connected layers. The idea: depth from small filters; two stacked 3x3 layers see a 5x5 window with "
        "fewer weights and an extra non-linearity. Input 3x224x224; 1000 classes. " + _TV.format(fn="vgg11"),
    ),
    Template(
        "vgg16",
        lambda: mirrors.vgg(16),
        "VGG-16 (Simonyan & Zisserman, 2014; configuration D) as in torchvision: 13 3x3 convolutions in five "
        "stages separated by 2x2 max pooling, then three fully connected layers. The idea: depth from small "
        "filters; three stacked 3x3 layers see a 7x7 window with fewer weights. Of its 138 million "
        "parameters, 103 million are in classifier.0 (25,088 x 4,096). Input 3x224x224; 1000 classes. "
        + _TV.format(fn="vgg16"),
    ),
    Template(
        "vgg16_bn",
        lambda: mirrors.vgg(16, batch_norm=True),
        "VGG-16 with BatchNorm after every convolution (torchvision's vgg16_bn). Batch normalisation (Ioffe & "
        "Szegedy, 2015) keeps each layer's inputs standardised, so the deep plain stack trains from scratch "
        "with higher learning rates. Input 3x224x224; 1000 classes. " + _TV.format(fn="vgg16_bn"),
    ),
    Template(
        "googlenet",
        mirrors.googlenet,
        "GoogLeNet / Inception v1 (Szegedy et al., 2014) as in torchvision, with its two auxiliary "
        "classifiers. Nine Inception modules run 1x1, 3x3, 5x5 and pooling branches in parallel and "
        "concatenate them, with 1x1 convolutions reducing the channels first: 22 layers, yet the main "
        "network has 9x fewer parameters than AlexNet (torchvision's third branch is 3x3, kept for its "
        "weights). aux1 (after inception4a) and aux2 (after inception4d) are extra outputs that feed "
        "gradient into the middle of the network while training (weight their losses by 0.3); for "
        "predictions use the first output, fc. The outputs are in the order of torchvision's "
        "GoogLeNetOutputs: fc, aux2.fc2, aux1.fc2. Input 3x224x224; 1000 classes. "
        + _TV.format(fn="googlenet")
        + " Its pretrained weights expect inputs normalised with mean 0.5 and std 0.5 per channel (torchvision "
        "converts to that with transform_input).",
    ),
    Template(
        "googlenet_no_aux",
        lambda: mirrors.googlenet(aux_logits=False),
        "GoogLeNet / Inception v1 (Szegedy et al., 2014) as in torchvision, without the auxiliary classifiers "
        "(torchvision's googlenet(aux_logits=False), the form its pretrained model is used in). Nine "
        "Inception modules run 1x1, 3x3, 5x5 and pooling branches in parallel and concatenate them, with 1x1 "
        "convolutions reducing the channels first (torchvision's third branch is 3x3, kept for its weights). "
        "Input 3x224x224; 1000 classes. Node ids are torchvision's module names, so the state_dict of "
        "torchvision.models.googlenet(aux_logits=False) loads with strict=True. Its pretrained weights "
        "expect inputs normalised with mean 0.5 and std 0.5 per channel (torchvision's transform_input).",
    ),
    Template(
        "resnet18",
        lambda: mirrors.resnet(18),
        "ResNet-18 (He et al., 2015) as in torchvision: a 7x7 stem, four stages of two basic residual blocks "
        "(64, 128, 256, 512 channels), global average pooling and one Linear layer. The idea: each block "
        "learns a residual that a shortcut adds to its input, so gradients reach the early layers and very "
        "deep networks train; where the stride or channel count changes, the shortcut is a 1x1 convolution "
        "with BatchNorm (downsample). Input 3x224x224 (adaptive pooling lets 64x64 through too); 1000 "
        "classes. " + _TV.format(fn="resnet18"),
    ),
    Template(
        "resnet34",
        lambda: mirrors.resnet(34),
        "ResNet-34 (He et al., 2015) as in torchvision: ResNet-18's design with 3, 4, 6 and 3 basic residual "
        "blocks per stage. Shortcuts add each block's input to its output, so depth does not hurt training. "
        "Input 3x224x224; 1000 classes. " + _TV.format(fn="resnet34"),
    ),
    Template(
        "resnet50",
        lambda: mirrors.resnet(50),
        "ResNet-50 (He et al., 2015) as in torchvision: 3, 4, 6 and 3 bottleneck blocks per stage. A "
        "bottleneck block narrows with a 1x1 convolution, works with a 3x3 at the narrow width, and widens 4x "
        "with another 1x1, which makes depth affordable; the stride sits on the 3x3 (ResNet v1.5). Input "
        "3x224x224; 1000 classes. " + _TV.format(fn="resnet50"),
    ),
    Template(
        "densenet121",
        mirrors.densenet121,
        "DenseNet-121 (Huang et al., 2016) as in torchvision: four dense blocks (6, 12, 24 and 16 layers) in "
        "which every layer sees the feature maps of all layers before it and adds 32 new channels (the growth "
        "rate); transitions (1x1 convolution, 2x2 average pooling) halve channels and size between blocks. "
        "Feature reuse keeps it small: 8 million parameters, a third of ResNet-50's. Each dense layer's cat node "
        "appends its new channels to its input, which builds exactly torchvision's concatenations. Input "
        "3x224x224; 1000 classes. " + _TV.format(fn="densenet121"),
    ),
    Template(
        "mobilenet_v2",
        mirrors.mobilenet_v2,
        "MobileNetV2 (Sandler et al., 2018) as in torchvision: inverted residual blocks expand the channels 6x "
        "with a 1x1 convolution, filter with a cheap 3x3 depthwise convolution, and project back down with a "
        "linear 1x1 (no activation, so the narrow layer loses no information); an add joins the narrow ends "
        "when the shapes match. 3.5 million parameters and 0.3 billion mult-adds: built for phones. Input "
        "3x224x224; 1000 classes. " + _TV.format(fn="mobilenet_v2"),
    ),
    Template(
        "squeezenet1_1",
        mirrors.squeezenet1_1,
        "SqueezeNet 1.1 (Iandola et al., 2016) as in torchvision: Fire modules squeeze to few channels with "
        "1x1 convolutions and expand with parallel 1x1 and 3x3 convolutions; there is no fully connected "
        "layer: a 1x1 convolution to 1000 channels and global average pooling classify. AlexNet-level "
        "accuracy with 1.2 million parameters, 50x fewer. Input 3x224x224; 1000 classes. "
        + _TV.format(fn="squeezenet1_1"),
    ),
    Template(
        "efficientnet_b0",
        lambda: imported.from_torchvision("efficientnet_b0", "EfficientNet-B0"),
        "EfficientNet-B0 (Tan and Le, 2019) as in torchvision: MBConv blocks (a 1x1 expansion, a depthwise 3x3 "
        "or 5x5 convolution, squeeze-and-excitation gating, a linear 1x1 projection) with SiLU activations and "
        "stochastic depth on the residual branches, in seven stages whose widths, depths and kernel sizes came "
        "from a neural architecture search; B1 to B7 scale all three with the input size. 5.3 million "
        "parameters, 0.4 billion mult-adds. Input 3x224x224; 1000 classes. " + _TV.format(fn="efficientnet_b0"),
    ),
    Template(
        "regnet_y_400mf",
        lambda: imported.from_torchvision("regnet_y_400mf", "RegNetY-400MF"),
        "RegNetY-400MF (Radosavovic et al., 2020) as in torchvision: a design space, not a hand-made network: "
        "stage widths grow linearly then are quantised, every block is a bottleneck with grouped 3x3 convolutions "
        "(group width 8) and squeeze-and-excitation (the Y). About 400 million flops, 4.3 million parameters. "
        "Blocks keep torchvision's names (trunk_output.block1.block1-0). Input 3x224x224; 1000 classes. "
        + _TV.format(fn="regnet_y_400mf"),
    ),
    Template(
        "shufflenet_v2_x1_0",
        lambda: imported.from_torchvision("shufflenet_v2_x1_0", "ShuffleNetV2 x1.0"),
        "ShuffleNetV2 x1.0 (Ma et al., 2018) as in torchvision: each unit splits its channels in two (Slice), "
        "runs one half through 1x1, depthwise 3x3 and 1x1 convolutions, concatenates the halves and shuffles the "
        "channels (ChannelShuffle, 2 groups) so the next unit mixes them; downsampling units process both halves. "
        "Designed for measured speed on phones: 2.3 million parameters, 0.15 billion mult-adds. Input 3x224x224; "
        "1000 classes. " + _TV.format(fn="shufflenet_v2_x1_0"),
    ),
    Template(
        "convnext_tiny",
        lambda: imported.from_torchvision("convnext_tiny", "ConvNeXt-Tiny"),
        "ConvNeXt-Tiny (Liu et al., 2022) as in torchvision: a plain convolutional network modernised step by step "
        "towards a vision transformer. A 4x4 stride-4 'patchify' stem, four stages of 3, 3, 9 and 3 blocks (96 to "
        "768 channels) with LayerNorm2d and 2x2 stride-2 convolutions between them. Each block filters with a 7x7 "
        "depthwise convolution, then runs an inverted MLP on the channels-last map (Permute, LayerNorm, Linear "
        "4x wider, GELU, Linear back, Permute), scales it per channel (LayerScale, started at 1e-6) and adds it to "
        "the block's input with stochastic depth. 28.6 million parameters; 4.5 billion mult-adds by torchvision's "
        "count, of which the summary shows 0.32 billion: like torchinfo, it counts a Linear's weights once per "
        "sample, not once per position of the map. Input 3x224x224; 1000 classes. "
        + _TV.format(fn="convnext_tiny")
        + " (its bare layer_scale parameters load into the LayerScale nodes).",
    ),
    Template(
        "zfnet",
        teaching.zfnet,
        "ZFNet (Zeiler and Fergus, 2013), the network of the deconvnet paper 'Visualizing and Understanding "
        "Convolutional Networks': AlexNet's plan with a 7x7 stride-2 first layer (AlexNet's 11x11 stride 4 left dead "
        "filters and aliasing in the visualisations) and a 5x5 stride-2 second layer. Sizes as in the paper: 224 -> "
        "110 -> 55 -> 26 -> 13 -> 6, local response normalisation after the first two poolings, two 4096-unit "
        "layers. The Insight dock's deconvnet view is the paper's visualisation. Input 3x224x224; 1000 classes.",
    ),
    Template(
        "resnext50_32x4d",
        lambda: mirrors.resnet(50, groups=32, width_per_group=4),
        "ResNeXt-50 32x4d (Xie et al., 2017): ResNet-50's bottlenecks with their 3x3 convolution split into 32 "
        "groups of 4 channels (per 64 planes), twice as wide for about the same cost: 'cardinality' as a new "
        "dimension beside depth and width. 25.0 million parameters. Input 3x224x224; 1000 classes. "
        + _TV.format(fn="resnext50_32x4d"),
    ),
    Template(
        "seresnet50",
        se_resnet.seresnet50,
        "SE-ResNet-50 (Hu et al., 2017): ResNet-50 with a Squeeze-and-Excitation module in every bottleneck, "
        "after its last BatchNorm: each channel is averaged to one number, the 16-fold squeezed and re-expanded "
        "vector gates the channels (sigmoid), so the block learns which channels matter for this image. Node ids "
        "are timm's module names: timm.create_model('seresnet50').state_dict() loads with strict=True. "
        "28.1 million parameters. Input 3x224x224; 1000 classes.",
    ),
    *(
        Template(
            f"bagnet{rf}",
            lambda rf=rf: teaching.bagnet(rf),
            f"A BagNet-style classifier (Brendel and Bethge, 2019) for 1x28x28 images whose every output position "
            f"sees only a {rf}x{rf} patch: 3x3 convolutions widen the view ({rf_steps}), 1x1 convolutions add "
            "depth without widening it, a 1x1 convolution scores every class at each position, and the average of "
            "those scores classifies the image, as a bag of local features blind to their arrangement. Compare "
            "bagnet9, bagnet17 and bagnet33: how much of a shape must a feature see to tell it? The receptive "
            "field of each node is in its explanation.",
        )
        for rf, rf_steps in (
            (9, "3, 5 with stride 2, then 9"),
            (17, "3, 5 with stride 2, then 9, 13, 17"),
            (33, "3, 5 with stride 2, then 4 more per layer up to 33"),
        )
    ),
]


def render(template: Template) -> str:
    """The template's file text."""
    graph = template.build()
    graph.extra["description"] = template.description
    training = recipes.training_section(template.name)
    if training is not None:
        graph.extra["training"] = training
    return dumps(graph)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    parser.add_argument("--dir", type=Path, default=TEMPLATES_DIR, help="folder to write to (default: templates/)")
    args = parser.parse_args(argv)
    stale = []
    for template in TEMPLATES:
        path = args.dir / f"{template.name}.json"
        text = render(template)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path.name)
        if not args.check:
            write_atomic(path, text.encode("utf-8"))
    verb = "out of date" if args.check else "written"
    print(f"{len(stale)} of {len(TEMPLATES)} templates {verb}" + (": " + ", ".join(stale) if stale else ""))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
