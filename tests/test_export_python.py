"""The Python export: a file that imports only torch, reads like torchvision's model code (one class per repeated
block, Sequentials, no empty containers), strict-loads the compiled design's and torchvision's weights and computes
the same outputs."""

from __future__ import annotations

import ast
import importlib.util
import random
import re
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
import torchvision
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from designer import analyze, load
from designer.compiler import compile_graph
from designer.editing.templates import load_template
from designer.export import export_python, python_source
from designer.export.python_source import aux_outputs
from designer.model.graph import Graph
from tests.helpers import graph, randomize_norms
from tests.test_compiler import resnet18_graph, templates, zoo_graph
from tests.test_export import random_inputs, unet_graph
from tests.test_templates import MIRRORS, SMALL_SIDE


def import_file(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"exported_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exported_model(g: Graph, tmp_path: Path, name: str = "model") -> tuple[nn.Module, str]:
    """Export ``g``, import the file and build its model class; return the model and the source."""
    source = export_python(g, tmp_path / f"{name}.py")
    roi = any(n.type in ("RoIPool", "RoIAlign") for n in g)  # written as torchvision.ops calls
    model_class = check_source(source, {"torchvision.ops"} if roi else set())[-1]
    return getattr(import_file(tmp_path / f"{name}.py", name), model_class.name)(), source


def check_source(source: str, modules: set[str] | None = None) -> list[ast.ClassDef]:
    """Torch-only imports (and ``modules`` imported from), only classes (the model last), readable lines, and no
    container filled by assignment (``nn.Module()``, ``self.a[0].b = ...``); return the classes."""
    tree = ast.parse(source)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert {a.name for n in imports if isinstance(n, ast.Import) for a in n.names} <= {"torch", *(modules or ())}
    assert {n.module for n in imports if isinstance(n, ast.ImportFrom)} <= {"torch", *(modules or ())}
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    assert [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.Assign))] == []
    # nn.LayerNorm: designer.modules.LayerNorm2d, copied into the file, is one (as torchvision's ConvNeXt writes it)
    assert {ast.unparse(c.bases[0]) for c in classes} <= {"nn.Module", "nn.Sequential", "nn.LayerNorm"}
    assert ast.unparse(classes[-1].bases[0]) == "nn.Module"
    assert max(len(line) for line in source.splitlines()) <= 120
    calls = [ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert "nn.Module" not in calls
    targets = [t for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets]
    assert all(ast.unparse(t.value) == "self" for t in targets if isinstance(t, ast.Attribute))
    # LayerScale's load hook fills the state_dict it is handed; no module container is filled by assignment
    assert not [t for t in targets if isinstance(t, ast.Subscript) and ast.unparse(t).startswith("self")]
    return classes


def layer_repr(module: nn.Module) -> str:
    """torch's repr of a layer, with per-axis tuples of one value written as that value (``kernel_size=3`` and
    ``kernel_size=(3, 3)`` build the same pooling layer, but the module keeps what it was given)."""
    return re.sub(r"\((-?[\d.]+)(?:, \1)+\)", r"\1", repr(module))


def leaves(module: nn.Module) -> dict[str, str]:
    return {n: layer_repr(m) for n, m in module.named_modules() if not list(m.children())}


def check_same_layers(exported: nn.Module, compiled: nn.Module) -> None:
    """The same layers under the same names; a layer the export left out is a parameterless ``<name>_<k>`` that
    it calls as its identical sibling ``<name>`` (torchvision's one ReLU per block)."""
    ours, theirs = leaves(exported), leaves(compiled)
    assert set(ours) <= set(theirs)
    for name in set(theirs) - set(ours):
        sibling = re.sub(r"_\d+$", "", name)
        assert sibling != name and ours[sibling] == theirs[name]
        assert not list(compiled.get_submodule(name).parameters())
    assert {n: r for n, r in theirs.items() if n in ours} == ours


def outputs(module: nn.Module, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        out = module(*inputs)
    return out if isinstance(out, tuple) else (out,)


def nested_graph() -> Graph:
    g = graph(
        ("img", "Input", {"shape": [3, 8, 8]}, []),
        ("torch", "Input", {"shape": [4]}, []),
        ("stem.conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1, "bias": False}, ["img"]),
        ("layer1.0.conv1", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, ["stem.conv"]),
        ("layer1.0.bn1", "BatchNorm2d", {}, ["layer1.0.conv1"]),
        ("layer1.0.add", "Add", {}, ["layer1.0.bn1", "stem.conv", "stem.conv"]),
        ("layer1.1.conv1", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, ["layer1.0.add"]),
        ("blocks.3", "ReLU", {}, ["layer1.1.conv1"]),
        ("blocks.a", "Upsample", {"scale_factor": 2, "mode": "bilinear"}, ["blocks.3"]),
        ("misc.keys", "ReLU", {}, ["blocks.3"]),
        ("misc.7", "Identity", {}, ["misc.keys"]),
        ("features.0", "Conv2d", {"out_channels": 2, "kernel_size": 1}, ["misc.7"]),
        ("features.1", "ReLU", {}, ["features.0"]),
        ("cat", "Concat", {}, ["features.1", "blocks.3"]),
        ("r", "Reshape", {"shape": [6, -1]}, ["cat"]),
        ("flat", "Flatten", {}, ["cat"]),
        ("fc", "Linear", {"out_features": 4}, ["flat"]),
        ("nn", "Mul", {}, ["fc", "torch"]),
        outputs=["nn", "r", "blocks.a"],
    )
    g["stem.conv"].frozen = True
    g.name = 'nested "groups"'
    g.extra["description"] = "Dotted ids of every container kind.\nSecond line."
    return g


def reentrant_graph() -> Graph:
    """Group ``enc`` cannot be one call: its output goes out to ``mid`` and comes back into ``enc.b``."""
    return graph(
        ("x", "Input", {"shape": [2, 4, 4]}, []),
        ("enc.a", "Conv2d", {"out_channels": 2, "kernel_size": 1}, ["x"]),
        ("mid", "ReLU", {}, ["enc.a"]),
        ("enc.b", "Conv2d", {"out_channels": 2, "kernel_size": 1}, ["mid"]),
        ("enc.relu", "ReLU", {}, ["enc.b"]),
        ("enc.relu_1", "ReLU", {}, ["enc.relu"]),
    )


def side_graph() -> Graph:
    """A branch nothing uses (the compiled design still runs it) and a group fed by two values."""
    return graph(
        ("x", "Input", {"shape": [3]}, []),
        ("y", "Input", {"shape": [3]}, []),
        ("m.a", "Linear", {"out_features": 3}, ["x"]),
        ("m.add", "Add", {}, ["m.a", "y"]),
        ("unused.fc", "Linear", {"out_features": 2}, ["m.add"]),
        ("fc", "Linear", {"out_features": 2}, ["m.add"]),
        outputs=["fc"],
    )


PY_DESIGNS = [
    pytest.param(nested_graph, id="nested"),
    pytest.param(zoo_graph, id="zoo"),
    pytest.param(resnet18_graph, id="resnet18"),
    pytest.param(unet_graph, id="unet"),
    pytest.param(reentrant_graph, id="reentrant"),
    pytest.param(side_graph, id="side"),
]


@pytest.mark.parametrize("make", PY_DESIGNS)
def test_python_export_loads_compiled_weights_and_matches(make, tmp_path):
    g = make()
    compiled = randomize_norms(compile_graph(g, seed=3))
    exported, source = exported_model(g, tmp_path)
    assert (tmp_path / "model.py").read_text() == source
    assert list(exported.state_dict()) == list(compiled.state_dict())
    exported.load_state_dict(compiled.state_dict(), strict=True)
    check_same_layers(exported, compiled)
    assert [(n, p.requires_grad) for n, p in exported.named_parameters()] == [
        (n, p.requires_grad) for n, p in compiled.named_parameters()
    ]
    inputs = random_inputs(g, 2)
    assert all(torch.equal(a, b) for a, b in zip(outputs(exported.eval(), inputs), outputs(compiled, inputs)))


@pytest.mark.parametrize("make", [zoo_graph, resnet18_graph, nested_graph])
def test_python_export_builds_layers_in_file_order(make, tmp_path):
    """The same seed gives the compiled design's initial weights: layers are built in the order of the file."""
    g = make()
    torch.manual_seed(11)
    exported = exported_model(g, tmp_path)[0]
    compiled = compile_graph(g, seed=11).state_dict()
    assert all(torch.equal(v, compiled[k]) for k, v in exported.state_dict().items())


def test_python_export_is_readable():
    source = python_source(nested_graph())
    assert "self.layer1 = nn.Sequential(ResidualBlock(bn1=True, use_add=True), ResidualBlock())" in source
    assert (
        'self.blocks = nn.ModuleDict({"3": nn.ReLU(), "a": nn.Upsample(scale_factor=2.0, mode="bilinear")})' in source
    )
    assert 'blocks_3 = self.blocks["3"](layer1)  # [N, 4, 8, 8]' in source
    assert 'self.add_module("7", nn.Identity())' in source
    assert "add = bn1 + x + x if self.use_add else bn1" in source
    assert "self.stem.requires_grad_(False)" in source
    assert "def forward(self, img: torch.Tensor, torch_2: torch.Tensor)" in source
    assert "return nn_2, r, blocks_a" in source


def test_python_export_calls_members_of_a_group_that_is_not_one_call():
    source = python_source(reentrant_graph())
    assert "enc_a = self.enc.a(x)" in source and "enc_relu_1 = self.enc.relu(enc_relu)" in source
    source = python_source(side_graph())
    assert "m = self.m(x, y)" in source and "\n        self.unused.fc(m)  # [N, 2]\n" in source


def block_classes(model: nn.Module, source: str) -> Counter[str]:
    """How many modules of each class the file defines (its own classes only)."""
    defined = re.findall(r"^class (\w+)\(", source, flags=re.M)
    assert len(defined) == len(set(defined))
    return Counter(type(m).__name__ for m in model.modules() if type(m).__name__ in defined[:-1])


def methods(source: str, class_name: str) -> dict[str, str]:
    cls = next(c for c in ast.parse(source).body if isinstance(c, ast.ClassDef) and c.name == class_name)
    return {f.name: ast.get_source_segment(source, f) or "" for f in cls.body if isinstance(f, ast.FunctionDef)}


def test_resnet18_reads_like_torchvision(tmp_path):
    model, source = exported_model(load_template("resnet18"), tmp_path)
    [(block, count)] = block_classes(model, source).items()
    assert count == 8  # one class for every BasicBlock, with or without downsample
    init, forward = methods(source, block)["__init__"], methods(source, block)["forward"]
    assert "stride: int = 1" in init and "downsample: bool = False" in init
    assert forward.count("self.relu(") == 2 and "self.relu_1" not in source  # one ReLU, called twice
    blocks = [m for m in model.modules() if type(m).__name__ == block]
    assert [sum(isinstance(c, nn.ReLU) for c in b.children()) for b in blocks] == [1] * 8
    assert [b.downsample is not None for b in blocks] == [False, False, True, False, True, False, True, False]
    assert [type(getattr(model, f"layer{i}")) for i in range(1, 5)] == [nn.Sequential] * 4
    assert len(methods(source, "ResNet18")["forward"].splitlines()) < 15


@pytest.mark.slow
def test_densenet121_reads_like_torchvision(tmp_path):
    model, source = exported_model(load_template("densenet121"), tmp_path)
    counts = block_classes(model, source)
    layer = next(name for name, n in counts.items() if n == 6 + 12 + 24 + 16)
    block = next(name for name, n in counts.items() if n == 4)
    assert "torch.cat([x, conv2], dim=1)" in methods(source, layer)["forward"]
    assert "for i in range(num_layers):" in methods(source, block)["__init__"]
    assert [len(list(b.children())) for b in model.modules() if type(b).__name__ == block] == [6, 12, 24, 16]


@pytest.mark.slow
def test_googlenet_returns_its_auxiliary_outputs_in_training_mode_only(tmp_path):
    g = load_template("googlenet")
    g.set_param("input", "shape", [3, 96, 96])
    assert aux_outputs(g) == ["aux2.fc2", "aux1.fc2"]
    compiled = randomize_norms(compile_graph(g, seed=0))
    model, source = exported_model(g, tmp_path)
    model.load_state_dict(compiled.state_dict(), strict=True)
    x = [torch.randn(2, 3, 96, 96)]
    want = outputs(compiled, x)
    got = outputs(model.eval(), x)
    assert len(got) == 1 and torch.equal(got[0], want[0])
    model.train()
    for module in model.modules():  # training mode at the top only: BatchNorm and dropout stay deterministic
        if module is not model:
            module.eval()
    assert all(torch.equal(a, b) for a, b in zip(outputs(model, x), want, strict=True))
    assert "if self.training:" in methods(source, "GoogLeNet")["forward"]


def small_template(name: str) -> Graph:
    """A template with a smaller input where the architecture allows (as tests/test_templates.py does)."""
    g = load_template(name)
    if name in SMALL_SIDE:
        channels = g[g.input_ids()[0]].params["shape"][0]
        g.set_param("input", "shape", [channels, SMALL_SIDE[name], SMALL_SIDE[name]])
    return g


#: Templates the fast tier exports; make test's slow tier exports every one.
FAST_TEMPLATES = {"small_cnn", "lenet5_28", "resnet18"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(p.stem, marks=[] if p.stem in FAST_TEMPLATES else [pytest.mark.slow]) for p in templates()],
)
def test_python_export_of_templates_matches_the_compiled_design(name, tmp_path):
    g = small_template(name)
    compiled = randomize_norms(compile_graph(g, seed=1))
    model, _ = exported_model(g, tmp_path, name)
    assert list(model.state_dict()) == list(compiled.state_dict())
    model.load_state_dict(compiled.state_dict(), strict=True)
    check_same_layers(model, compiled)
    inputs = random_inputs(g, 2)
    main = len(g.output_ids()) - len(aux_outputs(g))
    got, want = outputs(model.eval(), inputs), outputs(compiled, inputs)
    assert len(got) == main and all(torch.equal(a, b) for a, b in zip(got, want))
    assert [tuple(o.shape[1:]) for o in got] == [analyze(g).shape(o) for o in g.output_ids()[:main]]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MIRRORS))
