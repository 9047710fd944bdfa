"""Building blocks: each emits a valid, prefixed subgraph, and matches torchvision's module of the same name."""

from __future__ import annotations

import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torchvision.models import densenet, mobilenetv2, resnet, squeezenet
from torchvision.models.googlenet import Inception
from torchvision.models.inception import BasicConv2d
from torchvision.ops import Conv2dNormActivation, SqueezeExcitation

import designer
from designer.blocks import BLOCKS, BlockResult, Builder, unique_prefix
from designer.model.diagnostics import DesignError
from designer.model.graph import Graph, Node, NodeId
from designer.model.params import Param

from .helpers import randomize_norms

#: Parameter sets per block: (input shape, params). Every registered block must appear here.
CASES: dict[str, list[tuple[tuple[int, ...], dict[str, Any]]]] = {
    "conv_bn_act": [
        ((3, 16, 16), {}),
        ((8, 9, 9), {"out_channels": 8, "kernel_size": 5, "stride": 2}),
        ((8, 8, 8), {"groups": 8, "out_channels": 16, "activation": "none"}),
    ],
    "vgg": [((3, 16, 16), {}), ((8, 9, 9), {"convs": 3, "batch_norm": True, "out_channels": 4})],
    "depthwise_separable": [((8, 16, 16), {}), ((6, 9, 9), {"out_channels": 12, "stride": 2})],
    "factorized_conv": [((8, 12, 12), {}), ((4, 9, 9), {"n": 3, "out_channels": 6, "mid_channels": 5})],
    "basic_residual": [((64, 8, 8), {}), ((16, 9, 9), {"planes": 32, "stride": 2}), ((8, 8, 8), {"planes": 16})],
    "bottleneck": [
        ((256, 8, 8), {}),
        ((16, 8, 8), {"planes": 8, "stride": 2}),
        ((32, 8, 8), {"planes": 8, "groups": 4, "width_per_group": 16, "expansion": 2}),
    ],
    "inverted_residual": [
        ((32, 8, 8), {}),
        ((16, 9, 9), {"out_channels": 24, "stride": 2}),
        ((8, 8, 8), {"out_channels": 8, "expand_ratio": 1}),
    ],
    "squeeze_excitation": [((32, 8, 8), {}), ((8, 5, 5), {"reduction": 4}), ((3, 4, 4), {"reduction": 8})],
    "inception": [
        ((32, 8, 8), {}),
        (
            (16, 7, 7),
            {"ch1x1": 4, "ch3x3red": 4, "ch3x3": 8, "ch5x5red": 2, "ch5x5": 4, "pool_proj": 4, "branch3_kernel": 3},
        ),
    ],
    "fire": [((32, 8, 8), {}), ((16, 7, 7), {"squeeze_planes": 4, "expand1x1_planes": 8, "expand3x3_planes": 8})],
    "dense_layer": [((16, 8, 8), {}), ((10, 5, 5), {"growth_rate": 4, "bn_size": 2})],
    "dense_block": [((16, 8, 8), {"num_layers": 2}), ((8, 5, 5), {"num_layers": 3, "growth_rate": 4, "bn_size": 2})],
    "transition": [((16, 8, 8), {}), ((10, 5, 5), {"out_channels": 3})],
}


def _design(result: BlockResult, in_shape: tuple[int, ...]) -> Graph:
    return Graph("block", [Node(NodeId("x"), "Input", {"shape": list(in_shape)}), *[n.clone() for n in result.nodes]])


def test_every_block_has_cases_and_a_documented_schema():
    assert set(CASES) == set(BLOCKS)
    for spec in BLOCKS.values():
        assert spec.title and spec.doc and spec.prefix
        for p in spec.params:
            assert isinstance(p, Param) and p.doc, (spec.name, p.name)
            assert p.read(p.default) == p.canonical_default  # defaults pass their own schema


@pytest.mark.parametrize("name,in_shape,params", [(n, s, p) for n, cases in CASES.items() for s, p in cases])
def test_block_emits_a_valid_prefixed_subgraph(name, in_shape, params):
    result = BLOCKS[name].emit("blk", "x", in_shape, **params)
    assert all(n.id.startswith("blk.") for n in result.nodes)
    assert len({n.id for n in result.nodes}) == len(result.nodes)
    assert result.output_id in {n.id for n in result.nodes}
    analysis = designer.analyze(_design(result, in_shape))
    assert [d for d in analysis.diagnostics if not d.code.startswith("advice.")] == []  # vgg: biases before BN
    assert {n.id: analysis.shape(n.id) for n in result.nodes} == result.shapes
    module = designer.compile(_design(result, in_shape), seed=0).eval()
    with torch.no_grad():
        out = module(torch.randn(2, *in_shape))
    assert tuple(out.shape) == (2, *result.out_shape)


