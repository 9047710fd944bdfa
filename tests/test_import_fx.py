"""torch.fx import of modules written by others: subclasses of layers, known composites, course-style forwards with
tensor methods, frozen parameters, and what a refusal says."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import fx, nn
from torch.nn import functional as F
from torchvision.ops import Conv2dNormActivation, SqueezeExcitation

import designer
from designer.importers import ModelImportError
from designer.importers.fx_import import default_input_shape, import_module
from designer.importers.fx_leaves import LeafTracer


def _same_outputs(result, model, shape, state=None):
    """The compiled design loads the weights strictly and computes what the model computes on a fresh input."""
    design = designer.compile(result.graph).eval()
    design.load_state_dict(state if state is not None else model.state_dict(), strict=True)
    x = torch.randn(3, *shape)
    with torch.no_grad():
        torch.testing.assert_close(design(x), model.eval()(x), atol=1e-5, rtol=1e-5)
    return design


class BatchNormAct(nn.BatchNorm2d):
    """timm's ``BatchNormAct2d`` in short: a BatchNorm2d whose forward (written with ``F.batch_norm``) also applies
    the ``drop`` and ``act`` children."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.drop = nn.Identity()
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training, 0.1, self.eps)
        return self.act(self.drop(x))


def test_a_subclass_of_a_layer_is_that_layer_then_what_its_forward_adds():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), BatchNormAct(8))
    model.add_module("bn", BatchNormAct(8))
    with torch.no_grad():
        model[1].running_var.uniform_(0.5, 2.0)
    result = import_module(model, [3, 10, 10])
    assert [(n.id, n.type) for n in result.graph] == [
        ("input_1", "Input"),
        ("0", "Conv2d"),
        ("1", "BatchNorm2d"),
        ("act1", "SiLU"),
        ("bn", "BatchNorm2d"),
        ("bn_act", "SiLU"),
    ]
    _same_outputs(result, model, [3, 10, 10])


def test_known_composites_expand_without_being_traced_through():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = Conv2dNormActivation(3, 16, 3, activation_layer=nn.Hardswish)
            self.se = SqueezeExcitation(16, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.se(self.stem(x))

    model = Net()
    traced = LeafTracer().trace(model)
    assert [n.target for n in traced.nodes if n.op == "call_module"] == ["stem", "se"]
    result = import_module(model, [3, 8, 8])
    types = {n.id: n.type for n in result.graph}
    assert types == {
        "x": "Input",
        "stem.0": "Conv2d",
        "stem.1": "BatchNorm2d",
        "stem.2": "Hardswish",
        "se.avgpool": "AdaptiveAvgPool2d",
        "se.fc1": "Conv2d",
        "se.activation": "ReLU",
        "se.fc2": "Conv2d",
        "se.scale_activation": "Sigmoid",
        "se.mul": "Mul",
    }
    _same_outputs(result, model, [3, 8, 8])


class CourseOps(nn.Module):
    """A forward written with tensor methods and functions, as course notebooks write them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        a, b = x.chunk(2, dim=1)
        c, d = x.split([6, 2], 1)
        x = torch.cat([F.leaky_relu(a, 0.2), b.sigmoid(), c[:, 2:4], F.avg_pool2d(d[:, :2], 1)], dim=1)
        x = x.permute(0, 2, 3, 1).mean(dim=(1, 2)).unsqueeze(-1)
        x = x.view(x.size(0), -1).reshape(-1, 2, 6).flatten(1)
        return F.log_softmax(self.fc(x[:, :8]), dim=1).unsqueeze(1).squeeze(1)


def test_tensor_methods_and_functions_of_a_course_forward_become_nodes():
    model = CourseOps()
    result = import_module(model, [3, 8, 8])
    types = [n.type for n in result.graph]
    for wanted in ("Split", "Slice", "Concat", "LeakyReLU", "Sigmoid", "AvgPool2d", "Permute", "Mean", "Reshape"):
        assert wanted in types
    assert "Flatten" in types and types.count("Split") == 2  # the chunk and the split, each one node
    _same_outputs(result, model, [3, 8, 8])


class TransferNet(nn.Module):
    """The course's transfer-learning module: a frozen ResNet-18 backbone and a new one-logit head."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = torchvision.models.resnet18(weights=None)
        self.backbone.fc = nn.Identity()
        for p in self.backbone.parameters():
            p.requires_grad = False
        self.head = nn.Linear(512, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.backbone(x))
        return logits.squeeze(1)


@pytest.mark.slow  # a ResNet-18, traced, compiled and run three times
def test_the_course_transfer_module_imports_with_its_backbone_frozen():
    torch.manual_seed(0)
    model = TransferNet()
    result = import_module(model, [3, 32, 32], "transfer")
    frozen = {n.id for n in result.graph if n.frozen}
    with_weights = {name.rsplit(".", 1)[0] for name, _ in model.backbone.named_parameters()}
    assert frozen == {f"backbone.{m}" for m in with_weights}
    assert not result.graph["head"].frozen and result.graph["backbone.fc"].type == "Identity"
    design = _same_outputs(result, model, [3, 32, 32])
    assert design(torch.randn(2, 3, 32, 32)).shape == (2,)


def test_a_branch_on_sizes_is_decided_for_the_input_size():
    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 7)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[-2] < 7 or x.shape[-1] < 7:  # timm's VGG head: pool small maps up to the kernel
                x = F.adaptive_avg_pool2d(x, (7, 7))
            return self.conv(x)

    small = import_module(Head(), [3, 5, 5])
    assert [n.type for n in small.graph] == ["Input", "AdaptiveAvgPool2d", "Conv2d"]
    assert [n.type for n in import_module(Head(), [3, 9, 9]).graph] == ["Input", "Conv2d"]


