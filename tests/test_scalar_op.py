"""ScalarOp, a tensor and one constant (``x * 2``, ``x / 255``, ``1 - x``, ``x ** 2``): its outputs are torch's own,
bit for bit; a user module's forward and hand-built ONNX files of each operator import to it; the Python and ONNX
exports of a design with it import back to the same design."""

from __future__ import annotations

import operator

import numpy as np
import onnxruntime as ort
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper
from torch import nn

import designer
from designer.importers import import_source
from designer.importers.fx_import import import_module
from designer.layers.scalar import OPS
from designer.model.graph import Graph, NodeId
from tests.helpers import chain
from tests.test_export_python import exported_model
from tests.test_import_onnx_ops import _import_and_compare, _save

#: What a hand-written forward computes for each op, with the constant c.
TORCH = {
    "add": lambda x, c: x + c,
    "sub": lambda x, c: x - c,
    "mul": lambda x, c: x * c,
    "div": lambda x, c: x / c,
    "pow": lambda x, c: x**c,
    "rsub": lambda x, c: c - x,
    "rdiv": lambda x, c: c / x,
}


def test_every_op_has_its_torch_expression():
    assert set(TORCH) == set(OPS)


@settings(max_examples=60, deadline=None)
@given(
    op=st.sampled_from(sorted(OPS)),
    value=st.one_of(st.integers(-300, 300), st.floats(-1e3, 1e3, allow_nan=False, width=32)),
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
)
def test_shape_and_values_are_torchs_bit_for_bit(op, value, shape):
    g = chain(shape, ("ScalarOp", {"op": op, "value": float(value)}))
    analysis = designer.analyze(g)
    assert analysis.ok
    assert analysis.total_params == 0
    module = designer.compile(g)
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(len(shape)))
    if op == "pow":
        x = x.abs()  # a fractional power of a negative number is NaN, which never equals itself
    want = TORCH[op](x, value)
    got = module(x)
    assert tuple(got.shape[1:]) == tuple(analysis.info[NodeId("n1")].shape)
    assert torch.equal(got, want)


def test_the_explanation_gives_the_formula_with_the_number():
    g = chain([3, 4], ("ScalarOp", {"op": "rsub", "value": 1}))
    info = designer.analyze(g).info[NodeId("n1")]
    assert info.spec is not None and info.ctx is not None and info.shape is not None
    lines = info.spec.explain(info.ctx, info.shape)
    assert lines == ["each element y = 1.0 - x; output = input = [3, 4]; params = 0"]


def test_an_unknown_op_is_a_parameter_diagnostic():
    diags = designer.validate(chain([3, 4], ("ScalarOp", {"op": "mod", "value": 2})))
    assert [d.node_id for d in diags] == ["n1"]
    assert diags[0].code.startswith("param.")


