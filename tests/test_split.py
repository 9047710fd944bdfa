"""The channel Split, a node with several outputs read as ``"id:k"``: shapes of every part against torch, the
compiled module against torch.split, references in the format and the model, and the diagnostics of the wiring."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from designer import analyze
from designer.analysis.incremental import reanalyze
from designer.compiler import compile_graph
from designer.model.fileformat import dumps, loads
from designer.model.graph import Node, NodeId, port_ref, split_ref
from tests.helpers import graph


def _split_design(shape: tuple[int, ...], params: dict[str, Any], parts: int) -> Any:
    """Input -> Split -> an Identity per part, each part an output in order."""
    outs = [(f"o{k}", "Identity", {}, [port_ref("s", k)]) for k in range(parts)]
    g = graph(("x", "Input", {"shape": list(shape)}, []), ("s", "Split", params, ["x"]), *outs)
    g.outputs = [n[0] for n in outs]
    return g


@st.composite
def _cases(draw: Any) -> tuple[tuple[int, ...], dict[str, Any]]:
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 12), min_size=rank, max_size=rank)))
    dim = draw(st.integers(-rank, rank))
    params: dict[str, Any] = {"dim": dim}
    if draw(st.booleans()):
        params["sections"] = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    else:
        params["chunks"] = draw(st.integers(1, 5))
    return shape, params


@settings(max_examples=120, deadline=None, database=None)
@given(_cases())
def test_every_part_has_the_shape_torch_gives_and_the_design_is_valid_exactly_when_torch_runs(case):
    shape, params = case
    x = torch.randn(2, *shape)
    dim = params["dim"]
    try:
        if dim % (len(shape) + 1) == 0:
            raise RuntimeError("the designer refuses to cut the batch")
        if "sections" in params:
            want = torch.split(x, params["sections"], dim)
        else:
            want = x.chunk(params["chunks"], dim)
            if any(p.shape != want[0].shape for p in want) or len(want) != params["chunks"]:
                raise RuntimeError("unequal chunks: the designer asks for sections")
    except RuntimeError:
        want = None
    parts = len(params.get("sections", ())) or params.get("chunks", 2)
    g = _split_design(shape, params, parts)
    analysis = analyze(g)
    if want is None:
        assert analysis.errors and all(d.node_id == "s" for d in analysis.errors), analysis.errors
        return
    assert analysis.errors == [], analysis.errors
    info = analysis.info["s"]
    assert [(2, *p) for p in info.ports] == [tuple(w.shape) for w in want]
    assert [analysis.shape(port_ref("s", k)) for k in range(parts)] == list(info.ports)
    got = compile_graph(g)(x)
    got = got if isinstance(got, tuple) else (got,)
    assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))
    assert info.params == 0 and info.explain()


def test_references_name_the_node_and_the_output_and_the_first_is_the_bare_id():
    assert split_ref("s:1") == ("s", 1) and split_ref("s") == ("s", 0) and port_ref("s", 0) == "s"
    assert split_ref("a.b:12") == ("a.b", 12) and split_ref("odd:x") == ("odd:x", 0)
    text = dumps(_split_design((4, 2, 2), {"chunks": 2}, 2))
    assert '"inputs": ["s:1"]' in text and '"inputs": ["s"]' in text
    data = json.loads(text)
    data["nodes"][2]["inputs"] = ["s:0"]  # the first output spelt out is read as the bare id
    assert loads(json.dumps(data))["o0"].inputs == ["s"]


def test_renaming_a_split_keeps_which_output_each_reader_reads():
    g = _split_design((6, 2, 2), {"sections": [1, 2, 3]}, 3)
    g.rename_node("s", "cut")
    assert [g[f"o{k}"].inputs for k in range(3)] == [["cut"], ["cut:1"], ["cut:2"]]
    assert g.consumers()["cut"] == ["o0", "o1", "o2"] and analyze(g).errors == []


def test_wiring_problems_are_tied_to_the_node_that_has_them():
    g = _split_design((4, 3, 3), {"chunks": 2}, 2)
    g.connect("s:5", "o1", 0)
    g.disconnect("o1", 1)
    found = {(d.code, d.node_id, d.port) for d in analyze(g).diagnostics}
    assert ("graph.unknown_port", "o1", 0) in found
    assert ("graph.unused_part", "s", None) in found  # 's:1' is read by nobody now
    g.connect("x:1", "o0")  # an Input has one output
    assert any(d.code == "graph.unknown_port" and d.node_id == "o0" for d in analyze(g).errors)
    g.disconnect("o0", 1)
    g.set_outputs(["o0", "o1", "s:3"])
    assert any(d.code == "graph.unknown_output" and d.node_id == "s" for d in analyze(g).errors)


def test_an_in_place_layer_on_a_part_is_built_out_of_place_and_trains():
    g = graph(
        ("x", "Input", {"shape": [4, 3, 3]}, []),
        ("s", "Split", {}, ["x"]),
        ("r", "ReLU", {"inplace": True}, ["s:1"]),
        ("c", "Concat", {}, ["s", "r"]),
    )
    analysis = analyze(g)
    assert [d.code for d in analysis.diagnostics if d.node_id == "r"] == ["graph.inplace_view"]
    x = torch.randn(2, 4, 3, 3, requires_grad=True)
    compile_graph(g)(x).sum().backward()  # in place, autograd would refuse the view
    assert x.grad is not None


def test_an_edit_of_the_sections_reaches_the_readers_as_a_fresh_analysis_would():
    g = graph(
        ("x", "Input", {"shape": [6, 3, 3]}, []),
        ("s", "Split", {"sections": [2, 4]}, ["x"]),
        ("a", "Conv2d", {"out_channels": 2, "kernel_size": 1}, ["s:1"]),
        ("c", "Concat", {}, ["s", "a"]),
    )
    before = analyze(g)
    for sections in ([4, 2], [1, 2, 3], [6]):
        g.set_param("s", "sections", sections)
        after = reanalyze(before, ["s"])
        fresh = analyze(g)
        assert after.diagnostics == fresh.diagnostics
        assert {k: (v.shape, v.ports) for k, v in after.info.items()} == {
            k: (v.shape, v.ports) for k, v in fresh.info.items()
        }
        before = after
    assert any(d.code == "graph.unknown_port" for d in before.errors)  # [6] has one output; 'a' reads 's:1'


@pytest.mark.parametrize(
    ("params", "code"),
    [({"sections": [2, 2]}, "shape.split_sum"), ({"chunks": 4}, "shape.split_uneven"), ({"dim": 0}, "param.dim_batch")],
)
def test_parts_that_do_not_fit_say_how_to_fix_them(params, code):
    analysis = analyze(_split_design((6, 2, 2), params, 2))
    errors = [d for d in analysis.errors if d.node_id == "s"]
    assert [d.code for d in errors] == [code] and errors[0].hint


def test_version_1_ids_with_a_colon_keep_naming_their_node():
    old = {
        "format": "cnn-designer/1",
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [3]}},
            {"id": "a:1", "type": "ReLU", "inputs": ["x"]},
            {"id": "b", "type": "ReLU", "inputs": ["a:1"]},
        ],
        "outputs": ["b", "a:1"],
    }
    g = loads(json.dumps(old))
    assert g.ids() == ["x", "a_1", "b"] and g["b"].inputs == ["a_1"] and g.outputs == ["b", "a_1"]
    assert analyze(g).errors == []


def test_the_summary_shows_every_part():
    from designer.analysis.summary import format_text, to_json

    g = _split_design((6, 4), {"sections": [2, 4]}, 2)
    g.add_node(Node(NodeId("c"), "Split", {"chunks": 3}, [NodeId("x")]))
    g.set_outputs([*g.output_ids(), "c", "c:1", "c:2"])
    analysis = analyze(g)
    assert analysis.ok, analysis.diagnostics
    rows = {line.split()[0]: line for line in format_text(analysis, batch_size=5).splitlines()}
    assert "[5, 2, 4], [5, 4, 4]" in rows["s"]
    assert "3 x [5, 2, 4]" in rows["c"]
    nodes = {n["id"]: n for n in to_json(analysis)["nodes"]}
    assert nodes["s"]["output_shapes"] == [[2, 4], [4, 4]] and nodes["s"]["output_shape"] == [2, 4]
    assert "output_shapes" not in nodes["o0"]
