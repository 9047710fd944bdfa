"""The compiler: module names and nesting, multi-input/output forward, seeded default initialisation, parameter
counts against the validator and torch, and errors on invalid designs."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import torch
import torchvision
from torch import fx, nn

import designer
from designer import analyze, list_types, load
from designer.compiler import CompileError, compile_graph, module_layout
from designer.model.graph import Graph, Node, NodeId
from tests.helpers import chain, graph

ROOT = Path(__file__).resolve().parent.parent

#: One or more (type, params, input shape) per layer type: every registered type must appear (checked below).
CASES: list[tuple[str, dict[str, Any], list[int]]] = [
    ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, [3, 8, 8]),
    (
        "Conv2d",
        {
            "out_channels": 4,
            "kernel_size": [3, 2],
            "stride": 2,
            "groups": 2,
            "bias": False,
            "padding_mode": "reflect",
            "padding": 1,
        },
        [4, 9, 8],
    ),
    ("Conv2d", {"out_channels": 4, "kernel_size": 4, "padding": "same", "dilation": 2}, [2, 9, 9]),
    ("Conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1, "padding_mode": "circular"}, [2, 6, 6]),
    (
        "ConvTranspose2d",
        {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
        [2, 5, 5],
    ),
    (
        "ConvTranspose2d",
        {"out_channels": 4, "kernel_size": 2, "stride": 2, "groups": 2, "bias": False, "dilation": 2},
        [2, 5, 5],
    ),
    ("MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [2, 9, 9]),
    ("MaxPool2d", {"kernel_size": 2, "dilation": 2}, [2, 9, 9]),
    (
        "AvgPool2d",
        {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False, "ceil_mode": True},
        [2, 8, 8],
    ),
    ("AdaptiveAvgPool2d", {"output_size": 1}, [2, 7, 7]),
    ("AdaptiveAvgPool2d", {"output_size": [3, 2]}, [2, 7, 6]),
    ("AdaptiveMaxPool2d", {"output_size": 2}, [2, 8, 8]),
    ("BatchNorm2d", {}, [3, 4, 4]),
    ("BatchNorm2d", {"affine": False, "track_running_stats": False}, [3, 4, 4]),
    ("BatchNorm1d", {}, [6]),
    ("BatchNorm1d", {"momentum": 0.2}, [3, 5]),
    ("LayerNorm", {}, [3, 4, 4]),
    ("LayerNorm", {"normalized_shape": [4], "bias": False}, [3, 4]),
    ("GroupNorm", {"num_groups": 2}, [4, 3, 3]),
    ("LocalResponseNorm", {"size": 3}, [5, 4, 4]),
    ("Dropout", {"p": 0.3}, [5]),
    ("Dropout2d", {}, [3, 4, 4]),
    ("Linear", {"out_features": 5}, [7]),
    ("Linear", {"out_features": 5, "bias": False}, [3, 7]),
    ("Flatten", {}, [2, 3, 4]),
    ("Flatten", {"start_dim": 2}, [2, 3, 4]),
    ("Identity", {}, [4]),
    ("ReLU", {}, [2, 3, 3]),
    ("ReLU6", {}, [2, 3, 3]),
    ("LeakyReLU", {"negative_slope": 0.2}, [5]),
    ("ELU", {"alpha": 0.5}, [5]),
    ("GELU", {"approximate": "tanh"}, [5]),
    ("SiLU", {}, [5]),
    ("Hardswish", {}, [5]),
    ("Hardsigmoid", {}, [5]),
    ("Sigmoid", {}, [5]),
    ("Tanh", {}, [5]),
    ("Hardtanh", {"min_val": -0.5, "max_val": 2.0}, [2, 3, 3]),
    ("Mish", {}, [5]),
    ("Softplus", {"beta": 2.0, "threshold": 1.0}, [2, 3, 3]),
    ("PReLU", {"num_parameters": 2, "init": 0.1}, [2, 3, 3]),
    ("Softmax", {}, [5]),
    ("LogSoftmax", {"dim": -1}, [2, 5]),
    ("Upsample", {"scale_factor": 2}, [2, 3, 3]),
    ("Upsample", {"size": [5, 7], "mode": "bilinear", "align_corners": True}, [2, 3, 3]),
    ("Upsample", {"scale_factor": [1.5, 2], "mode": "bicubic"}, [2, 4, 4]),
    ("Upsample", {"scale_factor": 2, "mode": "nearest-exact"}, [2, 3, 3]),
    ("Upsample", {"size": [2, 3], "mode": "area"}, [2, 5, 7]),
    ("Upsample", {"scale_factor": 1.5, "mode": "bilinear", "recompute_scale_factor": True}, [2, 3, 5]),
    ("ZeroPad2d", {"padding": [1, 2, 0, -1]}, [2, 4, 4]),
    ("ZeroPad2d", {"padding": 1}, [4, 4]),
    ("Reshape", {"shape": [2, -1]}, [4, 3]),
    ("Permute", {"dims": [0, 2, 3, 1]}, [3, 4, 5]),
    ("Slice", {"start": 1, "end": 3}, [4, 3, 3]),
    ("Slice", {"dim": -1, "start": -4, "step": 2}, [2, 5]),
    ("Split", {"chunks": 2}, [4, 3, 3]),
    ("Split", {"dim": -1, "sections": [1, 4]}, [2, 5]),
    ("Mean", {"dim": [2, 3]}, [3, 4, 5]),
    ("ChannelShuffle", {"groups": 2}, [4, 3, 3]),
    ("PixelShuffle", {"upscale_factor": 2}, [8, 3, 3]),
    ("LayerNorm2d", {"eps": 1e-6}, [4, 3, 3]),
    ("LayerScale", {"init_values": 0.5}, [4, 3, 3]),
    ("StochasticDepth", {"p": 0.2, "mode": "row"}, [4, 3, 3]),
    ("Concat", {}, [3, 4, 4]),
    ("Add", {}, [3, 4, 4]),
    ("Mul", {}, [3, 4, 4]),
    ("Maximum", {}, [3, 4, 4]),
    ("Minimum", {}, [3, 4, 4]),
    ("Average", {}, [3, 4, 4]),
    ("ScalarOp", {"op": "rsub", "value": 1.0}, [3, 4, 4]),
]
_MERGES = ("Add", "Mul", "Maximum", "Minimum", "Average", "Concat")


def case_graph(type_: str, params: dict[str, Any], shape: list[int]) -> Graph:
    """One layer fed by one Input (merges get the input twice)."""
    return graph(("x", "Input", {"shape": shape}, []), ("n", type_, params, ["x", "x"] if type_ in _MERGES else ["x"]))


def zoo_graph(cases: list[tuple[str, dict[str, Any], list[int]]] = CASES) -> Graph:
    """Every case side by side in one design: inputs ``in<k>``, layers ``n<k>``, each layer an output."""
    nodes = []
    for k, (type_, params, shape) in enumerate(cases):
        nodes.append((f"in{k}", "Input", {"shape": shape}, []))
        nodes.append((f"n{k}", type_, params, [f"in{k}", f"in{k}"] if type_ in _MERGES else [f"in{k}"]))
    g = graph(*nodes)
    g.name = "zoo"
    return g


def resnet18_graph(num_classes: int = 10, size: int = 32) -> Graph:
    """ResNet-18 as a design, with torchvision's module names (``layer2.0.downsample.0``)."""
    nodes: list[tuple[str, str, dict[str, Any], list[str]]] = [("x", "Input", {"shape": [3, size, size]}, [])]

    def add(node_id: str, type_: str, params: dict[str, Any], *inputs: str) -> str:
        nodes.append((node_id, type_, params, list(inputs) or [nodes[-1][0]]))
        return node_id

    def conv_bn(prefix: str, conv: str, bn: str, out: int, k: int, stride: int, src: str) -> str:
        add(
            f"{prefix}.{conv}",
            "Conv2d",
            {"out_channels": out, "kernel_size": k, "stride": stride, "padding": k // 2, "bias": False},
            src,
        )
        return add(f"{prefix}.{bn}", "BatchNorm2d", {})

    add("conv1", "Conv2d", {"out_channels": 64, "kernel_size": 7, "stride": 2, "padding": 3, "bias": False})
    add("bn1", "BatchNorm2d", {})
    add("relu", "ReLU", {"inplace": True})
    x = add("maxpool", "MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1})
    channels = 64
    for stage, out in enumerate((64, 128, 256, 512), start=1):
        for b in range(2):
            p, stride = f"layer{stage}.{b}", 2 if stage > 1 and b == 0 else 1
            conv_bn(p, "conv1", "bn1", out, 3, stride, x)
            add(f"{p}.relu", "ReLU", {"inplace": True})
            y = conv_bn(p, "conv2", "bn2", out, 3, 1, f"{p}.relu")
            short = conv_bn(p, "downsample.0", "downsample.1", out, 1, stride, x) if out != channels else x
            add(f"{p}.add", "Add", {}, y, short)
            x = add(f"{p}.relu_out", "ReLU", {"inplace": True})
            channels = out
    add("avgpool", "AdaptiveAvgPool2d", {"output_size": 1})
    add("flatten", "Flatten", {})
    add("fc", "Linear", {"out_features": num_classes})
    g = graph(*nodes)
    g.name = "ResNet-18"
    return g


def templates() -> list[Path]:
    return sorted((ROOT / "templates").glob("*.json"))


#: Hand-built designs for the whole-design checks; the templates join them as they land in templates/.
#: Templates small enough to build in the fast tier; the others run in make test's slow tier.
FAST_TEMPLATES = {"small_cnn", "lenet5_28", "fashion_mnist_gap"}

DESIGNS = [pytest.param(resnet18_graph, id="resnet18"), pytest.param(zoo_graph, id="zoo")] + [
    pytest.param(
        lambda path=path: load(path),
        id=f"template:{path.stem}",
        marks=[] if path.stem in FAST_TEMPLATES else [pytest.mark.slow],
    )
    for path in templates()
]


# -- names and nesting ------------------------------------------------------------------------------------------------


def test_resnet18_matches_torchvision_names_parameters_and_outputs():
    g = resnet18_graph()
    model = designer.compile(g, seed=0).eval()
    reference = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    assert model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)
    assert analyze(g).total_params == sum(p.numel() for p in reference.parameters())
    assert list(model.state_dict()) == list(reference.state_dict())  # same order as the file (and torchvision)


def test_dotted_ids_nest_as_containers():
    g = graph(
        ("x", "Input", {"shape": [3, 8, 8]}, []),
        ("stem.conv", "Conv2d", {"out_channels": 4, "kernel_size": 3}, ["x"]),
        ("layer1.1.conv", "Conv2d", {"out_channels": 4, "kernel_size": 1}, ["stem.conv"]),
        ("layer1.0.conv", "Conv2d", {"out_channels": 4, "kernel_size": 1}, ["stem.conv"]),
        ("blocks.3", "ReLU", {}, ["layer1.0.conv"]),
        ("blocks.a", "ReLU", {}, ["blocks.3"]),
        ("misc.keys", "ReLU", {}, ["blocks.a"]),
        ("misc.7", "ReLU", {}, ["misc.keys"]),
        ("sum", "Add", {}, ["misc.7", "layer1.1.conv"]),
    )
    model = compile_graph(g)
    assert model.layer1[0].conv is model.get_submodule("layer1.0.conv")
    assert isinstance(model.layer1, nn.ModuleList) and len(model.layer1) == 2
    assert isinstance(model.blocks, nn.ModuleDict) and isinstance(model.blocks["3"], nn.ReLU)
    assert type(model.stem) is nn.Module and isinstance(model.stem.conv, nn.Conv2d)
    # 'keys' would be shadowed by ModuleDict.keys, so that group stays a plain Module
    assert type(model.misc) is nn.Module and isinstance(model.misc.keys, nn.ReLU)
    keys = {f"{name}.{t}" for name in ("stem.conv", "layer1.0.conv", "layer1.1.conv") for t in ("weight", "bias")}
    assert set(model.state_dict()) == keys
    assert isinstance(model, fx.GraphModule) and "layer1" in model.code
    model(torch.randn(1, 3, 8, 8))


def test_module_layout_orders_children():
    layout = module_layout(["b.1", "a", "b.0", "c.x", "c.2"])
    assert layout[""].children == ["b", "a", "c"]
    assert (layout["b"].kind, layout["b"].children) == ("list", ["0", "1"])
    assert (layout["c"].kind, layout["c"].children) == ("dict", ["x", "2"])


def test_inputs_in_declared_order_outputs_in_outputs_order():
    g = graph(
        ("b", "Input", {"shape": [4]}, []),
        ("a.x", "Input", {"shape": [4]}, []),
        ("fc", "Linear", {"out_features": 4}, ["a.x"]),
        ("mul", "Mul", {}, ["fc", "b"]),
        ("cat", "Concat", {}, ["b", "a.x"]),
        outputs=["cat", "mul", "fc"],
    )
    model = compile_graph(g, seed=1)
    b, a = torch.randn(2, 4), torch.randn(2, 4)
    cat, mul, fc = model(b, a)
    expected_fc = a @ model.fc.weight.T + model.fc.bias
    torch.testing.assert_close(fc, expected_fc)
    torch.testing.assert_close(mul, expected_fc * b)
    assert torch.equal(cat, torch.cat([b, a], dim=1))
    assert list(inspect.signature(model.forward).parameters) == ["b", "a_x"]
    assert torch.equal(model(a_x=a, b=b)[0], cat)
    single = compile_graph(chain([4], ("ReLU", {})))
    assert isinstance(single(torch.randn(1, 4)), torch.Tensor)


# -- initialisation ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "type_, params, shape, reference",
    [
        ("Conv2d", {"out_channels": 8, "kernel_size": 3}, [3, 8, 8], lambda: nn.Conv2d(3, 8, 3)),
        (
            "ConvTranspose2d",
            {"out_channels": 8, "kernel_size": 2, "stride": 2},
            [3, 4, 4],
            lambda: nn.ConvTranspose2d(3, 8, 2, stride=2),
        ),
        ("Linear", {"out_features": 6}, [5], lambda: nn.Linear(5, 6)),
        ("BatchNorm2d", {}, [3, 4, 4], lambda: nn.BatchNorm2d(3)),
    ],
)
def test_initialisation_is_torch_default(type_, params, shape, reference):
    model = compile_graph(case_graph(type_, params, shape), seed=123)
    torch.manual_seed(123)
    expected = reference().state_dict()
    got = model.state_dict()
    assert list(got) == [f"n.{k}" for k in expected]
    assert all(torch.equal(got[f"n.{k}"], v) for k, v in expected.items())