class Normalise(nn.Module):
    """A course's forward: scale the pixels, centre them, a convolution, then arithmetic with numbers both ways."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / 255
        x = 1 - x
        y = self.conv(x - 0.5)
        y = y * 2
        y = 3 * y + 0.25
        y = torch.mul(y, 0.1).div(3).pow(2)
        return 2 / (y.sub(1.5) ** 2 + 1)


def test_a_user_forward_with_numbers_imports_as_scalar_ops():
    model = Normalise().eval()
    result = import_module(model, [3, 8, 8])
    ops = [(n.params["op"], n.params["value"]) for n in result.graph if n.type == "ScalarOp"]
    assert ops == [
        ("div", 255.0),
        ("rsub", 1.0),
        ("sub", 0.5),
        ("mul", 2.0),
        ("mul", 3.0),
        ("add", 0.25),
        ("mul", 0.1),
        ("div", 3.0),
        ("pow", 2.0),
        ("sub", 1.5),
        ("pow", 2.0),
        ("add", 1.0),
        ("rdiv", 2.0),
    ]
    design = designer.compile(result.graph).eval()
    design.load_state_dict(result.state_dict, strict=True)
    x = torch.rand(3, 3, 8, 8) * 255
    with torch.no_grad():
        assert torch.equal(design(x), model(x))


@pytest.mark.parametrize(
    ("onnx_op", "const_first", "want"),
    [
        ("Add", False, "add"),
        ("Add", True, "add"),
        ("Sub", False, "sub"),
        ("Sub", True, "rsub"),
        ("Mul", True, "mul"),
        ("Div", False, "div"),
        ("Div", True, "rdiv"),
        ("Pow", False, "pow"),
    ],
)
@pytest.mark.parametrize("const_shape", [(), (1,), (1, 1, 1)])
def test_onnx_arithmetic_with_one_number_is_a_scalar_op(tmp_path, onnx_op, const_first, want, const_shape):
    c = np.full(const_shape, 1 / 3 if onnx_op != "Pow" else 3.0, np.float32)
    nodes = [helper.make_node(onnx_op, ["c", "x"] if const_first else ["x", "c"], ["y"], name="op")]
    result = _import_and_compare(_save(tmp_path / "m.onnx", nodes, {"c": c}, ["N", 3, 4, 4]))
    node = result.graph["op"]
    assert (node.type, node.params["op"]) == ("ScalarOp", want)
    assert np.float32(node.params["value"]) == c.flat[0]  # the same float32, so torch computes with it
    assert len(repr(node.params["value"])) <= 10  # as short as it reads back: 0.33333334


def test_a_constant_per_channel_is_not_a_scalar_op(tmp_path):
    nodes = [helper.make_node("Sub", ["x", "c"], ["y"], name="op")]
    c = np.arange(3, dtype=np.float32).reshape(3, 1, 1)
    with pytest.raises(Exception, match="Sub"):
        import_source(f"onnx:{_save(tmp_path / 'm.onnx', nodes, {'c': c}, ['N', 3, 4, 4])}")


def _design() -> Graph:
    return chain(
        [3, 6, 6],
        ("ScalarOp", {"op": "div", "value": 255.0}),
        ("ScalarOp", {"op": "rsub", "value": 1.0}),
        ("Conv2d", {"out_channels": 4, "kernel_size": 3}),
        ("ScalarOp", {"op": "pow", "value": 2.0}),
        ("ScalarOp", {"op": "mul", "value": 0.1}),
        ("ScalarOp", {"op": "add", "value": 1.0}),  # at least 1: the values below stay moderate
        ("ScalarOp", {"op": "pow", "value": 0.5}),
        ("ScalarOp", {"op": "rdiv", "value": 3.0}),
        ("ScalarOp", {"op": "rdiv", "value": 1.0}),
    )


def test_python_export_writes_the_operators_and_computes_the_same(tmp_path):
    g = _design()
    module = designer.compile(g, seed=0).eval()
    exported, source = exported_model(g, tmp_path)
    assert "n2 = 1.0 - n1" in source and "n4 = n3 ** 2.0" in source and "n8 = 3.0 / n7" in source
    exported.load_state_dict(module.state_dict(), strict=True)
    x = torch.rand(2, 3, 6, 6) * 255
    with torch.no_grad():
        assert torch.equal(exported.eval()(x), module(x))


@pytest.mark.slow  # the first ONNX export of a process loads the exporter
def test_onnx_export_imports_back_as_the_same_design(tmp_path):
    from designer.export import export

    g = _design()
    module = designer.compile(g, seed=0).eval()
    export(g, tmp_path / "m.onnx", "onnx", state_dict=module.state_dict())
    result = import_source(f"onnx:{tmp_path / 'm.onnx'}")
    assert [(n.type, n.params, n.inputs) for n in result.graph][1:] == [(n.type, n.params, n.inputs) for n in g][1:]
    x = np.random.default_rng(0).random((2, 3, 6, 6), dtype=np.float32) * 255
    (want,) = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    imported = designer.compile(result.graph).eval()
    imported.load_state_dict(result.state_dict, strict=True)
    with torch.no_grad():
        np.testing.assert_allclose(imported(torch.from_numpy(x)).numpy(), want, rtol=1e-5, atol=1e-6)
        assert torch.equal(imported(torch.from_numpy(x)), module(torch.from_numpy(x)))


def test_the_operators_emitted_are_pythons():
    g = chain([2], ("ScalarOp", {"op": "rdiv", "value": 2.0}))
    fns = [n.target for n in designer.compile(g).graph.nodes if n.op == "call_function"]
    assert fns == [operator.truediv]