def test_python_export_of_mirrors_loads_torchvision_weights(name, tmp_path):
    builder, kwargs, _ = MIRRORS[name]
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # googlenet's FutureWarning about its init
        reference = randomize_norms(getattr(torchvision.models, builder)(weights=None, **kwargs))
    g = small_template(name)
    model, _ = exported_model(g, tmp_path, name)
    model.load_state_dict(reference.state_dict(), strict=True)
    x = random_inputs(g, 2)
    torch.testing.assert_close(outputs(model.eval(), x), outputs(reference, x), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_generated_code_passes_pyflakes(tmp_path):
    for path in templates():
        (tmp_path / f"{path.stem}.py").write_text(python_source(load(path)))
    for make in (nested_graph, zoo_graph, unet_graph, reentrant_graph, side_graph):
        (tmp_path / f"{make.__name__}.py").write_text(python_source(make()))
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "check", "--isolated", "--select", "F,E9", "--target-version", "py310", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def random_design(rng: random.Random) -> Graph:
    """Stages of blocks, numbered (``layer1.0``) or named (``stage0.block1``), each a convolution path that is
    added back (through a downsample where the channels change), concatenated to its input or not; with repeated
    ReLUs, dropped BatchNorms and, now and then, a side output from inside a block."""
    nodes: list[tuple[str, str, dict[str, Any], list[str]]] = [("x", "Input", {"shape": [3, 8, 8]}, [])]
    outputs: list[str] = []
    value, channels = "x", 3
    for s in range(rng.randint(1, 3)):
        numbered = rng.random() < 0.6
        for b in range(rng.randint(1, 4)):
            prefix = f"layer{s + 1}.{b}" if numbered else f"stage{s}.block{b + 1}"
            value, channels = _random_block(rng, nodes, prefix, value, channels, outputs)
    nodes += [("pool", "AdaptiveAvgPool2d", {"output_size": 1}, [value]), ("flat", "Flatten", {}, ["pool"])]
    nodes.append(("fc", "Linear", {"out_features": 3}, ["flat"]))
    return graph(*nodes, outputs=["fc", *outputs])


def _random_block(
    rng: random.Random, nodes: list[Any], prefix: str, x: str, channels: int, outputs: list[str]
) -> tuple[str, int]:
    def add(name: str, type_: str, params: dict[str, Any], *inputs: str) -> str:
        nodes.append((f"{prefix}.{name}", type_, params, list(inputs)))
        return f"{prefix}.{name}"

    width = rng.choice([channels, 4, 6])
    y = add("conv1", "Conv2d", {"out_channels": width, "kernel_size": 3, "padding": 1}, x)
    y = add("bn1", "BatchNorm2d", {}, y) if rng.random() < 0.7 else y
    y = add("relu", "ReLU", {}, y)
    if rng.random() < 0.15:
        outputs.append(y)
    y = add("conv2", "Conv2d", {"out_channels": width, "kernel_size": 1}, y)
    kind = rng.choice(["add", "cat", "plain"])
    if kind == "cat":
        return add("cat", "Concat", {}, x, y), channels + width
    if kind == "add":
        shortcut = x
        if width != channels:
            down = add("downsample.0", "Conv2d", {"out_channels": width, "kernel_size": 1}, x)
            shortcut = add("downsample.1", "BatchNorm2d", {}, down)
        y = add("add", "Add", {}, y, shortcut)
    return add("relu_1", "ReLU", {}, y), width


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_python_export_of_random_designs_matches_the_compiled_design(seed, tmp_path):
    g = random_design(random.Random(seed))
    compiled = compile_graph(g, seed=seed)
    initial = {k: v.clone() for k, v in compiled.state_dict().items()}
    torch.manual_seed(seed)
    model, source = exported_model(g, tmp_path, f"design_{seed}")
    assert list(model.state_dict()) == list(initial)
    assert all(torch.equal(v, initial[k]) for k, v in model.state_dict().items())  # built in the file's order
    randomize_norms(compiled)
    model.load_state_dict(compiled.state_dict(), strict=True)
    check_same_layers(model, compiled)
    x = random_inputs(g, 2)
    assert all(torch.equal(a, b) for a, b in zip(outputs(model.eval(), x), outputs(compiled, x), strict=True))
    compile(source, "exported.py", "exec", dont_inherit=True)
