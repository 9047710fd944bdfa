"""torchvision CNNs exported by both of torch's ONNX exporters (TorchScript-based and dynamo), with a dynamic or a
fixed batch, import with outputs equal to onnxruntime's and short, valid ids. Each file is exported once per module:
exporting is the slow part."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torchvision
from torchvision.models.convnext import CNBlockConfig

import designer
from designer.importers import import_source

pytestmark = pytest.mark.slow

#: (model, exporter, batch, opset): one opset per file from the range each exporter supports (dynamo: 18+).
CASES = [
    ("resnet18", "torchscript", "dynamic", 17),
    ("resnet18", "dynamo", "fixed", 18),
    ("mobilenet_v2", "torchscript", "fixed", 11),
    ("densenet121", "torchscript", "dynamic", 13),
    ("densenet_small", "dynamo", "dynamic", 20),
    ("convnext_small", "torchscript", "dynamic", 17),
    ("convnext_small", "dynamo", "dynamic", 18),
]
# MobileNetV2 through dynamo imports as well (checked by hand), but its export alone takes about a minute here: the
# dynamo cases are ResNet-18 and a small DenseNet (the same layer and concat structure as DenseNet-121's). A small
# ConvNeXt (LayerNorm2d as Transpose-LayerNormalization-Transpose, Linear on a channels-last map as MatMul+Add, GELU
# as Erf arithmetic at opset 17) comes through both; through dynamo its head's pooling ends in a Gather
# (``as_strided``, see onnx_restride) that reads the pooled map in its own order.
#: Ids each import must have: module paths as torch names them, an op in a module's forward as its child.
EXPECTED_IDS = {
    "resnet18": {"conv1", "layer1.0.conv1", "layer1.0.add", "layer4.1.add", "fc"},
    "mobilenet_v2": {"features.0.0", "features.1.conv.0.0", "features.1.conv.1", "features.3.add", "classifier.1"},
    "densenet121": {"features.conv0", "features.denseblock1.denselayer2.concat", "features.transition1.conv"},
    "convnext_small": {"features.0.1", "features.1.0.block.3", "features.1.0.block.4", "features.3.1.add"},
    "densenet_small": {
        "features.conv0",
        "features.denseblock1.denselayer2.norm1",
        "features.denseblock2.denselayer2.concat",
    },
}


def _model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if name == "densenet_small":  # DenseNet-121's structure at a fraction of the dynamo exporter's minutes
        return torchvision.models.DenseNet(growth_rate=8, block_config=(2, 2), num_init_features=16).eval()
    if name == "convnext_small":  # ConvNeXt's blocks and downsampling, its branches scaled by 0.5 (not 1e-6)
        stages = [CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 2)]
        return torchvision.models.ConvNeXt(stages, layer_scale=0.5, num_classes=10).eval()
    return getattr(torchvision.models, name)(weights=None).eval()


def _export(model: torch.nn.Module, path: Path, exporter: str, batch: str, opset: int) -> None:
    # torch.export specialises a batch of 1, which ConvNeXt's graph then guards on: a dynamic batch is traced at 2
    x = torch.randn(2 if exporter == "dynamo" and batch == "dynamic" else 1, 3, 64, 64)
    if exporter == "dynamo":
        shapes = {"dynamic_shapes": ({0: torch.export.Dim("N")},)} if batch == "dynamic" else {}
        torch.onnx.export(
            model, (x,), str(path), dynamo=True, opset_version=opset, external_data=False, verbose=False, **shapes
        )
    else:
        axes = {"dynamic_axes": {"x": {0: "N"}}} if batch == "dynamic" else {}
        torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=opset, input_names=["x"], **axes)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str, str, int], Path]:
    """Export a torchvision model once per module; later calls get the same file."""
    folder = tmp_path_factory.mktemp("onnx_models")
    made: dict[tuple[str, str, str, int], Path] = {}

    def get(name: str, exporter: str, batch: str, opset: int) -> Path:
        key = (name, exporter, batch, opset)
        if key not in made:
            path = folder / f"{name}_{exporter}_{batch}_{opset}.onnx"
            _export(_model(name), path, exporter, batch, opset)
            made[key] = path
        return made[key]

    return get


@pytest.mark.parametrize("name, exporter, batch, opset", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_exported_torchvision_model_imports_with_onnxruntime_outputs(exported, name, exporter, batch, opset):
    path = exported(name, exporter, batch, opset)
    result = import_source(f"onnx:{path}")
    module = designer.compile(result.graph).eval()
    module.load_state_dict(result.state_dict, strict=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(5).standard_normal((1 if batch == "fixed" else 3, 3, 64, 64)).astype(np.float32)
    (want,) = session.run(None, {session.get_inputs()[0].name: x})
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()))

    ids = list(result.graph.ids())
    assert EXPECTED_IDS[name] <= set(ids)
    doubled = [i for i in ids if any(a == b and not a.isdigit() for a, b in zip(i.split("."), i.split(".")[1:]))]
    assert not doubled
    assert not any(d.is_error for d in designer.validate(result.graph))
