"""Graph operations, reshaping and linear entries against torch (see tests/layer_harness.py)."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from hypothesis import strategies as st

from tests.layer_harness import BATCH, DIM, FLAT_RANKS, REFERENCES, Case, module_case, run_property, sample_shape


def _input(params: dict[str, Any], xs: list[torch.Tensor]) -> tuple[None, torch.Tensor]:
    return None, torch.zeros(BATCH, *params["shape"])


def _fold(op: Any) -> Any:
    return lambda params, xs: (None, functools.reduce(op, xs))


def _concat(params: dict[str, Any], xs: list[torch.Tensor]) -> tuple[None, torch.Tensor]:
    # torch.cat has no module default to follow; the designer joins along channels unless told otherwise.
    return None, torch.cat(xs, dim=params.get("dim", 1))


REFERENCES.update(
    {
        "Input": _input,
        "Add": _fold(torch.add),
        "Mul": _fold(torch.mul),
        "Concat": _concat,
        "Reshape": lambda params, xs: (None, xs[0].reshape(BATCH, *params["shape"])),
    }
)


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


_INPUT = st.builds(lambda s: Case("Input", {"shape": s}, ()), st.lists(st.integers(-1, 6), min_size=1, max_size=4))

STRATEGIES: dict[str, st.SearchStrategy] = {
    "Linear": module_case(
        "Linear", {"out_features": st.integers(1, 16)}, {"bias": st.booleans()}, "in_features", FLAT_RANKS
    ),
    "Flatten": module_case("Flatten", {}, {"start_dim": DIM, "end_dim": DIM}),
    "Input": _INPUT,
    "Add": _elementwise("Add"),
    "Mul": _elementwise("Mul"),
    "Concat": _concat_case(),
    "Reshape": _reshape(),
}

EXAMPLES = {"Flatten": 80, "Concat": 80, "Add": 60, "Mul": 60, "Reshape": 80}

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
]


@pytest.mark.parametrize("type_name", list(STRATEGIES))
def test_layer_agrees_with_torch(type_name: str):
    run_property(type_name, STRATEGIES[type_name], EXAMPLES.get(type_name, 30), EDGES)
