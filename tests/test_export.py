"""Exports: ONNX (checked in onnxruntime), TorchScript, and the ``export`` command (the Python export is
tests/test_export_python.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from designer import analyze, load
from designer.cli import main
from designer.compiler import compile_graph
from designer.export import ExportError, export_onnx, export_torchscript, onnx_model
from designer.export.checkpoint import save_checkpoint
from designer.importers import import_source
from designer.model.fileformat import save
from designer.model.graph import Graph
from tests.helpers import chain, graph, random_inputs
from tests.test_compiler import ROOT, case_graph, templates, zoo_graph

#: Cases ONNX cannot express (tested for their error below); every other case goes through ONNX.
ONNX_UNSUPPORTED = [
    ("AvgPool2d", {"kernel_size": 2, "divisor_override": 3}, [2, 8, 8]),
    ("AdaptiveMaxPool2d", {"output_size": 3}, [2, 7, 7]),
]
#: TorchScript cannot script a null adaptive output size; such a design is traced instead (tested below).
UNSCRIPTABLE = ("AdaptiveAvgPool2d", {"output_size": [3, None]}, [2, 7, 6])


def unet_graph() -> Graph:
    """Two inputs, two outputs, with ConvTranspose2d, Upsample, Concat and Add."""
    g = graph(
        ("image", "Input", {"shape": [3, 16, 16]}, []),
        ("prior", "Input", {"shape": [4, 8, 8]}, []),
        ("enc.conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, ["image"]),
        ("enc.pool", "MaxPool2d", {"kernel_size": 2}, ["enc.conv"]),
        ("mix", "Add", {}, ["enc.pool", "prior"]),
        ("dec.up", "ConvTranspose2d", {"out_channels": 4, "kernel_size": 2, "stride": 2}, ["mix"]),
        ("dec.resize", "Upsample", {"scale_factor": 2, "mode": "bilinear"}, ["mix"]),
        ("dec.cat", "Concat", {}, ["dec.up", "dec.resize", "enc.conv"]),
        ("head", "Conv2d", {"out_channels": 2, "kernel_size": 1}, ["dec.cat"]),
        ("gap", "AdaptiveAvgPool2d", {"output_size": 1}, ["mix"]),
        ("flat", "Flatten", {}, ["gap"]),
        ("cls", "Linear", {"out_features": 3}, ["flat"]),
        outputs=["head", "cls"],
    )
    g.name = "two-headed u-net"
    return g


def torch_outputs(module: nn.Module, inputs: list[torch.Tensor]) -> list[np.ndarray]:
    with torch.no_grad():
        out = module.eval()(*inputs)
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def jit_load(path: Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch marks TorchScript deprecated; still what we export
        return torch.jit.load(str(path))


# -- ONNX -------------------------------------------------------------------------------------------------------------


def check_onnx(
    path: Path, g: Graph, module: nn.Module, opset: int = onnx_model.DEFAULT_OPSET, batches: tuple[int, ...] = (1, 3)
) -> None:
    """The file is valid ONNX with the design's names, a symbolic batch, the opset, and torch's outputs at each batch
    size (the export traced batch 2, so any other size shows the batch was not baked in)."""
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == list(g.input_ids())
    assert [o.name for o in model.graph.output] == list(g.output_ids())
    for value in list(model.graph.input) + list(model.graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_param, value.name
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [opset]
    assert {p.key for p in model.metadata_props} >= {"cnn-designer.design"}
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in batches:
        inputs = random_inputs(g, batch, seed=batch + 10)
        got = session.run(None, {i: x.numpy() for i, x in zip(g.input_ids(), inputs)})
        for a, b in zip(got, torch_outputs(module, inputs), strict=True):
            assert a.shape == b.shape and np.abs(a - b).max() <= 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("make", [pytest.param(unet_graph, id="unet"), pytest.param(zoo_graph, id="zoo")])
def test_onnx_export_matches_onnxruntime(make, tmp_path):
    g = make()
    module = compile_graph(g, seed=0)
    export_onnx(g, tmp_path / "m.onnx", module=module)
    assert module.training  # the export switched to eval mode only while converting
    check_onnx(tmp_path / "m.onnx", g, module)


#: Templates whose layers and wiring another template already exports here (the value): each export of a 224x224
#: network costs 15-35 s of the suite, and these would prove nothing more in CI, where every layer type is already
#: exported one by one (``zoo``). ``EXPORT_EVERY_TEMPLATE=1`` exports them all (``make test-exports``).
SAME_AS_ANOTHER = {
    "resnet34": "resnet18",
    "resnet50": "resnet18",  # bottlenecks: the same Conv2d/BatchNorm2d/ReLU/Add wiring in 1x1-3x3-1x1
    "resnext50_32x4d": "resnet18",  # ResNet-50 with grouped 3x3 convolutions (grouped: mobilenet's and regnet's)
    "seresnet50": "efficientnet_b0",  # ResNet-50 with squeeze-and-excitation gates, as in EfficientNet's blocks
    "mobilenet_v2": "efficientnet_b0",  # inverted residuals with depthwise 3x3, EfficientNet's without SE
    "regnet_y_400mf": "efficientnet_b0",  # grouped 3x3 convolutions with SE gates in residual blocks
    "densenet121": "googlenet",  # many-input Concats of growing width (each layer type is in the zoo)
    "vgg11": "vgg_cifar",
    "vgg16": "vgg_cifar",
    "vgg16_bn": "vgg_cifar",  # conv-BN-ReLU stacks; AlexNet has the large Linear weights of its head
    "googlenet_no_aux": "googlenet",
    "lenet5_32": "lenet5_28",
    "bagnet17": "bagnet9",
    "bagnet33": "bagnet9",
}


def convnext_first_block() -> Graph:
    """ConvNeXt-Tiny's stem, first block and head at 3x32x32: each of its layer types and its block's wiring
    (LayerNorm2d, the channels-last MLP of Permute, LayerNorm and Linear, LayerScale, stochastic depth, the add),
    with the branch scaled by 1 instead of 1e-6 so that it shows in the outputs."""
    g = load(ROOT / "templates" / "convnext_tiny.json")
    for node in list(g):
        if node.id != "input" and not node.id.startswith(("features.0.", "features.1.0.", "avgpool", "classifier.")):
            g.remove_node(node.id)
    g.disconnect("avgpool", 0)
    g.connect("features.1.0.add", "avgpool")
    g.set_param("classifier.0", "normalized_shape", [96])
    g.set_param("features.1.0.layer_scale", "init_values", 1.0)
    g.set_param("input", "shape", [3, 32, 32])
    return g


#: Templates whose whole export takes minutes here, and the part of them exported instead.
EXPORTED_IN_PART = {"convnext_tiny": convnext_first_block}
EVERY = os.environ.get("EXPORT_EVERY_TEMPLATE") == "1"
EXPORTED = [p for p in templates() if EVERY or (p.stem not in SAME_AS_ANOTHER and p.stem not in EXPORTED_IN_PART)]


def test_every_template_is_exported_or_is_like_one_that_is():
    names = {p.stem for p in templates()}
    assert set(SAME_AS_ANOTHER) <= names and set(SAME_AS_ANOTHER.values()) <= {p.stem for p in EXPORTED}
    assert set(EXPORTED_IN_PART) <= names


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPORTED_IN_PART))
def test_onnx_export_of_template_parts(name, tmp_path):
    g = EXPORTED_IN_PART[name]()
    assert not [d for d in analyze(g).diagnostics if d.is_error]
    module = compile_graph(g, seed=0)
    export_onnx(g, tmp_path / "m.onnx", module=module, verify=False)
    check_onnx(tmp_path / "m.onnx", g, module)


@pytest.mark.slow
@pytest.mark.parametrize("path", EXPORTED, ids=[p.stem for p in EXPORTED])
def test_onnx_export_of_templates(path, tmp_path):
    g = load(path)
    module = compile_graph(g, seed=0)
    export_onnx(g, tmp_path / "m.onnx", module=module, verify=False)  # check_onnx compares on its own
    check_onnx(tmp_path / "m.onnx", g, module, batches=(1,))  # one sample: VGG costs 15 GFLOPs a sample


@pytest.mark.parametrize("type_, params, shape", ONNX_UNSUPPORTED, ids=[c[0] for c in ONNX_UNSUPPORTED])
def test_onnx_refuses_what_it_cannot_express(type_, params, shape, tmp_path):
    g = case_graph(type_, params, shape)
    with pytest.raises(ExportError) as info:
        export_onnx(g, tmp_path / "m.onnx")
    assert [(d.code, d.node_id) for d in info.value.diagnostics] == [("export.onnx_unsupported", "n")]
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.slow
def test_onnx_refuses_a_repeated_output_and_an_opset_it_cannot_write(tmp_path):
    g = chain([4], ("Linear", {"out_features": 2}))
    g.set_outputs(["n1", "n1"])
    with pytest.raises(ExportError) as info:
        export_onnx(g, tmp_path / "m.onnx")
    assert [(d.code, d.node_id) for d in info.value.diagnostics] == [("export.onnx_outputs", None)]
    g.set_outputs(None)
    with pytest.raises(ExportError) as info:
        export_onnx(g, tmp_path / "m.onnx", opset=99)
    assert [d.code for d in info.value.diagnostics] == ["export.onnx_opset"]
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.slow
def test_onnx_an_input_that_is_also_an_output_keeps_its_name_and_comes_back_as_the_input(tmp_path):
    # ONNX forbids a graph input as a graph output: the exporter inserts an Identity that took the input's name, so
    # renaming the input back wrote the same name twice (onnx.checker: not in SSA form).
    g = chain([1, 6, 6], ("Conv2d", {"out_channels": 2, "kernel_size": 3}))
    g.set_outputs(["n1", "x"])
    export_onnx(g, tmp_path / "m.onnx")
    model = onnx.load(tmp_path / "m.onnx")
    onnx.checker.check_model(model, full_check=True)
    assert [v.name for v in model.graph.input] == ["x"]
    assert [v.name for v in model.graph.output] == ["n1", "x_output"]
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    conv, echoed = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": x})
    assert np.array_equal(echoed, x) and conv.shape == (2, 2, 4, 4)
    back = import_source(f"onnx:{tmp_path / 'm.onnx'}").graph  # the Identity is the Input again, not a node
    assert [(n.id, n.type) for n in back] == [("x", "Input"), ("n1", "Conv2d")] and back.output_ids() == ["n1", "x"]


@pytest.mark.slow
def test_onnx_converter_failure_is_located_at_its_node(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_model, "onnx_problems", lambda analysis: [])  # let the converter itself fail
    g = chain([2, 7, 7], ("Conv2d", {"out_channels": 2, "kernel_size": 1}), ("AdaptiveMaxPool2d", {"output_size": 3}))
    with pytest.raises(ExportError) as info:
        export_onnx(g, tmp_path / "m.onnx")
    [problem] = info.value.diagnostics
    assert (problem.code, problem.node_id) == ("export.onnx_unsupported", "n2")
    assert "adaptive_max_pool2d" in problem.message and "\n" not in problem.message


# -- TorchScript ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "g, how",
    [
        pytest.param(zoo_graph(), "scripted", id="zoo", marks=pytest.mark.slow),
        pytest.param(case_graph(*UNSCRIPTABLE), "traced", id="traced"),
    ],
)
def test_torchscript_export(g, how, tmp_path):
    module = compile_graph(g, seed=0)
    assert export_torchscript(g, tmp_path / "m.pt", module=module) == how
    loaded = jit_load(tmp_path / "m.pt")
    assert set(loaded.state_dict()) == set(module.state_dict())
    for batch in (1, 3):
        inputs = random_inputs(g, batch)
        for a, b in zip(torch_outputs(loaded, inputs), torch_outputs(module, inputs), strict=True):
            assert np.allclose(a, b, rtol=1e-5, atol=1e-6)


# -- command line -----------------------------------------------------------------------------------------------------


@pytest.fixture
def design(tmp_path) -> Path:
    path = tmp_path / "design.json"
    save(unet_graph(), path)
    return path


def run_cli(capsys, *args: Any) -> tuple[int, str, list[str]]:
    code = main(["export", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


@pytest.mark.parametrize("fmt", ["python", "torchscript", "checkpoint"])
def test_cli_writes_each_format(fmt, design, tmp_path, capsys):
    out = tmp_path / f"model.{fmt}"
    code, stdout, err = run_cli(capsys, design, "--format", fmt, "-o", out, *(["--seed", 1] if fmt != "python" else []))
    assert (code, err) == (0, [])
    assert out.exists() and str(out) in stdout
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


@pytest.mark.slow
def test_cli_onnx_with_weights_and_opset(design, tmp_path, capsys):
    g = load(design)
    trained = compile_graph(g, seed=5)
    save_checkpoint(tmp_path / "trained.pt", g, trained)
    code, stdout, err = run_cli(
        capsys,
        design,
        "--format",
        "onnx",
        "-o",
        tmp_path / "m.onnx",
        "--weights",
        tmp_path / "trained.pt",
        "--opset",
        20,
    )
    assert (code, err) == (0, []) and "opset 20" in stdout
    check_onnx(tmp_path / "m.onnx", g, trained, opset=20)


def test_cli_checkpoint_as_design_exports_its_weights(design, tmp_path, capsys):
    assert run_cli(capsys, design, "--format", "checkpoint", "-o", tmp_path / "c.pt", "--seed", 2)[0] == 0
    code, _, err = run_cli(capsys, tmp_path / "c.pt", "--format", "torchscript", "-o", tmp_path / "m.ts")
    assert (code, err) == (0, [])
    loaded = jit_load(tmp_path / "m.ts")
    expected = compile_graph(load(design), seed=2).state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in loaded.state_dict().items())


def test_cli_invalid_design_exits_1_one_line_per_error(tmp_path, capsys):
    g = chain(
        [3, 8, 8], ("Conv2d", {"out_channels": 4, "kernel_size": 30}), ("Linear", {"out_features": 2}), ("Dense", {})
    )
    save(g, tmp_path / "bad.json")
    code, _, err = run_cli(capsys, tmp_path / "bad.json", "--format", "python", "-o", tmp_path / "m.py")
    assert code == 1 and not (tmp_path / "m.py").exists()
    assert len(err) == 2 and all(line.startswith(f"{tmp_path / 'bad.json'}: node n") for line in err)
    assert "n1" in err[0] and "n3" in err[1]


def test_cli_unreadable_design_exits_2(tmp_path, capsys):
    (tmp_path / "broken.json").write_text("{not json")
    for path in (tmp_path / "broken.json", tmp_path / "missing.json"):
        code, _, err = run_cli(capsys, path, "--format", "onnx", "-o", tmp_path / "m.onnx")
        assert code == 2 and len(err) == 1 and err[0].startswith(str(path))


def test_cli_bad_weights(design, tmp_path, capsys):
    other = graph(
        ("image", "Input", {"shape": [3, 16, 16]}, []),
        ("enc.conv", "Conv2d", {"out_channels": 8, "kernel_size": 3}, ["image"]),
    )
    save_checkpoint(tmp_path / "other.pt", other, compile_graph(other))
    torch.save({"x": os.system}, tmp_path / "evil.pt")
    out = tmp_path / "m.ts"
    out.write_text("previous")
    code, _, err = run_cli(capsys, design, "--format", "torchscript", "-o", out, "--weights", tmp_path / "other.pt")
    assert code == 1 and out.read_text() == "previous"
    assert any("enc.conv.weight" in line and "[8, 3, 3, 3]" in line for line in err)
    assert any("head.weight" in line for line in err)
    code, _, err = run_cli(capsys, design, "--format", "onnx", "-o", out, "--weights", tmp_path / "missing.pt")
    assert code == 2 and len(err) == 1 and "missing.pt" in err[0]
    code, _, err = run_cli(capsys, design, "--format", "onnx", "-o", out, "--weights", tmp_path / "evil.pt")
    assert code == 2 and len(err) == 1 and "system" in err[0] and "refused" in err[0]


def test_cli_export_failure_exits_1_naming_the_node(tmp_path, capsys):
    save(case_graph(*ONNX_UNSUPPORTED[0]), tmp_path / "pool.json")
    code, _, err = run_cli(capsys, tmp_path / "pool.json", "--format", "onnx", "-o", tmp_path / "m.onnx")
    assert code == 1 and len(err) == 1 and "node n:" in err[0] and "divisor_override" in err[0]


def test_cli_options_that_do_not_apply_exit_2(design, tmp_path, capsys):
    assert run_cli(capsys, design, "--format", "python", "-o", tmp_path / "m.py", "--opset", 17)[0] == 2
    assert run_cli(capsys, design, "--format", "python", "-o", tmp_path / "m.py", "--weights", design)[0] == 2


def test_cli_parser_does_not_import_torch():
    code = "import sys; from designer.cli import build_parser; build_parser(); sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_export_and_compile_errors_cross_a_process_boundary_with_their_diagnostics():
    """Exports run in a worker process: what it raises is pickled, and must arrive whole."""
    import pickle

    from designer.compiler import CompileError
    from designer.model import diagnostics as dg
    from designer.model.diagnostics import DesignError

    problem = dg.error("export.onnx_unsupported", "ONNX cannot express this", "pool", "use AdaptiveAvgPool2d")
    for error in (ExportError([problem]), CompileError([problem])):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and copy.diagnostics == [problem] and str(copy) == str(error)
    design = pickle.loads(pickle.dumps(DesignError("param.range", "too big", "make it smaller", 1)))
    assert (design.code, design.message, design.hint, design.port) == ("param.range", "too big", "make it smaller", 1)
