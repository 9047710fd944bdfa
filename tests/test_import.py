"""Import of torchvision models, user nn.Module factories and ONNX files as editable designs."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import designer
from designer.cli import main
from designer.export.checkpoint import load_checkpoint, save_checkpoint
from designer.importers import ModelImportError, import_source
from designer.importers.fx_import import import_module

from .helpers import graph, randomize_norms


def _parity(result, model, input_shape, n_outputs=1):
    """The design has the model's parameter count, loads its state_dict strictly and computes the same outputs."""
    design = designer.compile(result.graph).eval()
    assert sum(p.numel() for p in design.parameters()) == sum(p.numel() for p in model.parameters())
    assert designer.analyze(result.graph).total_params == sum(p.numel() for p in model.parameters())
    design.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, *input_shape)
    with torch.no_grad():
        want, got = model.eval()(x), design(x)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == n_outputs
    torch.testing.assert_close(got[0], want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "name, shape",
    [
        ("resnet18", [3, 64, 64]),
        ("mobilenet_v2", [3, 64, 64]),
        ("squeezenet1_1", [3, 96, 96]),
        pytest.param("alexnet", [3, 96, 96], marks=pytest.mark.slow),
        ("mobilenet_v3_small", [3, 64, 64]),
    ],
)
def test_torchvision_models(name, shape):
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None)
    result = import_module(model, shape, name)
    assert designer.analyze(result.graph).ok
    _parity(result, model, shape)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, shape", [("densenet121", [3, 64, 64]), ("resnet50", [3, 64, 64]), ("vgg11", [3, 32, 32])]
)
def test_larger_torchvision_models(name, shape):
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None)
    _parity(import_module(model, shape, name), model, shape)


@pytest.mark.slow
def test_googlenet_keeps_its_auxiliary_classifiers_as_outputs():
    model = torchvision.models.googlenet(weights=None, init_weights=True)
    result = import_module(model, [3, 224, 224], "googlenet")
    assert result.graph.output_ids() == ["fc", "aux2.fc2", "aux1.fc2"]
    _parity(result, model, [3, 224, 224], n_outputs=3)


def test_module_names_become_node_ids():
    result = import_source("torchvision:resnet18", [3, 32, 32])
    ids = result.graph.ids()
    assert {"conv1", "layer1.0.conv1", "layer1.0.relu", "layer1.0.relu_1", "layer2.0.downsample.0", "fc"} <= set(ids)
    assert result.graph["layer1.0.add"].type == "Add"  # the functional `out += identity` inside BasicBlock
    assert result.graph["flatten"].type == "Flatten"


class UserNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8))
        self.gate = nn.Conv2d(8, 8, 1)
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        x = x * torch.sigmoid(self.gate(x))
        x = torch.cat([x, x], dim=1)[:, :8] if False else x
        x = nn.functional.adaptive_avg_pool2d(x, 1)
        return self.head(x.view(x.size(0), -1))


class _Unmappable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(self.conv(x), dim=1) * self.scale


