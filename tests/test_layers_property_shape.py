"""Graph operations, reshaping and linear entries against torch (see tests/layer_harness.py)."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import strategies as st
from torchvision.models.shufflenetv2 import InvertedResidual

from designer.compiler import compile_graph
from tests.helpers import graph, randomize_norms
from tests.layer_harness import (
    ANY_RANKS,
    BATCH,
    DIM,
    FLAT_RANKS,
    REFERENCES,
    Case,
    module_case,
    run_property,
    sample_shape,
)


def _input(params: dict[str, Any], xs: list[torch.Tensor]) -> tuple[None, torch.Tensor]:
    return None, torch.zeros(BATCH, *params["shape"])


def _fold(op: Any) -> Any:
    return lambda params, xs: (None, functools.reduce(op, xs))


def _concat(params: dict[str, Any], xs: list[torch.Tensor]) -> tuple[None, torch.Tensor]:
    # torch.cat has no module default to follow; the designer joins along channels unless told otherwise.
    return None, torch.cat(xs, dim=params.get("dim", 1))


def _slice(params: dict[str, Any], xs: list[torch.Tensor]) -> tuple[None, torch.Tensor]:
    step = params.get("step", 1)
    return None, torch.ops.aten.slice.Tensor(
        xs[0], params.get("dim", 1), params.get("start", 0), params.get("end"), step
    )


def _split(params: dict[str, Any], xs: list[torch.Tensor]) -> tuple[None, torch.Tensor]:
    """The first part (tests/test_split.py checks every part and the refusal of unequal chunks)."""
    dim = params.get("dim", 1)
    if params.get("sections") is not None:
        return None, torch.split(xs[0], params["sections"], dim)[0]
    chunks = params.get("chunks", 2)
    parts = xs[0].chunk(chunks, dim)
    if len(parts) != chunks or parts[-1].shape != parts[0].shape:
        raise RuntimeError("chunk gives unequal parts here; the designer asks for sections instead")
    return None, parts[0]


REFERENCES.update(
    {
        "Permute": lambda params, xs: (None, torch.permute(xs[0], params["dims"])),
        "Slice": _slice,
        "Mean": lambda params, xs: (None, torch.mean(xs[0], params["dim"], keepdim=params.get("keepdim", False))),
        "Input": _input,
        "Add": _fold(torch.add),
        "Mul": _fold(torch.mul),
        "Maximum": _fold(torch.maximum),
        "Minimum": _fold(torch.minimum),
        "Average": lambda params, xs: (None, functools.reduce(torch.add, xs) / len(xs)),
        "Concat": _concat,
        "Reshape": lambda params, xs: (None, xs[0].reshape(BATCH, *params["shape"])),
        "ScalarOp": lambda params, xs: (None, _scalar(params, xs[0])),
        "Split": _split,
    }
)

#: ScalarOp's ops as torch's functions (the module's operators are tested bit for bit in tests/test_scalar_op.py).
_SCALAR: dict[str, Any] = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "pow": torch.pow,
    "rsub": torch.rsub,
    "rdiv": lambda x, c: torch.reciprocal(x) * c,
}


def _scalar(params: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    if params["op"] not in _SCALAR:
        raise ValueError(f"torch has no operator {params['op']!r}")
    return _SCALAR[params["op"]](x, params["value"])


@st.composite
def _elementwise(draw: Any, type_: str) -> Case:
    """2-3 inputs varied from one shape: equal, a dim set to 1 (broadcast), a dim changed, or a rank dropped."""
    base = draw(sample_shape(ranks=(1, 2, 3)))
    shapes = [base]
    for _ in range(draw(st.integers(1, 2))):
        s = list(base)
        how, dim = draw(st.sampled_from(["same", "one", "other", "rank"])), draw(st.integers(0, len(s) - 1))
        if how == "one":
            s[dim] = 1
        elif how == "other":
            s[dim] = draw(st.integers(1, 6))
        elif how == "rank" and len(s) > 1:
            s = s[1:]
        shapes.append(tuple(s))
    return Case(type_, {}, tuple(shapes))


@st.composite
def _concat_case(draw: Any) -> Case:
    base = draw(sample_shape(ranks=(1, 2, 3)))
    params = draw(st.fixed_dictionaries({}, optional={"dim": DIM}))
    axis = params.get("dim", 1) % (len(base) + 1) - 1
    shapes = [base]
    for _ in range(draw(st.integers(0, 2))):
        s = list(base)
        if 0 <= axis < len(s):
            s[axis] = draw(st.integers(1, 16))
        if draw(st.integers(0, 4)) == 0:  # sometimes another dim or the rank differs
            s = s[1:] if len(s) > 1 and draw(st.booleans()) else [n + 1 for n in s]
        shapes.append(tuple(s))
    return Case("Concat", params, tuple(shapes))


@st.composite
def _reshape(draw: Any) -> Case:
    shape = draw(sample_shape(ranks=(1, 2, 3)))
    total = math.prod(shape)
    if draw(st.booleans()):
        target = [d for d in range(1, total + 1) if total % d == 0 and d <= 24]
        first = draw(st.sampled_from(target))
        target = [first, total // first]
        if draw(st.booleans()):
            target[draw(st.integers(0, 1))] = -1
    else:
        target = draw(st.lists(st.sampled_from([-2, -1, 0, 1, 2, 3, 4, 6, 8]), min_size=1, max_size=4))
    return Case("Reshape", {"shape": target}, (shape,))


@st.composite
def _permute(draw: Any) -> Case:
    """Mostly an order of every dimension with the batch first, some written from the end; sometimes any list."""
    shape = draw(sample_shape(ANY_RANKS))
    rank = len(shape) + 1
    if draw(st.integers(0, 3)):
        dims = [0, *draw(st.permutations(range(1, rank)))]
        if draw(st.booleans()):
            dims = [d - rank if draw(st.booleans()) else d for d in dims]
    else:
        dims = draw(st.lists(DIM, min_size=rank - 1, max_size=rank + 1))
    return Case("Permute", {"dims": dims}, (shape,))


_INDEX = st.integers(-20, 20)
_SLICE = {"dim": DIM, "start": _INDEX, "end": st.one_of(st.none(), _INDEX), "step": st.integers(-1, 4)}

_INPUT = st.builds(lambda s: Case("Input", {"shape": s}, ()), st.lists(st.integers(-1, 6), min_size=1, max_size=4))

STRATEGIES: dict[str, st.SearchStrategy] = {
    "Linear": module_case(
        "Linear", {"out_features": st.integers(1, 16)}, {"bias": st.booleans()}, "in_features", FLAT_RANKS
    ),
    "Flatten": module_case("Flatten", {}, {"start_dim": DIM, "end_dim": DIM}),
    "Input": _INPUT,
    "Permute": _permute(),
    "Slice": module_case("Slice", {}, _SLICE),
    "Split": module_case("Split", {}, {"dim": DIM, "sections": st.lists(st.integers(1, 6), min_size=1, max_size=4)}),
    "Mean": module_case(
        "Mean", {"dim": st.lists(DIM, min_size=1, max_size=3)}, {"keepdim": st.booleans()}, ranks=ANY_RANKS
    ),
    "ChannelShuffle": module_case("ChannelShuffle", {"groups": st.integers(1, 8)}),
    "Add": _elementwise("Add"),
    "Mul": _elementwise("Mul"),
    "Maximum": _elementwise("Maximum"),
    "Minimum": _elementwise("Minimum"),
    "Average": _elementwise("Average"),
    "Concat": _concat_case(),
    "Reshape": _reshape(),
    "ScalarOp": st.builds(
        lambda op, value, shape: Case("ScalarOp", {"op": op, "value": value}, (shape,)),
        st.sampled_from(sorted(_SCALAR)),
        st.floats(-1e3, 1e3, allow_nan=False),
        sample_shape(ANY_RANKS),
    ),
}

EXAMPLES = {"Linear": 50, "Flatten": 80, "Concat": 80, "Add": 60, "Mul": 60, "Reshape": 80, "Slice": 50}

EDGES = [
    ("Flatten", {"start_dim": 2, "end_dim": 1}, [(2, 3, 4)]),
    ("Flatten", {"start_dim": -1, "end_dim": -1}, [(2, 3, 4)]),
    ("Flatten", {"start_dim": 0}, [(2, 3, 4)]),
    ("Flatten", {"end_dim": 4}, [(2, 3, 4)]),
    ("Add", {}, [(4, 5, 5), (3, 5, 5)]),
    ("Add", {}, [(4, 5, 5), (4, 1, 1)]),
    ("Add", {}, [(1, 5, 5), (4, 5, 5)]),
    ("Add", {}, [(4, 5, 5), (5, 5)]),
    ("Mul", {}, [(4, 1, 5), (4, 5, 1), (1, 5, 5)]),
    ("Maximum", {}, [(4, 1, 5), (4, 5, 1), (1, 5, 5)]),
    ("Minimum", {}, [(4, 5, 5), (3, 5, 5)]),
    ("Average", {}, [(4, 5, 5), (4, 1, 1), (4, 5, 5)]),
    ("Concat", {}, [(2, 4, 4), (3, 4, 5)]),
    ("Concat", {"dim": -3}, [(2, 4, 4), (3, 4, 4)]),
    ("Concat", {"dim": 0}, [(2, 4, 4), (2, 4, 4)]),
    ("Concat", {}, [(2, 4, 4), (4, 4)]),
    ("Reshape", {"shape": [-1]}, [(3, 4, 2)]),
    ("Reshape", {"shape": [5, -1]}, [(3, 4, 2)]),
    ("Reshape", {"shape": [-1, -1]}, [(3, 4, 2)]),
    ("Reshape", {"shape": [0, -1]}, [(3, 4, 2)]),
    ("Reshape", {"shape": [2, 12]}, [(3, 4, 2)]),
    ("Input", {"shape": [3, 0, 4]}, []),
    ("Linear", {"out_features": 3}, [(2, 4, 4)]),
    ("Linear", {"out_features": 3, "in_features": 4}, [(2, 4, 4)]),  # channels-last, as ConvNeXt's MLP
    ("Linear", {"out_features": 3, "in_features": 32}, [(2, 4, 4)]),  # the whole map: a Flatten is missing
    ("Linear", {"out_features": 3, "in_features": 5}, [(2, 4, 3, 5)]),
    ("Permute", {"dims": [0, 2, 3, 1]}, [(8, 5, 6)]),  # ConvNeXt's channels-last
    ("Permute", {"dims": [0, -1, 1, 2]}, [(8, 5, 6)]),
    ("Permute", {"dims": [1, 0, 2, 3]}, [(8, 5, 6)]),  # moves the batch
    ("Permute", {"dims": [0, 1, 1, 2]}, [(8, 5, 6)]),
    ("Slice", {"start": 4, "end": 8}, [(8, 5, 6)]),  # ShuffleNet's second chunk
    ("Slice", {"start": 8}, [(8, 5, 6)]),  # nothing left
    ("Slice", {"start": -3, "end": -1, "step": 2}, [(8, 5, 6)]),
    ("Slice", {"dim": 0}, [(8, 5, 6)]),
    ("Split", {"sections": [3, 5]}, [(8, 5, 6)]),  # GoogLeNet-style unequal parts
    ("Split", {"sections": [3, 4]}, [(8, 5, 6)]),  # parts that do not add up: a diagnostic
    ("Mean", {"dim": [2, 3]}, [(8, 5, 6)]),  # global average pooling
    ("Mean", {"dim": [-1, -2], "keepdim": True}, [(8, 5, 6)]),
    ("Mean", {"dim": [2, -2]}, [(8, 5, 6)]),  # the same dimension twice
    ("Mean", {"dim": [1, 2, 3]}, [(8, 5, 6)]),  # everything: one value per sample
    ("ChannelShuffle", {"groups": 3}, [(8, 5, 6)]),
    ("ChannelShuffle", {"groups": 2}, [(8,)]),  # torch needs more than 2 dimensions
    ("ScalarOp", {"op": "rsub", "value": 1.0}, [(3,)]),
    ("ScalarOp", {"op": "mod", "value": 2.0}, [(3, 4, 4)]),  # no such op: a diagnostic
]


@pytest.mark.parametrize("type_name", list(STRATEGIES))
def test_layer_agrees_with_torch(type_name: str):
    run_property(type_name, STRATEGIES[type_name], EXAMPLES.get(type_name, 30), EDGES)


def test_slice_concat_and_channel_shuffle_rebuild_a_shufflenet_unit():
    """torchvision's ShuffleNetV2 unit (chunk in two, one branch, concat, shuffle) as Slices and a ChannelShuffle:
    its state_dict loads strictly and the outputs agree."""
    conv = {"kernel_size": 1, "bias": False}
    design = graph(
        ("x", "Input", {"shape": [8, 6, 6]}, []),
        ("x1", "Slice", {"end": 4}, ["x"]),
        ("x2", "Slice", {"start": 4}, ["x"]),
        ("branch2.0", "Conv2d", {"out_channels": 4, **conv}, ["x2"]),
        ("branch2.1", "BatchNorm2d", {}, ["branch2.0"]),
        ("branch2.2", "ReLU", {}, ["branch2.1"]),
        (
            "branch2.3",
            "Conv2d",
            {**conv, "out_channels": 4, "kernel_size": 3, "padding": 1, "groups": 4},
            ["branch2.2"],
        ),
        ("branch2.4", "BatchNorm2d", {}, ["branch2.3"]),
        ("branch2.5", "Conv2d", {"out_channels": 4, **conv}, ["branch2.4"]),
        ("branch2.6", "BatchNorm2d", {}, ["branch2.5"]),
        ("branch2.7", "ReLU", {}, ["branch2.6"]),
        ("cat", "Concat", {}, ["x1", "branch2.7"]),
        ("shuffle", "ChannelShuffle", {"groups": 2}, ["cat"]),
    )
    reference = randomize_norms(InvertedResidual(8, 8, 1))
    model = compile_graph(design).eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(model(x), reference(x))
