"""Malformed input of every kind gives a diagnostic or a clean error, never a traceback."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer import analyze
from designer.analysis import summary
from designer.cli import main
from designer.layers.registry import list_types
from designer.model.fileformat import ProjectError, loads

from .conftest import EXAMPLE

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12,
)
TYPES = st.sampled_from(list_types() + ["Conv3d", "", "relu"])
PARAM_NAMES = st.sampled_from(
    [
        "out_channels",
        "kernel_size",
        "stride",
        "padding",
        "dilation",
        "groups",
        "bias",
        "p",
        "dim",
        "shape",
        "output_size",
        "scale_factor",
        "size",
        "mode",
        "num_groups",
        "start_dim",
        "end_dim",
        "in_channels",
        "out_features",
        "padding_mode",
        "bogus",
    ]
)
SMALL_VALUES = st.one_of(
    JSON_LEAVES,
    st.integers(-3, 40),
    st.lists(st.integers(-2, 30), max_size=5),
    st.sampled_from(["same", "valid", "nearest", "bilinear", "zeros", "reflect"]),
)


@st.composite
def projects(draw):
    """Structurally valid projects with arbitrary content: wrong types, values, wiring, cycles, ids."""
    n = draw(st.integers(1, 8))
    ids = draw(
        st.lists(st.sampled_from(["x", "a", "b", "c", "d.e", "d", "forward", "1", "a.0"]), min_size=n, max_size=n)
    )
    nodes = []
    for i, node_id in enumerate(ids):
        node = {"id": node_id, "type": "Input" if i == 0 else draw(TYPES)}
        node["params"] = draw(st.dictionaries(PARAM_NAMES, SMALL_VALUES, max_size=4))
        if i == 0 and draw(st.booleans()):
            node["params"] = {"shape": draw(st.lists(st.integers(-1, 40), min_size=0, max_size=4))}
        node["inputs"] = draw(st.lists(st.sampled_from(ids + ["ghost"]), max_size=3))
        nodes.append(node)
    data = {"format": "cnn-designer/2", "nodes": nodes}
    if draw(st.booleans()):
        data["outputs"] = draw(st.lists(st.sampled_from(ids + ["ghost"]), max_size=3))
    return data


def _exercise(text: str) -> None:
    problems = []
    try:
        g = loads(text, error_handler=problems.append)
    except ProjectError as exc:
        assert str(exc)
        return
    analysis = analyze(g)
    for d in analysis.diagnostics:
        assert d.code and d.message
        if d.is_error:
            assert d.hint, d
    summary.format_text(analysis, explain=True)
    json.dumps(summary.to_json(analysis, batch_size=2))


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects())
def test_arbitrary_content_never_raises(data):
    _exercise(json.dumps(data))


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(JSON)
def test_arbitrary_json_never_raises(value):
    _exercise(json.dumps(value))
    _exercise(json.dumps({"format": "cnn-designer/2", "nodes": value}))
    _exercise(json.dumps({"format": "cnn-designer/2", "nodes": [value]}))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(EXAMPLE)), st.integers(0, 255), st.integers(0, len(EXAMPLE) - 1))
def test_truncated_and_corrupted_files(cut, byte, where):
    _exercise(EXAMPLE[:cut])
    _exercise(EXAMPLE[:where] + chr(byte) + EXAMPLE[where + 1 :])


def test_cli_on_random_files_exits_0_1_or_2(tmp_path, capsys):
    rng = random.Random(7)
    for k in range(60):
        text = EXAMPLE
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(text))
            text = (
                text[:i]
                + rng.choice(['"', "}", "]", "-1", "1e309", "99999999999999999999", "", "null", "[["])
                + text[i + rng.randint(0, 3) :]
            )
        path = tmp_path / f"f{k}.json"
        path.write_text(text, encoding="utf-8")
        for command in ("validate", "summary"):
            assert main([command, str(path)]) in (0, 1, 2)
    capsys.readouterr()


def test_huge_numbers_are_range_errors_not_overflows():
    text = json.dumps(
        {
            "format": "cnn-designer/2",
            "nodes": [
                {"id": "x", "type": "Input", "params": {"shape": [3, 10**12, 10**12]}},
                {
                    "id": "c",
                    "type": "Conv2d",
                    "params": {"out_channels": 10**18, "kernel_size": 10**9},
                    "inputs": ["x"],
                },
                {"id": "u", "type": "Upsample", "params": {"scale_factor": 1e300}, "inputs": ["x"]},
            ],
        }
    )
    analysis = analyze(loads(text))
    assert {d.code for d in analysis.errors} == {"param.range"}