def test_seed_reproducible_and_leaves_global_rng_alone():
    g = resnet18_graph(size=32)
    before = torch.get_rng_state()
    a, b = compile_graph(g, seed=7).state_dict(), compile_graph(g, seed=7).state_dict()
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = compile_graph(g, seed=8).state_dict()
    assert not torch.equal(a["conv1.weight"], other["conv1.weight"])
    unseeded = compile_graph(g).state_dict()
    assert not torch.equal(a["conv1.weight"], unseeded["conv1.weight"])


def test_frozen_nodes_do_not_train():
    g = chain(
        [3, 8, 8], ("Conv2d", {"out_channels": 4, "kernel_size": 3}), ("Conv2d", {"out_channels": 2, "kernel_size": 3})
    )
    g["n1"].frozen = True
    model = compile_graph(g)
    assert [p.requires_grad for p in model.n1.parameters()] == [False, False]
    assert all(p.requires_grad for p in model.n2.parameters())
    assert analyze(g).trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)


# -- parameter counts -------------------------------------------------------------------------------------------------


#: Layers whose second input is not an image (boxes [R, 5] with valid batch indices): random inputs cannot feed them,
#: so tests/test_layers_property_roi.py checks them against torchvision, onnxruntime and the Python export instead.
OWN_TESTS = {"RoIPool", "RoIAlign"}