def _check_against(result: BlockResult, in_shape: tuple[int, ...], reference: nn.Module, prefix: str = "blk"):
    """Same parameter count, reference's state_dict loads strictly under ``prefix``, same output."""
    torch.manual_seed(0)
    randomize_norms(reference)
    ours = designer.compile(_design(result, in_shape), seed=0)
    analysis = designer.analyze(_design(result, in_shape))
    n_ref = sum(p.numel() for p in reference.parameters())
    assert analysis.total_params == n_ref == sum(p.numel() for p in ours.parameters())
    ours.load_state_dict({f"{prefix}.{k}": v for k, v in reference.state_dict().items()}, strict=True)
    ours.eval()
    reference.eval()
    x = torch.randn(2, *in_shape)
    with torch.no_grad():
        expected = reference(x)
        got = ours(x)
    assert tuple(got.shape) == (2, *result.out_shape)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def _downsample(c_in: int, c_out: int, stride: int) -> nn.Sequential | None:
    if stride == 1 and c_in == c_out:
        return None
    return nn.Sequential(resnet.conv1x1(c_in, c_out, stride), nn.BatchNorm2d(c_out))


@pytest.mark.parametrize("c_in,planes,stride", [(16, 16, 1), (8, 16, 2), (8, 16, 1)])
def test_basic_block_is_torchvision_basic_block(c_in, planes, stride):
    result = BLOCKS["basic_residual"].emit("blk", "x", (c_in, 9, 9), planes=planes, stride=stride)
    reference = resnet.BasicBlock(c_in, planes, stride, _downsample(c_in, planes, stride))
    _check_against(result, (c_in, 9, 9), reference)


@pytest.mark.parametrize("c_in,planes,stride,groups,width", [(32, 8, 1, 1, 64), (16, 8, 2, 1, 64), (16, 8, 1, 4, 8)])
def test_bottleneck_is_torchvision_bottleneck(c_in, planes, stride, groups, width):
    params = {"planes": planes, "stride": stride, "groups": groups, "width_per_group": width}
    result = BLOCKS["bottleneck"].emit("blk", "x", (c_in, 8, 8), **params)
    reference = resnet.Bottleneck(c_in, planes, stride, _downsample(c_in, planes * 4, stride), groups, width)
    _check_against(result, (c_in, 8, 8), reference)


@pytest.mark.parametrize("c_in,c_out,stride,t", [(16, 16, 1, 6), (16, 24, 2, 6), (8, 8, 1, 1), (8, 12, 1, 3)])
def test_inverted_residual_is_torchvision_inverted_residual(c_in, c_out, stride, t):
    result = BLOCKS["inverted_residual"].emit(
        "blk", "x", (c_in, 8, 8), out_channels=c_out, stride=stride, expand_ratio=t
    )
    assert any(n.type == "Add" for n in result.nodes) == (stride == 1 and c_in == c_out)
    _check_against(result, (c_in, 8, 8), mobilenetv2.InvertedResidual(c_in, c_out, stride, t))


def test_squeeze_excitation_is_torchvision_ops_squeeze_excitation():
    result = BLOCKS["squeeze_excitation"].emit("blk", "x", (32, 6, 6), reduction=8)
    _check_against(result, (32, 6, 6), SqueezeExcitation(32, 4))


def test_inception_is_torchvision_googlenet_inception():
    setting = {"ch1x1": 8, "ch3x3red": 6, "ch3x3": 12, "ch5x5red": 2, "ch5x5": 4, "pool_proj": 4}
    result = BLOCKS["inception"].emit("blk", "x", (16, 7, 7), branch3_kernel=3, **setting)
    assert result.out_shape == (28, 7, 7)
    _check_against(result, (16, 7, 7), Inception(16, *setting.values()))


def test_fire_is_torchvision_fire():
    result = BLOCKS["fire"].emit("blk", "x", (16, 7, 7), squeeze_planes=4, expand1x1_planes=8, expand3x3_planes=6)
    _check_against(result, (16, 7, 7), squeezenet.Fire(16, 4, 8, 6))


