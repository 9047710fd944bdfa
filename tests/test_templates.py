"""Architecture templates: every one validates clean and trains; the torchvision mirrors equal torchvision exactly."""

from __future__ import annotations

import importlib.util
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import torchvision
from torch import nn

import designer
from designer.editing.templates import DEFAULT_TEMPLATE, list_templates, load_template, templates_folder

from .conftest import ROOT
from .helpers import random_inputs, randomize_norms

TEMPLATES_DIR = ROOT / "templates"
NAMES = sorted(p.stem for p in TEMPLATES_DIR.glob("*.json"))

#: template -> (torchvision builder, its keyword arguments, side of the small test input).
MIRRORS: dict[str, tuple[str, dict[str, Any], int]] = {
    "alexnet": ("alexnet", {}, 64),
    "vgg11": ("vgg11", {}, 32),
    "vgg16": ("vgg16", {}, 32),
    "vgg16_bn": ("vgg16_bn", {}, 32),
    # 96: the auxiliary classifiers then pool 6x6 maps to 4x4 (at 64 their pooling would be the identity).
    "googlenet": ("googlenet", {"init_weights": True}, 96),
    "googlenet_no_aux": ("googlenet", {"aux_logits": False, "init_weights": True}, 64),
    "resnet18": ("resnet18", {}, 64),
    "resnet34": ("resnet34", {}, 32),
    "resnet50": ("resnet50", {}, 32),
    "densenet121": ("densenet121", {}, 32),
    "mobilenet_v2": ("mobilenet_v2", {}, 64),
    "squeezenet1_1": ("squeezenet1_1", {}, 64),
    "efficientnet_b0": ("efficientnet_b0", {}, 32),
    "regnet_y_400mf": ("regnet_y_400mf", {}, 32),
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", {}, 64),
    "convnext_tiny": ("convnext_tiny", {}, 32),
}
#: Over ~5 s here: the VGG and AlexNet weight matrices alone take seconds to initialise, twice per test.
HEAVY = {"alexnet", "vgg11", "vgg16", "vgg16_bn", "googlenet", "resnet50", "densenet121", "convnext_tiny"}


def _marks(name: str) -> list[Any]:
    return [pytest.mark.slow] if name in HEAVY else []


#: Smaller inputs for the tests, where the architecture allows (the files declare the reference sizes).
SMALL_SIDE = {**{name: side for name, (_, _, side) in MIRRORS.items()}, "resnet18_transfer": 64, "segmentation_net": 32}


def _small(name: str) -> designer.Graph:
    """The template with a smaller Input where the architecture allows, to keep the tests fast."""
    graph = load_template(name)
    if name in SMALL_SIDE:
        channels = _input_shape(graph)[0]
        graph.set_param("input", "shape", [channels, SMALL_SIDE[name], SMALL_SIDE[name]])
    return graph


def _input_shape(graph: designer.Graph) -> list[int]:
    return graph[graph.input_ids()[0]].params["shape"]


def test_templates_are_listed_with_the_default_first():
    infos = list_templates()
    assert [i.name for i in infos][0] == DEFAULT_TEMPLATE
    assert sorted(i.name for i in infos) == NAMES
    assert set(MIRRORS) < set(NAMES)
    for info in infos:
        assert info.file == templates_folder() / f"{info.name}.json" and info.title


def test_load_template_gives_a_fresh_graph_and_names_unknown_ones():
    first = load_template(DEFAULT_TEMPLATE)
    first.set_param("conv1", "out_channels", 3)
    assert load_template(DEFAULT_TEMPLATE)["conv1"].params["out_channels"] == 16
    with pytest.raises(KeyError, match="small_cnn"):
        load_template("no_such_template")
    with pytest.raises(KeyError):
        load_template("../pyproject")


def test_default_template_is_small_on_1x28x28_with_10_outputs():
    analysis = designer.analyze(load_template(DEFAULT_TEMPLATE))
    graph = analysis.graph
    assert _input_shape(graph) == [1, 28, 28]
    assert [analysis.shape(o) for o in graph.output_ids()] == [(10,)]
    assert analysis.total_params < 50_000