def test_cases_cover_every_layer_type():
    assert {t for t, _, _ in CASES} | {"Input"} | OWN_TESTS == set(list_types())


@pytest.mark.parametrize("type_, params, shape", CASES, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(CASES)])
def test_layer_parameters_equal_validator(type_, params, shape):
    g = case_graph(type_, params, shape)
    analysis = analyze(g)
    assert analysis.ok, analysis.diagnostics
    model = compile_graph(g, analysis=analysis)
    got = {name.split(".", 1)[1]: tuple(p.shape) for name, p in model.named_parameters()}
    assert got == {k: tuple(v) for k, v in analysis.info[NodeId("n")].weights.items()}
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    out = model(torch.randn(2, *shape))
    assert tuple(out.shape) == (2, *analysis.shape("n"))


@pytest.mark.parametrize("make", DESIGNS)
def test_design_parameters_and_shapes_equal_validator(make):
    g = make()
    analysis = analyze(g)
    assert analysis.ok, analysis.errors
    # On the meta device: counts and shapes come out the same, without initialising or computing 100M weights.
    with torch.device("meta"):
        model = compile_graph(g, analysis=analysis).eval()
        inputs = [torch.empty(1, *analysis.shape(i)) for i in g.input_ids()]
        out = model(*inputs)
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == analysis.trainable_params
    for node_id, info in analysis.info.items():
        if info.spec is not None and info.spec.is_module:
            sub = model.get_submodule(node_id)
            assert {k: tuple(p.shape) for k, p in sub.named_parameters()} == info.weights, node_id
    outs = out if isinstance(out, tuple) else (out,)
    assert [tuple(o.shape[1:]) for o in outs] == [analysis.shape(o) for o in g.output_ids()]


