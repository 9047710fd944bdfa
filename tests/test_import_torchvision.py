"""Every torchvision classification CNN family imports through torch.fx as a design that loads torchvision's
state_dict strictly and computes the same outputs (weights=None, small inputs: the slow tier)."""

from __future__ import annotations

import pytest
import torch
import torchvision

import designer
from designer.importers.fx_import import import_module

pytestmark = pytest.mark.slow

#: (model, input size): the smallest inputs each family runs on, to keep the sweep fast.
MODELS = [
    ("efficientnet_b0", 32),
    ("efficientnet_b1", 32),
    ("efficientnet_b2", 32),
    ("efficientnet_b3", 32),
    ("efficientnet_v2_s", 32),
    ("regnet_x_400mf", 32),
    ("regnet_y_400mf", 32),
    ("shufflenet_v2_x1_0", 32),
    ("mnasnet0_5", 32),
    ("mobilenet_v3_large", 32),
    ("inception_v3", 75),  # without its auxiliary classifier, which needs 299 x 299 (the import's default)
    ("convnext_tiny", 32),
]
#: Keyword arguments for the small inputs.
KWARGS = {"inception_v3": {"aux_logits": False, "init_weights": True}}


@pytest.mark.parametrize("name, size", MODELS)
def test_torchvision_cnn_imports_with_strict_state_dict_and_equal_outputs(name, size):
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None, **KWARGS.get(name, {})).eval()
    _scale_branches_up(model)
    result = import_module(model, [3, size, size], name)
    analysis = designer.analyze(result.graph)
    assert analysis.ok
    assert analysis.total_params == sum(p.numel() for p in model.parameters())
    design = designer.compile(result.graph).eval()
    design.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        got, want = design(x), model(x)
    torch.testing.assert_close(got[0] if isinstance(got, tuple) else got, want, atol=1e-5, rtol=1e-4)


def test_regnet_keeps_its_dashed_block_names():
    model = torchvision.models.regnet_y_400mf(weights=None)
    ids = set(import_module(model, [3, 32, 32], "regnet_y_400mf").graph.ids())
    assert {"trunk_output.block1.block1-0.f.a.0", "trunk_output.block4.block4-5.f.c.1"} <= ids


def _scale_branches_up(model: torch.nn.Module) -> None:
    """ConvNeXt's residual branches start scaled by 1e-6 (its layer_scale): as initialised, an output would hardly
    depend on them, so give each branch a weight that shows."""
    with torch.no_grad():
        for module in model.modules():
            scale = getattr(module, "layer_scale", None)
            if isinstance(scale, torch.nn.Parameter):
                scale.uniform_(0.5, 1.0)
