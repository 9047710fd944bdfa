"""Parameter counts, mult-adds and memory against torchinfo, per leaf module and in total, for batch 1 and 3.

The model is the compiled design (``designer.compile(graph, seed=0)``); torchinfo's ``summary_list`` entries are
matched to node ids through the dotted names of ``named_modules()``.
"""

from __future__ import annotations

import sys
from math import prod

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from torchinfo import summary

import designer
from designer import analyze, list_specs
from designer.analysis.summary import totals
from designer.model.graph import Graph
from tests.helpers import chain, graph
from tests.test_layers_property import STRATEGIES, Case

BATCHES = (1, 3)
#: torchinfo sizes each input with ``sys.getsizeof`` of its storage, which adds the Python object header (a constant
#: per tensor, invisible in its MB figures) to the element bytes the designer counts.
STORAGE_HEADER_BYTES = sys.getsizeof(torch.empty(0).untyped_storage())


def compare_with_torchinfo(design: Graph) -> None:
    """Every leaf module and every total of the design equals torchinfo's figure, for each batch size."""
    analysis = analyze(design)
    assert analysis.ok, analysis.errors
    model = designer.compile(design, seed=0)
    names = {id(m): name for name, m in model.named_modules()}
    input_shapes = [analysis.shape(i) for i in design.input_ids()]
    module_nodes = {n.id for n in design if analysis.info[n.id].spec.is_module}
    for batch in BATCHES:
        data = [torch.randn(batch, *s) for s in input_shapes]
        stats = summary(model, input_data=data, verbose=0)
        leaves = [li for li in stats.summary_list if li.is_leaf_layer]
        assert {names[id(li.module)] for li in leaves} == module_nodes
        for li in leaves:
            info = analysis.info[names[id(li.module)]]
            assert li.output_size == [batch, *info.shape], info.node.id
            assert (li.num_params, li.trainable_params) == (info.params, info.trainable_params), info.node.id
            assert li.macs == info.mult_adds * batch, info.node.id
        t = totals(analysis, batch)
        assert (stats.total_params, stats.trainable_params) == (analysis.total_params, analysis.trainable_params)
        assert (t.params, t.trainable_params) == (stats.total_params, stats.trainable_params)
        assert stats.total_mult_adds == t.mult_adds == analysis.total_mult_adds * batch
        assert stats.total_output_bytes == t.activation_bytes
        assert stats.total_param_bytes == t.param_bytes
        assert stats.total_input == t.input_bytes + len(data) * STORAGE_HEADER_BYTES


def _summarisable(case: Case) -> bool:
    """Valid, and runnable on a batch of 1 (counts do not depend on the batch; the property test runs batch 2)."""
    if not analyze(case.design()).ok:
        return False
    # In eval mode BatchNorm without running stats still normalises with batch statistics, and GroupNorm always
    # does per sample and group: torch refuses both when that is a single value (a batch of 1, one value each).
    shape = case.shapes[0]
    if case.type == "GroupNorm" and shape[0] // case.params["num_groups"] * prod(shape[1:]) == 1:
        return False
    return case.params.get("track_running_stats") is not False


MODULE_TYPES = [s.name for s in list_specs() if s.is_module]


@pytest.mark.parametrize("type_name", MODULE_TYPES)
def test_layer_counts_equal_torchinfo(type_name: str):
    @settings(
        max_examples=4,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    )
    @given(STRATEGIES[type_name].filter(_summarisable))
    def run(case: Case) -> None:
        compare_with_torchinfo(case.design())

    run()


def _residual() -> Graph:
    return graph(
        ("x", "Input", {"shape": [8, 12, 12]}, []),
        (
            "layer1.0.conv1",
            "Conv2d",
            {"out_channels": 16, "kernel_size": 3, "stride": 2, "padding": 1, "bias": False},
            ["x"],
        ),
        ("layer1.0.bn1", "BatchNorm2d", {}, ["layer1.0.conv1"]),
        ("layer1.0.relu", "ReLU", {}, ["layer1.0.bn1"]),
        (
            "layer1.0.conv2",
            "Conv2d",
            {"out_channels": 16, "kernel_size": 3, "padding": 1, "bias": False},
            ["layer1.0.relu"],
        ),
        ("layer1.0.bn2", "BatchNorm2d", {}, ["layer1.0.conv2"]),
        ("layer1.0.downsample.0", "Conv2d", {"out_channels": 16, "kernel_size": 1, "stride": 2, "bias": False}, ["x"]),
        ("layer1.0.downsample.1", "BatchNorm2d", {}, ["layer1.0.downsample.0"]),
        ("layer1.0.add", "Add", {}, ["layer1.0.bn2", "layer1.0.downsample.1"]),
        ("layer1.0.out", "ReLU", {}, ["layer1.0.add"]),
    )