def test_user_module_factory(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(
        textwrap.dedent("""
        from tests.test_import import UserNet

        def build():
            return UserNet()
    """),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    result = import_source("module:my_models:build", [3, 16, 16])
    types = [n.type for n in result.graph]
    assert types == [
        "Input",
        "Conv2d",
        "BatchNorm2d",
        "ReLU",
        "Conv2d",
        "Sigmoid",
        "Mul",
        "AdaptiveAvgPool2d",
        "Flatten",
        "Linear",
    ]
    sys.modules.pop("my_models", None)


def test_unmappable_operations_are_named_not_dropped():
    with pytest.raises(ModelImportError) as info:
        import_module(_Unmappable(), [3, 8, 8])
    text = str(info.value)
    assert "cumsum" in text and "scale" in text


def test_unknown_sources_are_clear_errors():
    for source in ("torchvision:not_a_model", "keras:x", "module:nope_pkg:make", "onnx:/does/not/exist.onnx"):
        with pytest.raises(ModelImportError):
            import_source(source)


# -- ONNX -----------------------------------------------------------------------------------------------------------


def _reference_design():
    return graph(
        ("x", "Input", {"shape": [3, 16, 16]}, []),
        ("stem.conv", "Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1, "bias": False}, ["x"]),
        ("stem.bn", "BatchNorm2d", {}, ["stem.conv"]),
        ("stem.relu", "ReLU", {}, ["stem.bn"]),
        ("b1", "Conv2d", {"out_channels": 4, "kernel_size": 1}, ["stem.relu"]),
        ("b2", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, ["stem.relu"]),
        ("cat", "Concat", {}, ["b1", "b2"]),
        ("add", "Add", {}, ["cat", "stem.relu"]),
        ("up", "Upsample", {"scale_factor": 2}, ["add"]),
        ("deconv", "ConvTranspose2d", {"out_channels": 4, "kernel_size": 2, "stride": 2}, ["add"]),
        ("pool", "MaxPool2d", {"kernel_size": 2}, ["up"]),
        ("gap", "AdaptiveAvgPool2d", {"output_size": 1}, ["pool"]),
        ("flat", "Flatten", {}, ["gap"]),
        ("fc", "Linear", {"out_features": 5}, ["flat"]),
        ("sm", "Softmax", {}, ["fc"]),
        outputs=["fc", "deconv", "sm"],
    )


@pytest.mark.slow  # the first ONNX export of a process loads the exporter: seconds, for the slow tier
@pytest.mark.parametrize("exporter", ["designer", "torchscript", "dynamo"])
def test_onnx_round_trip_gives_the_same_design_numbers_and_outputs(tmp_path, exporter):
    g = _reference_design()
    module = randomize_norms(designer.compile(g, seed=0))
    path = tmp_path / "m.onnx"
    x = torch.randn(1, 3, 16, 16)
    names = {"input_names": ["x"], "output_names": ["fc", "deconv", "sm"]}
    if exporter == "designer":
        from designer.export import export

        export(g, path, "onnx", state_dict=module.state_dict())
    elif exporter == "dynamo":
        torch.onnx.export(
            module,
            (x,),
            str(path),
            dynamo=True,
            dynamic_shapes=({0: torch.export.Dim("N")},),
            external_data=False,
            verbose=False,
            optimize=False,
            **names,
        )
    else:
        torch.onnx.export(
            module, (x,), str(path), dynamo=False, dynamic_axes={"x": {0: "N"}}, do_constant_folding=False, **names
        )
    result = import_source(f"onnx:{path}")
    before, after = designer.analyze(g), designer.analyze(result.graph)
    assert after.ok
    assert (after.total_params, after.total_mult_adds) == (before.total_params, before.total_mult_adds)
    assert [n.type for n in result.graph] == [n.type for n in g]
    imported = designer.compile(result.graph).eval()
    imported.load_state_dict(result.state_dict, strict=True)
    xb = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        for a, b in zip(module(xb), imported(xb)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_template_round_trip_through_onnx(tmp_path):
    from designer.editing.templates import load_template
    from designer.export import export

    g = load_template("resnet18")
    export(g, tmp_path / "r.onnx", "onnx", seed=0)
    result = import_source(f"onnx:{tmp_path / 'r.onnx'}")
    before, after = designer.analyze(g), designer.analyze(result.graph)
    assert (after.total_params, after.total_mult_adds) == (before.total_params, before.total_mult_adds)
    assert result.graph.ids() == g.ids()  # the residual adds too: the export gives them their ids as scopes


def test_onnx_matmul_add_becomes_one_linear(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    b = np.arange(3, dtype=np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="fc/MatMul"),
        helper.make_node("Add", ["h", "b"], ["y"], name="fc/Add"),
        helper.make_node("Relu", ["y"], ["z"], name="act"),
    ]
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
            [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 3])],
            [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    onnx.save(model, tmp_path / "mm.onnx")
    result = import_source(f"onnx:{tmp_path / 'mm.onnx'}")
    assert [(n.type, n.params) for n in result.graph] == [
        ("Input", {"shape": [6]}),
        ("Linear", {"out_features": 3}),
        ("ReLU", {}),
    ]


def test_onnx_unmappable_operator_is_named(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="r1"),
        helper.make_node("Erf", ["r"], ["e"], name="weird"),
        helper.make_node("Relu", ["e"], ["y"], name="r2"),
    ]
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    onnx.save(model, tmp_path / "erf.onnx")
    with pytest.raises(ModelImportError) as info:
        import_source(f"onnx:{tmp_path / 'erf.onnx'}")
    assert "'weird' (Erf)" in str(info.value) and "1 operations that depend on them" in str(info.value)


def test_cli_import_writes_design_and_checkpoint(tmp_path, capsys):
    g = _reference_design()
    module = randomize_norms(designer.compile(g, seed=1))
    onnx_path = tmp_path / "m.onnx"
    torch.onnx.export(
        module,
        (torch.randn(1, 3, 16, 16),),
        str(onnx_path),
        dynamo=False,
        input_names=["x"],
        output_names=["fc", "deconv", "sm"],
        dynamic_axes={"x": {0: "N"}},
        do_constant_folding=False,
    )
    out = tmp_path / "design.json"
    assert main(["import", f"onnx:{onnx_path}", "-o", str(out)]) == 0
    assert main(["validate", str(out)]) == 0
    graph_back, state = load_checkpoint(tmp_path / "design.pt")
    assert designer.dumps(graph_back) == out.read_text(encoding="utf-8")
    torch.testing.assert_close(state["stem.bn.running_var"], module.state_dict()["stem.bn.running_var"])
    capsys.readouterr()  # validate's own warnings (design advice) are not the import's
    assert main(["import", "torchvision:no_such_model", "-o", str(tmp_path / "x.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("torchvision:no_such_model: ")


@pytest.mark.slow
def test_cli_import_with_local_weights(tmp_path, capsys):
    torch.manual_seed(3)
    model = torchvision.models.resnet18(weights=None)
    weights = tmp_path / "r18.pth"
    torch.save(model.state_dict(), weights)
    out = tmp_path / "r18.json"
    assert (
        main(["import", "torchvision:resnet18", "-o", str(out), "--weights", str(weights), "--input-shape", "3,32,32"])
        == 0
    )
    _, state = load_checkpoint(tmp_path / "r18.pt")
    torch.testing.assert_close(state["fc.weight"], model.state_dict()["fc.weight"])
    capsys.readouterr()


def test_checkpoint_helper_is_the_one_the_cli_uses(tmp_path):
    g = _reference_design()
    save_checkpoint(tmp_path / "c.pt", g, designer.compile(g, seed=0))
    assert designer.dumps(load_checkpoint(tmp_path / "c.pt")[0]) == designer.dumps(g)


@pytest.mark.slow
def test_an_onnx_file_with_a_fixed_batch_of_one_imports(tmp_path):
    """torch.onnx.export without dynamic axes fixes the batch at 1; the import check fed 2 samples and failed with
    onnxruntime's raw error. A stem named like the block it precedes (``block``, ``block.conv``) used to hang."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block = nn.Conv2d(3, 4, 3)
            self.inner = nn.Sequential(nn.ReLU(), nn.Conv2d(4, 2, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(self.block(x)).flatten(1)

    model = Net().eval()
    path = tmp_path / "fixed.onnx"
    torch.onnx.export(model, (torch.randn(1, 3, 8, 8),), str(path), dynamo=False, do_constant_folding=False)
    result = import_source(f"onnx:{path}")
    assert any("match onnxruntime" in note for note in result.notes)
    design = designer.compile(result.graph).eval()
    design.load_state_dict(result.state_dict, strict=True)
    x = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(design(x), model(x), atol=1e-5, rtol=1e-5)
