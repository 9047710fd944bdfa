"""The property-test harness shared by the ``test_layers_property*`` families: a registry entry against torch.

For each entry a hypothesis strategy draws parameters and input shapes, invalid combinations included. The design
(Input -> layer, or several Inputs -> merge) is analysed, and an independent reference is built straight from
``torch.nn`` (or from ``REFERENCES``: torch functions, torchvision classes) and run on a batch of 2. The designer
must call a case valid exactly when torch runs it, with torch's shape, parameter count and a true explanation.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from torch import nn

from designer import analyze
from designer.layers.registry import fmt_shape, get_spec
from designer.model.graph import Graph
from tests.helpers import graph

#: Design rules by which we refuse what torch would run. Each one is deliberate:
ALLOWED = frozenset(
    {
        # Softmax/LogSoftmax/Concat/Mean/Slice along dim 0 run in torch but mix samples of the batch (or join
        # batches); Permute with dims[0] != 0 moves the batch.
        "param.dim_batch",
        # Flatten(start_dim=0) runs in torch but merges the batch into the features.
        "shape.flatten_batch",
        # Linear on a [C, H, W] map runs in torch (it acts on W only); unless in_features names that last
        # dimension (a channels-last map, as in ConvNeXt), the designer asks for a Flatten first.
        "shape.needs_flatten",
        # Ranks we refuse although torch runs: conv/pool/norm/upsample layers on [C, L] see [N, C, L] as an unbatched
        # [C, H, W] map (so the batch becomes the channels), Dropout2d on [F] or [C, L] (deprecated in torch),
        # ZeroPad2d/LocalResponseNorm/PixelShuffle on 4-D samples.
        "shape.rank",
        "shape.needs_map",
        # Add/Mul of inputs of different ranks runs in torch, but broadcasting aligns the trailing dims, so the batch
        # axis of the shorter input lines up with a feature axis of the longer one.
        "shape.rank_mismatch",
        # A stated in_channels/num_features/... must match the input even where torch never reads it (BatchNorm or
        # GroupNorm with affine=False and no running stats has no per-channel tensor): the file would contradict itself.
        "param.inferred_mismatch",
    }
)

#: Parameters torch infers nowhere: the reference reads them off the sample shape, as a user would.
INFERRED: dict[str, dict[str, Callable[[tuple[int, ...]], Any]]] = {
    "Conv2d": {"in_channels": lambda s: s[0]},
    "ConvTranspose2d": {"in_channels": lambda s: s[0]},
    "BatchNorm2d": {"num_features": lambda s: s[0]},
    "BatchNorm1d": {"num_features": lambda s: s[0]},
    "GroupNorm": {"num_channels": lambda s: s[0]},
    "LayerNorm": {"normalized_shape": lambda s: tuple(s)},
    "LayerNorm2d": {"normalized_shape": lambda s: (s[0],)},
    "LayerScale": {"dim": lambda s: s[0]},
    "Linear": {"in_features": lambda s: s[-1]},
}

#: Defaults the designer sets on purpose where torch has none (see tests/test_registry.py).
DELIBERATE_DEFAULTS = {"Softmax": {"dim": 1}, "LogSoftmax": {"dim": 1}}

#: References other than ``getattr(nn, type)(**params)``, filled by the family modules: from the case's parameters
#: (inferred ones filled in) and its input tensors, the reference module (None for a graph operation) and output.
REFERENCES: dict[str, Callable[[dict[str, Any], list[torch.Tensor]], tuple[nn.Module | None, torch.Tensor]]] = {}

#: Input tensors other than ``torch.randn`` per Input shape, by type (RoI boxes need a batch index and corners).
INPUTS: dict[str, Callable[[tuple[tuple[int, ...], ...]], list[torch.Tensor]]] = {}

BATCH = 2


@dataclass(frozen=True)
class Case:
    """One draw: the tested node 'n' of ``type`` with raw ``params``, fed by Inputs of ``shapes``."""

    type: str
    params: dict[str, Any]
    shapes: tuple[tuple[int, ...], ...]

    def design(self) -> Graph:
        if self.type == "Input":  # an Identity reads it: a design of Inputs alone computes nothing
            return graph(("n", "Input", self.params, []), ("out", "Identity", {}, ["n"]))
        ids = [f"x{i}" for i in range(len(self.shapes))]
        nodes = [(i, "Input", {"shape": list(s)}, []) for i, s in zip(ids, self.shapes)]
        return graph(*nodes, ("n", self.type, self.params, ids))


def _reference(case: Case) -> tuple[nn.Module | None, torch.Tensor]:
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in case.params.items()}
    for name, rule in INFERRED.get(case.type, {}).items():
        kwargs.setdefault(name, rule(case.shapes[0]))
    for name, value in DELIBERATE_DEFAULTS.get(case.type, {}).items():
        kwargs.setdefault(name, value)
    xs = inputs(case)
    if case.type in REFERENCES:
        return REFERENCES[case.type](kwargs, xs)
    module = getattr(nn, case.type)(**kwargs)
    return module, module(xs[0])


def inputs(case: Case) -> list[torch.Tensor]:
    """Tensors for the case's Inputs: ``INPUTS`` for its type, else standard normal samples of a batch of 2."""
    make = INPUTS.get(case.type)
    return make(case.shapes) if make else [torch.randn(BATCH, *s) for s in case.shapes]