class _LayerWithConcat(nn.Module):
    """A dense layer as DenseNet uses it: new features concatenated to the input."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.layer(x)], 1)


def test_dense_layer_is_torchvision_dense_layer_plus_concat():
    result = BLOCKS["dense_layer"].emit("blk.layer", "x", (12, 6, 6), growth_rate=4, bn_size=2)
    reference = _LayerWithConcat(densenet._DenseLayer(12, growth_rate=4, bn_size=2, drop_rate=0))
    _check_against(result, (12, 6, 6), reference)


def test_dense_block_and_transition_are_torchvision_modules():
    block = BLOCKS["dense_block"].emit("blk", "x", (12, 6, 6), num_layers=3, growth_rate=4, bn_size=2)
    assert block.out_shape == (24, 6, 6)
    _check_against(block, (12, 6, 6), densenet._DenseBlock(3, 12, bn_size=2, growth_rate=4, drop_rate=0))
    trans = BLOCKS["transition"].emit("blk", "x", (24, 6, 6))
    _check_against(trans, (24, 6, 6), densenet._Transition(24, 12))


def test_factorized_conv_is_two_inception_v3_basic_convs():
    result = BLOCKS["factorized_conv"].emit("blk", "x", (8, 9, 9), out_channels=12, n=7, mid_channels=6)
    reference = nn.Sequential(
        OrderedDict(
            conv1x7=BasicConv2d(8, 6, kernel_size=(1, 7), padding=(0, 3)),
            conv7x1=BasicConv2d(6, 12, kernel_size=(7, 1), padding=(3, 0)),
        )
    )
    _check_against(result, (8, 9, 9), reference)


def test_depthwise_separable_and_conv_bn_act_are_torchvision_conv_norm_activation():
    result = BLOCKS["depthwise_separable"].emit("blk", "x", (8, 9, 9), out_channels=16, stride=2)
    reference = nn.Sequential(
        OrderedDict(depthwise=Conv2dNormActivation(8, 8, 3, 2, groups=8), pointwise=Conv2dNormActivation(8, 16, 1))
    )
    _check_against(result, (8, 9, 9), reference)
    result = BLOCKS["conv_bn_act"].emit("blk", "x", (8, 9, 9), out_channels=16, kernel_size=5, activation="ReLU6")
    named = Conv2dNormActivation(8, 16, 5, activation_layer=nn.ReLU6)
    reference = nn.Sequential(OrderedDict(conv=named[0], bn=named[1], relu6=named[2]))
    _check_against(result, (8, 9, 9), reference)


def test_vgg_block_is_a_torch_sequential_with_the_same_numbering():
    result = BLOCKS["vgg"].emit("blk", "x", (3, 8, 8), out_channels=4, convs=2, batch_norm=True)
    reference = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
    )
    _check_against(result, (3, 8, 8), reference)


def test_emit_rejects_bad_parameters_and_shapes_with_a_code():
    spec = BLOCKS["basic_residual"]
    with pytest.raises(DesignError) as err:
        spec.emit("res", "x", (8, 8, 8), plane=8)
    assert err.value.code == "param.unknown"
    with pytest.raises(DesignError) as err:
        spec.emit("res", "x", (8, 8, 8), stride=3)
    assert err.value.code == "param.range"
    with pytest.raises(DesignError) as err:
        spec.emit("res", "x", (8, 8, 8), planes=1.5)
    assert err.value.code == "param.type"
    with pytest.raises(DesignError) as err:
        spec.emit("res", "x", (128,))
    assert err.value.code == "shape.needs_map"
    with pytest.raises(DesignError) as err:
        BLOCKS["vgg"].emit("vgg", "x", (3, 1, 1))
    assert err.value.code == "shape.collapse"
    with pytest.raises(DesignError) as err:
        spec.emit("", "x", (8, 8, 8))
    assert err.value.code == "block.prefix"


def test_emit_fills_defaults_and_reads_canonical_values():
    spec = BLOCKS["dense_layer"]
    assert spec.defaults == {"growth_rate": 32, "bn_size": 4}
    result = spec.emit("d", "x", [16, 4, 4])
    assert result.out_shape == (48, 4, 4)


def test_builder_nests_prefixes_and_tracks_shapes():
    b = Builder()
    x = b.input("input", (3, 8, 8))
    stage = b.scope("stage1")
    y = stage.block("basic_residual", "0", x, planes=4, stride=2)
    assert y == "stage1.0.relu_1" and b.shape(y) == (4, 4, 4)
    assert b.nodes[1].id == "stage1.0.conv1"
    graph = b.graph("g")
    assert designer.analyze(graph).diagnostics == []
    with pytest.raises(DesignError):
        b.add("bad", "Linear", y, out_features=3)  # a feature map into Linear: needs a Flatten


def test_unique_prefix_avoids_nodes_and_groups():
    ids = ["input", "res.conv1", "res.bn1", "res_2", "se"]
    assert unique_prefix(ids, "res") == "res_3"
    assert unique_prefix(ids, "se") == "se_2"
    assert unique_prefix(ids, "fire") == "fire"


def test_blocks_and_templates_load_without_torch():
    """The palette and the template menu must not pull torch into a GUI that has not compiled anything."""
    probe = (
        "import sys\nfrom designer.blocks import BLOCKS, mirrors, teaching\nfrom designer.editing.templates import "
        "load_template\nBLOCKS['inception'].emit('i', 'x', (8, 8, 8))\nmirrors.googlenet()\n"
        "load_template('densenet121')\nprint(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