def _inception() -> Graph:
    conv = "Conv2d"
    return graph(
        ("x", "Input", {"shape": [8, 10, 10]}, []),
        ("b1", conv, {"out_channels": 4, "kernel_size": 1}, ["x"]),
        ("b2_reduce", conv, {"out_channels": 3, "kernel_size": 1}, ["x"]),
        ("b2", conv, {"out_channels": 6, "kernel_size": 3, "padding": 1}, ["b2_reduce"]),
        ("b3_reduce", conv, {"out_channels": 2, "kernel_size": 1}, ["x"]),
        ("b3", conv, {"out_channels": 5, "kernel_size": 5, "padding": "same"}, ["b3_reduce"]),
        ("b4_pool", "MaxPool2d", {"kernel_size": 3, "stride": 1, "padding": 1}, ["x"]),
        ("b4", conv, {"out_channels": 3, "kernel_size": 1}, ["b4_pool"]),
        ("cat", "Concat", {}, ["b1", "b2", "b3", "b4"]),
        ("gap", "AdaptiveAvgPool2d", {"output_size": 1}, ["cat"]),
        ("flat", "Flatten", {}, ["gap"]),
        ("fc", "Linear", {"out_features": 7}, ["flat"]),
    )


def _two_inputs() -> Graph:
    return graph(
        ("image", "Input", {"shape": [3, 12, 12]}, []),
        ("side", "Input", {"shape": [5]}, []),
        ("conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2}, ["image"]),
        ("pool", "AdaptiveMaxPool2d", {"output_size": [2, 2]}, ["conv"]),
        ("flat", "Flatten", {}, ["pool"]),
        ("meta_fc", "Linear", {"out_features": 6}, ["side"]),
        ("meta_norm", "LayerNorm", {}, ["meta_fc"]),
        ("join", "Concat", {"dim": 1}, ["flat", "meta_norm"]),
        ("head", "Linear", {"out_features": 3}, ["join"]),
    )


def _multi_output() -> Graph:
    return graph(
        ("x", "Input", {"shape": [3, 16, 16]}, []),
        ("trunk", "Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, ["x"]),
        ("trunk_act", "SiLU", {}, ["trunk"]),
        ("gate_pool", "AdaptiveAvgPool2d", {"output_size": 1}, ["trunk_act"]),
        ("gate", "Conv2d", {"out_channels": 8, "kernel_size": 1}, ["gate_pool"]),
        ("gate_act", "Hardsigmoid", {}, ["gate"]),
        ("se", "Mul", {}, ["trunk_act", "gate_act"]),
        ("seg", "ConvTranspose2d", {"out_channels": 2, "kernel_size": 2, "stride": 2}, ["se"]),
        ("cls_pool", "AdaptiveAvgPool2d", {"output_size": 1}, ["se"]),
        ("cls_flat", "Flatten", {}, ["cls_pool"]),
        ("cls", "Linear", {"out_features": 4}, ["cls_flat"]),
        outputs=["cls", "seg"],
    )


def _frozen() -> Graph:
    design = chain(
        [3, 14, 14],
        ("Conv2d", {"out_channels": 6, "kernel_size": 3}),
        ("BatchNorm2d", {}),
        ("ReLU", {}),
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "groups": 2}),
        ("GroupNorm", {"num_groups": 4}),
        ("Flatten", {}),
        ("Linear", {"out_features": 5}),
    )
    for node_id in ("n1", "n2", "n5"):
        design[node_id].frozen = True
    return design


@pytest.mark.parametrize(
    "build", [_residual, _inception, _two_inputs, _multi_output, _frozen], ids=lambda f: f.__name__.strip("_")
)
def test_graph_counts_equal_torchinfo(build):
    compare_with_torchinfo(build())


def test_frozen_nodes_are_not_trainable():
    analysis = analyze(_frozen())
    frozen = sum(analysis.info[n].params for n in ("n1", "n2", "n5"))
    assert frozen > 0 and analysis.trainable_params == analysis.total_params - frozen