def run_torch(case: Case) -> tuple[nn.Module | None, torch.Tensor | None, Exception | None]:
    """The reference module (None for graph operations) and its output, or the exception torch raised."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            module, out = _reference(case)
            return module, out, None
        # AssertionError: Hardtanh checks max_val > min_val with an assert
        except (RuntimeError, ValueError, IndexError, NotImplementedError, AssertionError) as exc:
            return None, None, exc


# -- the check --------------------------------------------------------------------------------------------------------


def check(case: Case) -> None:
    """Designer valid <=> torch runs with a non-empty output; then shapes, counts and explanations agree."""
    analysis = analyze(case.design())
    module, out, exc = run_torch(case)
    torch_ok = out is not None and out.numel() > 0
    errors = analysis.errors
    for d in errors:
        assert d.code and d.node_id == "n", d
    if errors:
        codes = {d.code for d in errors}
        assert not torch_ok or codes <= ALLOWED, f"torch gives {tuple(out.shape)}, designer refuses: {errors}"
        return
    assert torch_ok, f"designer accepts {analysis.shape('n')}, torch refuses: {exc!r}"
    info = analysis.info["n"]
    assert (BATCH, *info.shape) == tuple(out.shape)
    assert info.params == (sum(p.numel() for p in module.parameters()) if module else 0)
    if get_spec(case.type).is_module:
        built = info.spec.build(info.ctx)
        assert sum(p.numel() for p in built.parameters()) == info.params
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            assert tuple(built(*inputs(case)).shape) == tuple(out.shape)
    check_explain(info.explain(), info.shape, info.params)


_NUMBER_AT_END = re.compile(r"= ([\d,]+)(?: \(.*\))?$")
_SHAPE = re.compile(r"= (\[[\d, ]*\])")
_ARITHMETIC = re.compile(r"(?:floor|ceil|[\d\s+\-*/().])+")


def check_arithmetic(clause: str) -> None:
    """Every filled-in formula of ``a = 3*3 + 1 = 10`` evaluates to the number the clause ends with."""
    match = _NUMBER_AT_END.search(clause)
    if not match:
        return
    result = int(match.group(1).replace(",", ""))
    for expr in clause[: match.start()].split(" = ")[1:]:
        if _ARITHMETIC.fullmatch(expr):
            value = eval(expr, {"__builtins__": {}}, {"floor": math.floor, "ceil": math.ceil})
            assert math.isclose(value, result), (clause, expr, value)


def check_explain(lines: list[str], out: tuple[int, ...], params: int) -> None:
    """Each formula ends with the actual number: H_out/W_out/C_out, the output shape and the parameter count."""
    assert lines and all(lines)
    stated = set()
    for clause in (c.strip() for line in lines for c in line.split(";")):
        check_arithmetic(clause)
        head = clause.split(" ", 1)[0]
        want = {
            "H_out": out[-2] if len(out) > 1 else None,
            "W_out": out[-1] if out else None,
            "C_out": out[0] if out else None,
            "params": params,
        }.get(head)
        if head in ("H_out", "W_out", "C_out", "params"):
            match = _NUMBER_AT_END.search(clause)
            assert match and int(match.group(1).replace(",", "")) == want, (clause, want)
            stated.add(head)
        elif head == "output":
            shapes = _SHAPE.findall(clause)
            assert shapes and shapes[-1] == fmt_shape(out), (clause, out)
            stated.add("output")
    assert "output" in stated or {"H_out", "W_out"} <= stated, lines


def run_property(type_name: str, strategy: st.SearchStrategy, examples: int, edges: list[tuple[Any, ...]]) -> None:
    """Draw ``examples`` cases of ``strategy`` and replay the family's edge cases of this type."""

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(strategy)
    def run(case: Case) -> None:
        check(case)

    for type_, params, shapes in edges:
        if type_ == type_name:
            run = example(Case(type_, params, tuple(shapes)))(run)
    run()


# -- strategy building blocks -----------------------------------------------------------------------------------------


def pair(low: int, high: int) -> st.SearchStrategy:
    return st.one_of(st.integers(low, high), st.lists(st.integers(low, high), min_size=2, max_size=2))


@st.composite
def sample_shape(draw: Any, ranks: tuple[int, ...]) -> tuple[int, ...]:
    rank = draw(st.sampled_from(ranks))
    c = draw(st.integers(1, 16))
    # small sizes half the time: that is where kernels, paddings and crops stop fitting
    rest = st.one_of(st.integers(1, 4), st.integers(1, 24)) if rank <= 3 else st.integers(1, 6)
    return (c, *draw(st.lists(rest, min_size=rank - 1, max_size=rank - 1)))


#: Sample ranks to draw per layer family: mostly the ones the layer takes, some others to check the rank rules.
MAP_RANKS = (3,) * 12 + (1, 2, 4)
FLAT_RANKS = (1, 1, 2, 2, 3, 4)
ANY_RANKS = (1, 2, 3, 3, 4)


@st.composite
def module_case(
    draw: Any,
    type_: str,
    required: dict,
    optional: dict | None = None,
    inferred: str | None = None,
    ranks: tuple[int, ...] = ANY_RANKS,
) -> Case:
    """A one-input layer: a sample shape, then the drawn parameters; an inferred one is sometimes given (or off)."""
    shape = draw(sample_shape(ranks))
    params = draw(st.fixed_dictionaries(required, optional=optional or {}))
    if inferred and draw(st.booleans()):
        params[inferred] = INFERRED[type_][inferred](shape)
        if draw(st.integers(0, 3)) == 0:
            value = params[inferred]
            params[inferred] = value + 1 if isinstance(value, int) else [*value[:-1], value[-1] + 1]
    return Case(type_, params, (shape,))


INPLACE = {"inplace": st.booleans()}
FLOAT = st.floats(-2, 2, allow_nan=False)
# Only in-bounds eps and momentum are drawn: torch does not check them, and the designer's bounds are input checks.
EPS = {"eps": st.floats(1e-6, 1e-2)}
DIM = st.integers(-5, 5)
P = st.floats(-0.2, 1.2)