def test_template_files_are_what_the_generator_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("build_templates", ROOT / "tools" / "build_templates.py")
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "build_templates", build)  # dataclasses look their module up there
    spec.loader.exec_module(build)
    assert sorted(t.name for t in build.TEMPLATES) == NAMES
    assert build.main(["--check"]) == 0
    assert build.main(["--dir", str(tmp_path)]) == 0
    for name in NAMES:
        assert (tmp_path / f"{name}.json").read_bytes() == (TEMPLATES_DIR / f"{name}.json").read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_template_validates_clean_and_is_described(name):
    graph = load_template(name)
    problems = [d for d in designer.analyze(graph).diagnostics if not d.code.startswith("advice.")]
    assert problems == []  # the design advice that fires is listed in test_advice_templates.py
    description = graph.extra.get("description", "")
    assert len(description) > 150 and graph.name
    size = "x".join(map(str, _input_shape(graph)))
    assert size in description, f"the description must state the input size {size}"
    ids = [n.id for n in graph]
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*(-[0-9]+)?(\.[a-z0-9_]+(-[0-9]+)?)*", i) for i in ids), ids  # block1-0


def _torchvision(name: str) -> nn.Module:
    builder, kwargs, _ = MIRRORS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # googlenet's FutureWarning about its init
        return getattr(torchvision.models, builder)(weights=None, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MIRRORS))
def test_mirror_equals_torchvision(name):
    torch.manual_seed(0)
    reference = _torchvision(name)
    n_ref = sum(p.numel() for p in reference.parameters())
    assert designer.analyze(load_template(name)).total_params == n_ref
    ours = designer.compile(_small(name))
    assert sum(p.numel() for p in ours.parameters()) == n_ref
    randomize_norms(reference)
    ours.load_state_dict(reference.state_dict(), strict=True)
    ours.eval()
    reference.eval()
    x = torch.randn(2, *_input_shape(_small(name)))
    with torch.no_grad():
        got, expected = ours(x), reference(x)
    if name == "googlenet":
        assert isinstance(got, tuple) and len(got) == 3
        got = got[0]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_googlenet_auxiliary_outputs_equal_torchvision_training_outputs():
    torch.manual_seed(0)
    reference = _torchvision("googlenet")
    randomize_norms(reference)
    ours = designer.compile(_small("googlenet"))
    ours.load_state_dict(reference.state_dict(), strict=True)
    ours.eval()
    # torchvision returns the auxiliary logits only in training mode; deterministic layers keep the comparison exact.
    reference.train()
    for module in reference.modules():
        if module is not reference:
            module.eval()
    x = torch.randn(2, *_input_shape(_small("googlenet")))
    with torch.no_grad():
        got, expected = ours(x), reference(x)
    assert len(got) == 3
    for g, e in zip(got, (expected.logits, expected.aux_logits2, expected.aux_logits1)):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=0)


def _targets(output: torch.Tensor) -> torch.Tensor:
    """Random class indices for cross-entropy: one per sample, or one per pixel for a score map."""
    return torch.randint(0, output.shape[1], (output.shape[0], *output.shape[2:]))


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in NAMES])
def test_template_trains_one_step(name):
    torch.manual_seed(0)
    graph = _small(name)
    model = designer.compile(graph, seed=0).train()
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    # Adam moves every parameter with a gradient by about lr: behind ConvNeXt's layer scale (1e-6) an SGD step is
    # below float resolution
    optimizer = torch.optim.Adam(trainable, lr=0.1)
    out = model(*random_inputs(graph, 2))  # random_inputs: Fast R-CNN's proposals are boxes inside the image
    outs = out if isinstance(out, tuple) else (out,)
    loss = sum(nn.functional.cross_entropy(o, _targets(o)) for o in outs)
    assert torch.isfinite(loss)
    loss.backward()
    optimizer.step()
    changed = {k for k, v in model.named_parameters() if not torch.equal(v, before[k])}
    frozen = {n.id for n in graph if n.frozen}
    expected = {k for k, p in model.named_parameters() if k.rsplit(".", 1)[0] not in frozen}
    assert changed == expected and changed


def test_transfer_template_takes_resnet18_weights_except_the_head():
    graph = load_template("resnet18_transfer")
    analysis = designer.analyze(graph)
    fc = graph["fc"].params["out_features"]
    assert analysis.trainable_params == 512 * fc + fc
    assert all(n.frozen for n in graph if n.type != "Input" and n.id != "fc") and not graph["fc"].frozen
    state = torchvision.models.resnet18(weights=None).state_dict()
    model = designer.compile(_small("resnet18_transfer"))
    missing, unexpected = model.load_state_dict(
        {k: v for k, v in state.items() if not k.startswith("fc.")}, strict=False
    )
    assert sorted(missing) == ["fc.bias", "fc.weight"] and unexpected == []
    assert sorted(k for k, p in model.named_parameters() if p.requires_grad) == ["fc.bias", "fc.weight"]


# ONNX export with onnxruntime parity for every template is tests/test_export.py::test_onnx_export_of_templates.