# -- errors -----------------------------------------------------------------------------------------------------------


def test_invalid_design_raises_compile_error_with_diagnostics():
    g = chain([3, 8, 8], ("Conv2d", {"out_channels": 4, "kernel_size": 3}), ("Linear", {"out_features": 2}))
    g.nodes[1].params["kernel_size"] = 20
    with pytest.raises(CompileError) as info:
        compile_graph(g)
    errors = [d for d in info.value.diagnostics if d.is_error]
    assert [(d.code, d.node_id) for d in errors] == [(analyze(g).errors[0].code, "n1")]
    assert errors[0].code.startswith("shape.")
    assert "'n1'" in str(info.value)


def test_id_that_would_shadow_a_graph_module_attribute_raises_compile_error():
    g = chain([4], ("ReLU", {}))
    g.rename_node("n1", "meta")
    with pytest.raises(CompileError) as info:
        compile_graph(g)
    assert [(d.code, d.node_id) for d in info.value.diagnostics] == [("graph.bad_id", "meta")]


def test_unknown_type_raises_compile_error():
    g = Graph("bad", [Node(NodeId("x"), "Input", {"shape": [4]}), Node(NodeId("y"), "Dense", {}, [NodeId("x")])])
    with pytest.raises(CompileError) as info:
        designer.compile(g)
    assert [(d.code, d.node_id) for d in info.value.diagnostics if d.is_error] == [("node.unknown_type", "y")]
