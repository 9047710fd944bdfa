"""The registry against torch: names, categories, docs, duplicate refusal, reserved names and parameter defaults."""

from __future__ import annotations

import inspect

import pytest
import torch

from designer import list_specs, list_types
from designer.analysis.validate import MODULE_ATTRS
from designer.layers.graph_ops import GraphOp
from designer.layers.registry import LayerSpec, get_spec, register

CATEGORIES = {
    "Input/Output",
    "Convolution",
    "Pooling",
    "Normalization",
    "Activation",
    "Linear",
    "Merge",
    "Reshape",
    "Regularization",
    "Upsampling",
}

#: Defaults the designer chooses on purpose where torch's differ.
DELIBERATE_DEFAULTS = {
    # torch's dim=None picks the dimension implicitly (0 for 0-, 1- and 3-D inputs, else 1) with a deprecation
    # warning, so a [C, L] sample (3-D with the batch) would be normalised across the batch. The designer always
    # normalises over dim 1 (classes/channels) unless told otherwise.
    ("Softmax", "dim"): 1,
    ("LogSoftmax", "dim"): 1,
}

SPECS = list_specs()
MODULE_SPECS = [s for s in SPECS if s.is_module]


def _signature(spec: LayerSpec) -> inspect.Signature:
    return inspect.signature(spec.module_class())


def test_registry_lists_every_type_once():
    names = list_types()
    assert len(names) == len(set(names)) == len(SPECS)
    assert all(get_spec(n) is s for n, s in zip(names, SPECS))
    assert get_spec("NoSuchLayer") is None


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_entry_is_described(spec: LayerSpec):
    assert spec.category in CATEGORIES
    assert spec.doc.strip()
    for p in spec.params:
        assert p.doc.strip(), f"{spec.name}.{p.name} has no doc"
    assert len({p.name for p in spec.params}) == len(spec.params)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_modules_are_torch_classes_and_ops_are_not(spec: LayerSpec):
    if spec.is_module:
        cls = spec.module_class()
        assert isinstance(cls, type) and issubclass(cls, torch.nn.Module) and cls.__name__ == spec.name
        # torch's own class where torch has one; designer.modules holds only what torch.nn lacks
        assert cls.__module__ == "designer.modules" or getattr(torch.nn, spec.name) is cls
        assert cls.__module__ != "designer.modules" or not hasattr(torch.nn, spec.name)
    else:
        assert isinstance(spec, GraphOp)
        assert spec.category in {"Input/Output", "Merge", "Reshape", "Pooling"}


@pytest.mark.parametrize("spec", MODULE_SPECS, ids=lambda s: s.name)
def test_params_are_torch_constructor_args(spec: LayerSpec):
    """Every parameter is a constructor argument; torch's required ones are required or inferred here."""
    sig = _signature(spec).parameters
    assert set(spec.param_names) <= set(sig), f"{spec.name}: not torch arguments: {set(spec.param_names) - set(sig)}"
    for name, arg in sig.items():
        if arg.default is inspect.Parameter.empty and arg.kind not in (arg.VAR_POSITIONAL, arg.VAR_KEYWORD):
            p = spec.param(name)
            assert p.required or p.inferred, f"{spec.name}.{name} is required by torch"


@pytest.mark.parametrize("spec", MODULE_SPECS, ids=lambda s: s.name)
def test_defaults_equal_torch(spec: LayerSpec):
    sig = _signature(spec).parameters
    for p in spec.params:
        if p.inferred or p.required:
            continue
        torch_default = sig[p.name].default
        want = DELIBERATE_DEFAULTS.get((spec.name, p.name), torch_default)
        assert (p.default, type(p.default)) == (want, type(want)), f"{spec.name}.{p.name}"


def test_deliberate_defaults_differ_from_torch():
    """The exception list holds only real exceptions, so it cannot hide a default that drifted."""
    for (type_name, name), value in DELIBERATE_DEFAULTS.items():
        spec = get_spec(type_name)
        assert spec is not None and spec.param(name).default == value
        assert _signature(spec).parameters[name].default != value


def test_duplicate_name_is_refused():
    before = list_specs()

    class Conv2dAgain(LayerSpec):
        name = "Conv2d"
        category = "Convolution"
        doc = "a second Conv2d"

    with pytest.raises(ValueError, match="Conv2d"):
        register(Conv2dAgain)
    assert list_specs() == before
    assert type(get_spec("Conv2d")).__name__ == "Conv2d"


def test_module_attrs_match_torch():
    # An instance, not the class: GraphModule sets attributes such as `meta` in its constructor.
    names = set(dir(torch.nn.Module())) | set(dir(torch.fx.GraphModule(torch.nn.Module(), torch.fx.Graph())))
    assert MODULE_ATTRS == {n for n in names if not n.startswith("_")}