def test_an_interpolation_to_another_tensors_size_is_decided_for_the_input_size():
    class Gate(nn.Module):  # GhostNetV2's attention: pooled, gated, then resized back to the map it gates
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            small = torch.sigmoid(self.conv(F.avg_pool2d(x, 2)))
            return x * F.interpolate(small, size=(x.shape[-2], x.shape[-1]), mode="nearest")

    model = Gate().eval()
    imported = import_module(model, [3, 8, 6])
    (up,) = [n for n in imported.graph if n.type == "Upsample"]
    assert up.params["size"] == [8, 6] and up.params["mode"] == "nearest"  # the import checked the outputs


class SEModule(nn.Module):
    """timm's legacy SENet gate: the name of timm's modern SEModule, with other children (relu, sigmoid)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.relu = nn.Conv2d(8, 2, 1), nn.ReLU(inplace=True)
        self.fc2, self.sigmoid = nn.Conv2d(2, 8, 1), nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(x.mean((2, 3), keepdim=True)))))


def test_a_composite_known_by_name_but_with_other_children_is_traced_not_expanded():
    # expanded as timm's SEModule (fc1, bn, act, fc2, gate), it lost the relu and the sigmoid: the parity check refused
    imported = import_module(nn.Sequential(nn.Conv2d(3, 8, 1), SEModule()), [3, 6, 6])
    assert [n.type for n in imported.graph].count("Sigmoid") == 1 and "ReLU" in [n.type for n in imported.graph]


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(self.conv(x), dim=1).relu()


class _Odd(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[_Block() for _ in range(12)])
        self.rnn = nn.GRU(36, 4)
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = sum(block(x) for block in self.blocks)  # twelve cumsums, each on the input: one line for them all
        return y * self.scale + self.rnn(x.flatten(2))[0].sum()


def test_a_refusal_is_one_short_line_per_construct():
    with pytest.raises(ModelImportError) as info:
        import_module(_Odd(), [4, 6, 6])
    lines = str(info.value).splitlines()
    assert len(lines) <= 10
    assert lines[0] == "3 constructs have no designer equivalent"
    assert "torch.cumsum in _Block at 'blocks.0' (and 11 more like it): " in lines[1]
    assert "of tensor attribute 'scale' in _Odd at the top level: " in lines[2]
    assert "module torch.nn.modules.rnn.GRU in GRU at 'rnn': " in lines[3]
    assert not any("fx" in line or "Proxy" in line for line in lines)


class _BiasTable(nn.Module):
    """Swin V2's continuous position bias in small: an MLP run on a stored coordinate table, not on the data."""

    def __init__(self) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
        self.register_buffer("coords", torch.randn(16, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.coords).mean()


def test_a_layer_run_on_a_stored_tensor_is_named_at_the_module_keeping_it():
    with pytest.raises(ModelImportError) as info:
        import_module(nn.Sequential(nn.Conv2d(3, 3, 1), _BiasTable()), [3, 4, 4])
    lines = str(info.value).splitlines()
    assert len(lines) == 2, "one root cause; what reads the MLP's output is not reported again"
    assert "module Linear applied to tensor attribute 'coords' in _BiasTable at '1': " in lines[1]
    assert "hold the tensor in a layer" in lines[1]


def test_a_forward_fx_cannot_follow_is_named_by_class_and_path():
    class Gate(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x if x.sum() > 0 else -x

    with pytest.raises(ModelImportError) as info:
        import_module(nn.Sequential(nn.Conv2d(3, 3, 1), Gate()), [3, 4, 4])
    lines = str(info.value).splitlines()
    assert len(lines) == 2 and lines[1].strip().startswith("Gate at '1': ")


def test_inception_v3_is_imported_at_299_by_default():
    assert default_input_shape("torchvision", "inception_v3", nn.Identity()) == [3, 299, 299]
    assert default_input_shape("torchvision", "resnet18", nn.Identity()) == [3, 224, 224]


def test_dashed_module_names_keep_their_meaning_in_ids_compile_and_python_export(tmp_path):
    """RegNet names its blocks ``block1-0``: the ids keep the name, so torchvision's state_dict keys fit."""
    from designer.export import export

    g = designer.loads(
        '{"format": "cnn-designer/2", "name": "dash", "nodes": ['
        '{"id": "x", "type": "Input", "params": {"shape": [3, 6, 6]}},'
        '{"id": "block1-0.conv", "type": "Conv2d", "params": {"out_channels": 4, "kernel_size": 3}, "inputs": ["x"]},'
        '{"id": "block1-1", "type": "Conv2d", "params": {"out_channels": 4, "kernel_size": 3}, "inputs": ["x"]},'
        '{"id": "cat", "type": "Concat", "inputs": ["block1-0.conv", "block1-1"]}]}'
    )
    assert designer.analyze(g).ok
    model = designer.compile(g, seed=0).eval()
    assert "block1-0.conv.weight" in model.state_dict()
    export(g, tmp_path / "dash.py", "python")
    namespace: dict = {}
    exec(compile((tmp_path / "dash.py").read_text(encoding="utf-8"), "dash.py", "exec"), namespace)
    again = namespace["Dash"]().eval()
    again.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(again(x), model(x))
    assert isinstance(fx.symbolic_trace(again), fx.GraphModule)
