"""Re-analysing after parameter edits equals analysing afresh: random designs, random edits, every node's results
and every diagnostic (in order) compared, and the changed set the views redraw from covers every difference."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.analysis.incremental import AnalysisFollower, reanalyze
from designer.analysis.validate import Analysis, analyze
from designer.editing.templates import load_template
from designer.layers.registry import get_spec
from designer.model.fileformat import from_dict
from designer.model.graph import Graph, Node, NodeId

from .contract import CORPUS, _value, random_design


def _results(analysis: Analysis) -> dict[str, Any]:
    """Everything a view or a later pass reads of each node."""
    return {
        nid: (
            ni.spec,
            ni.shape,
            ni.params,
            ni.mult_adds,
            ni.receptive_field,
            ni.rf_stride,
            dict(ni.weights),
            (ni.ctx.node_id, ni.ctx.type, ni.ctx.p, ni.ctx.x, ni.ctx.src) if ni.ctx else None,
        )
        for nid, ni in analysis.info.items()
    }


def _by_node(analysis: Analysis) -> dict[str | None, list[Any]]:
    out: dict[str | None, list[Any]] = {}
    for d in analysis.diagnostics:
        out.setdefault(d.node_id, []).append(d)
    return out


def _edit(graph: Graph, rng: random.Random) -> str:
    """One edit the incremental path takes: a parameter set, removed, made invalid or unknown; or a node field."""
    node = rng.choice(graph.nodes)
    spec = get_spec(node.type)
    what = rng.random()
    if what < 0.1:
        graph.set_field(node.id, rng.choice(["label", "pos", "frozen"]), rng.choice([None, True, (1.0, 2.0), "x"]))
    elif what < 0.2 and node.params:
        graph.set_param(node.id, rng.choice(list(node.params)), None)
    elif what < 0.3:
        graph.set_param(node.id, rng.choice(["out_channels", "kernel_size", "shape", "bogus"]), rng.randint(-1, 9))
    elif spec is not None and spec.params:
        p = rng.choice(spec.params)
        graph.set_param(node.id, p.name, _value(p.kind, rng, p.low, p.high, p.choices))
    return node.id


def _check_edits(graph: Graph, rng: random.Random, steps: int) -> None:
    previous = analyze(graph)
    for _ in range(steps):
        before_results, before_diags = _results(previous), _by_node(previous)
        edited = {_edit(graph, rng) for _ in range(rng.choice([1, 1, 2]))}
        incremental, fresh = reanalyze(previous, edited), analyze(graph)
        assert incremental.order == fresh.order
        assert incremental.diagnostics == fresh.diagnostics
        after = _results(incremental)
        assert after == _results(fresh)
        changed = incremental.changed_since(previous)
        assert changed is not None
        after_diags = _by_node(incremental)
        differ = {n for n in after if after[n] != before_results[n] or after_diags.get(n) != before_diags.get(n)}
        assert differ <= changed
        previous = incremental  # chained: the next edit starts from an incremental result


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 5))
def test_random_designs_and_edits_reanalyse_as_afresh(seed, steps):
    rng = random.Random(seed)
    graph = from_dict(random_design(rng, max_layers=10), lambda d: None)
    _check_edits(graph, rng, steps)


def test_template_pieces_and_their_mutations_reanalyse_as_afresh():
    """The contract corpus: windows of every template, kept and mutated (odd ids, in-place flags, rewiring)."""
    rng = random.Random(15)
    for design in json.loads(CORPUS.read_text(encoding="utf-8")):
        _check_edits(from_dict(design, lambda d: None), rng, 2)


@pytest.mark.parametrize("name", ["resnet18", "unet_shapes", "googlenet"])
def test_template_edits_reanalyse_as_afresh_and_redo_only_what_they_reach(name):
    graph = load_template(name)
    _check_edits(graph, random.Random(len(name)), 8)
    previous = analyze(graph)
    last = next(n for n in reversed(previous.order) if graph[n].type == "Linear" or graph[n].type == "Conv2d")
    graph.set_param(last, "bias", not graph[last].params.get("bias", True))
    changed = reanalyze(previous, [last]).changed_since(previous)
    assert changed is not None and last in changed
    assert len(changed) < len(graph) / 4  # near the end: the rest of the design is not redone


def test_an_analysis_without_its_passes_is_redone_whole():
    graph = load_template("small_cnn")
    previous = analyze(graph)
    previous.passes = None
    again = reanalyze(previous, [graph.ids()[1]])
    assert again.diagnostics == analyze(graph).diagnostics
    assert again.changed_since(previous) is None  # no delta: a view redraws everything


def test_nodes_with_the_same_rule_and_inputs_keep_their_own_context():
    """Results are shared between nodes of one type, parameters and input shapes; each context stays its own (the
    lint builds an in-place ReLU out of place only where another node reads its input)."""
    graph = Graph(
        "twins",
        [
            Node(NodeId("x"), "Input", {"shape": [4, 8, 8]}),
            Node(NodeId("a"), "Conv2d", {"out_channels": 4, "kernel_size": 1}, [NodeId("x")]),
            Node(NodeId("b"), "Conv2d", {"out_channels": 4, "kernel_size": 1}, [NodeId("x")]),
            Node(NodeId("shared"), "ReLU", {"inplace": True}, [NodeId("a")]),
            Node(NodeId("other"), "Identity", {}, [NodeId("a")]),
            Node(NodeId("alone"), "ReLU", {"inplace": True}, [NodeId("b")]),
            Node(NodeId("cat"), "Concat", {"dim": 1}, [NodeId("shared"), NodeId("other"), NodeId("alone")]),
        ],
    )
    for _ in range(2):  # the second analysis reads every rule's result from the first
        analysis = analyze(graph)
        shared, alone = analysis.info[NodeId("shared")].ctx, analysis.info[NodeId("alone")].ctx
        assert shared is not None and alone is not None
        assert (shared.node_id, shared.src, shared.p["inplace"]) == ("shared", ("a",), False)
        assert (alone.node_id, alone.src, alone.p["inplace"]) == ("alone", ("b",), True)
        assert [d.node_id for d in analysis.diagnostics if d.code == "graph.inplace_shared"] == ["shared"]


def test_a_merge_missing_an_input_shape_does_not_take_the_result_of_one_with_fewer_inputs():
    def design(inputs: list[str]) -> Graph:
        return Graph(
            "merge",
            [
                Node(NodeId("x"), "Input", {"shape": [2, 4, 4]}),
                Node(NodeId("bad"), "Conv2d", {"out_channels": 2, "kernel_size": 9}, [NodeId("x")]),
                Node(NodeId("cat"), "Concat", {"dim": 1}, [NodeId(i) for i in inputs]),
            ],
        )

    for first, second in ((["x"], ["x", "bad"]), (["x", "bad"], ["x"])):
        assert analyze(design(first)).shape("cat") == ((2, 4, 4) if first == ["x"] else None)
        assert analyze(design(second)).shape("cat") == ((2, 4, 4) if second == ["x"] else None)


def test_the_follower_reanalyses_after_parameter_edits_and_starts_afresh_after_any_other():
    graph = load_template("small_cnn")
    follower = AnalysisFollower(graph)
    first = follower.analysis
    conv = next(n.id for n in graph if n.type == "Conv2d")
    graph.set_param(conv, "out_channels", 7)
    graph.set_field(conv, "label", "narrow")
    after_param = follower.analysis
    assert after_param.changed_since(first) is not None and conv in after_param.changed_since(first)
    assert after_param.diagnostics == analyze(graph).diagnostics
    last = graph.ids()[-1]
    for edit in (
        lambda: graph.set_node_extra(conv, "silence", ["advice"]),  # read by a whole-graph pass
        lambda: graph.disconnect(last, 0),
        lambda: graph.set_outputs([conv]),
    ):
        before = follower.analysis
        edit()
        assert follower.analysis.changed_since(before) is None  # afresh
        assert follower.analysis.diagnostics == analyze(graph).diagnostics
    kept = follower.analysis
    follower.close()
    graph.set_param(conv, "out_channels", 9)
    assert follower.analysis is kept  # closed: it hears no edit


def test_advice_on_nodes_an_edit_does_not_reach_is_kept_and_redone_where_it_does():
    """Per-node advice (here advice.bias_before_bn) is kept for nodes whose results an edit left alone, the same
    warning object, and found again for the edited node: equal to advice afresh both ways."""
    graph = load_template("resnet18")
    previous = analyze(graph)
    convs = [n for n in previous.order if graph[n].type == "Conv2d"]
    first, last = convs[0], convs[-1]
    for nid in (first, last):
        graph.set_param(nid, "bias", True)
    previous = analyze(graph)
    before = {d.node_id: d for d in previous.diagnostics if d.code == "advice.bias_before_bn"}
    assert {first, last} <= set(before)
    for bias in (False, True):
        graph.set_param(last, "bias", bias)
        after = reanalyze(previous, [last])
        assert after.diagnostics == analyze(graph).diagnostics
        found = {d.node_id: d for d in after.diagnostics if d.code == "advice.bias_before_bn"}
        assert (last in found) == bias
        assert found[first] is before[first], "the first convolution's advice was kept, not found again"
        previous = after
