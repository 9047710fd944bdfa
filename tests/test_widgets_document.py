"""The document controller: every edit is a command, undo/redo round-trips the saved bytes, validation follows."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.analysis.validate import analyze
from designer.editing import catalog
from designer.editing.layout import COLUMN_STEP, ROW_STEP, layered_layout
from designer.layers.registry import list_specs
from designer.model import fileformat
from designer.model.graph import Graph
from tests.helpers import chain
from widgets.document.document import Document


@pytest.fixture
def doc(qtbot, example_text) -> Document:
    return Document(fileformat.loads(example_text))


def text(doc: Document) -> str:
    return fileformat.dumps(doc.graph)


def test_opening_places_unpositioned_nodes_without_an_undo_step(doc):
    assert all(n.pos is not None for n in doc.graph)
    assert doc.undo_stack.count() == 0 and not doc.is_modified


def test_layout_keeps_a_chain_in_one_column_and_moves_branches_right():
    g = chain([3, 8, 8], ("Conv2d", {"out_channels": 4, "kernel_size": 1}), ("ReLU", {}))
    from designer.model.graph import Node, NodeId

    g.add_node(Node(NodeId("side"), "ReLU", {}, [NodeId("n1")]))
    pos = layered_layout(g)
    assert [pos[i] for i in ("x", "n1", "n2")] == [(0, 0), (0, ROW_STEP), (0, 2 * ROW_STEP)]
    assert pos["side"] == (COLUMN_STEP, 2 * ROW_STEP)


def test_insert_after_rewires_consumers_and_undo_restores_bytes(doc):
    before = text(doc)
    new = doc.add_node("BatchNorm2d", after="conv1")
    assert doc.graph[new].inputs == ["conv1"] and doc.graph["relu1"].inputs == [new]
    assert doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert text(doc) == before


def test_insert_after_an_output_moves_the_output(doc):
    new = doc.add_node("Softmax", after="fc")
    assert doc.graph.outputs == [new]
    doc.undo_stack.undo()
    assert doc.graph.outputs == ["fc"]


def test_delete_node_cuts_its_edges_and_outputs_and_undo_puts_all_back(doc):
    before = text(doc)
    doc.remove_nodes(["flat", "fc"])
    assert "fc" not in doc.graph and doc.graph.outputs is None
    doc.undo_stack.undo()
    assert text(doc) == before
    doc.undo_stack.redo()
    doc.undo_stack.undo()
    assert text(doc) == before


def test_connect_replaces_the_input_of_a_single_input_node_and_appends_to_a_merge(doc):
    assert doc.connect_nodes("conv1", "pool1")
    assert doc.graph["pool1"].inputs == ["conv1"]
    add = doc.add_node("Add")
    assert doc.connect_nodes("relu1", add) and doc.connect_nodes("pool1", add)
    assert doc.graph[add].inputs == ["relu1", "pool1"]
    assert not doc.connect_nodes("fc", "input"), "an Input takes no connections"
    assert not doc.connect_nodes("fc", "fc")


def test_spin_box_bursts_merge_into_one_step_and_a_return_to_the_start_drops_it(doc):
    for value in (33, 34, 35):
        doc.set_param("conv1", "out_channels", value, merge=True)
    assert doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert doc.graph["conv1"].params["out_channels"] == 32
    doc.undo_stack.redo()
    doc.set_param("conv1", "out_channels", 32, merge=True)
    assert doc.undo_stack.count() == 0, "a burst that ends where it began leaves no undo step"


def test_nudges_of_the_same_nodes_merge(doc):
    x, y = doc.graph["conv1"].pos
    for _ in range(4):
        doc.nudge(["conv1"], 10, 0)
    assert doc.undo_stack.count() == 1 and doc.graph["conv1"].pos == (x + 40, y)


def test_param_undo_restores_key_order_and_explicit_nulls(qtbot):
    g = fileformat.loads(
        '{"format": "cnn-designer/2", "name": "t", "nodes": [{"id": "x", "type": "Input", '
        '"params": {"shape": [3, 8, 8]}}, {"id": "p", "type": "MaxPool2d", "params": '
        '{"stride": null, "kernel_size": 2, "padding": 0}, "inputs": ["x"]}]}'
    )
    doc = Document(g)
    before = text(doc)
    doc.set_param("p", "stride", 2)
    doc.set_param("p", "kernel_size", None)
    doc.set_param("p", "kernel_size", 3)
    assert list(doc.graph["p"].params) == ["stride", "padding", "kernel_size"]
    doc.undo_stack.setIndex(0)
    assert text(doc) == before


def test_rename_refuses_used_ids_and_groups_rename_by_prefix(doc):
    with pytest.raises(ValueError):
        doc.rename_node("conv1", "relu1")
    ids = doc.group_nodes(["conv1", "relu1"], "stem")
    assert ids == ["stem.conv1", "stem.relu1"] and doc.graph["stem.relu1"].inputs == ["stem.conv1"]
    assert doc.ungroup_nodes(ids) == ["conv1", "relu1"]
    with pytest.raises(ValueError):
        doc.group_nodes(["fc"], "flat")


def test_paste_gives_fresh_ids_and_keeps_internal_edges(doc):
    copied = doc.copy_text(["conv1", "relu1"])
    ids = doc.paste(copied)
    assert ids == ["conv1_2", "relu1_2"]
    assert doc.graph["relu1_2"].inputs == ["conv1_2"] and doc.graph["conv1_2"].inputs == []
    assert doc.duplicate(["relu1"]) == ["relu1_3"] and doc.graph["relu1_3"].inputs == ["conv1"]
    assert doc.paste("not nodes") == []


def test_validation_is_coalesced_to_one_update_per_burst(doc, qtbot):
    updates = []
    doc.analysis_changed.connect(updates.append)
    with qtbot.waitSignal(doc.analysis_changed, timeout=1000):
        doc.remove_nodes(["relu1"])
        doc.set_param("conv1", "out_channels", 8)
    qtbot.wait(10)
    assert len(updates) == 1
    assert any(d.code == "graph.missing_input" and d.node_id == "pool1" for d in updates[0].diagnostics)


@pytest.mark.parametrize("spec", list_specs(), ids=lambda s: s.name)
def test_every_layer_type_starts_with_valid_parameters(qtbot, spec):
    doc = Document(Graph("t"))
    src = doc.add_node("Input", params={"shape": [8, 16, 16]})
    feed = src
    # Linear takes a map only when in_features names its last dimension; dropped after a map it asks for a Flatten
    if spec.name == "Linear" or (spec.ranks and 1 in spec.ranks and 3 not in spec.ranks):
        feed = doc.add_node("Flatten", after=src)
    new = doc.add_node(spec.name, after=feed) if spec.name != "Input" else src
    if spec.arity[0] >= 2:
        # the RoI layers' second input is boxes: rows (batch index, x1, y1, x2, y2) from an Input of shape [5]
        second = doc.add_node("Input", params={"shape": [5]}) if spec.name.startswith("RoI") else feed
        doc.connect_nodes(second, new)
    problems = [d for d in doc.analysis.for_node(new) if d.is_error]
    assert problems == [], problems


@pytest.mark.parametrize("name", [b.name for b in catalog.list_blocks()])
def test_every_block_inserts_as_one_valid_step(qtbot, name):
    doc = Document(chain([3, 32, 32], ("Conv2d", {"out_channels": 64, "kernel_size": 3, "padding": 1})))
    ids = doc.add_block(name, after="n1")
    assert len(ids) > 1 and doc.undo_stack.count() == 1
    assert all("." in i for i in ids), "block nodes share a dotted group prefix"
    assert doc.analysis.errors == [], doc.analysis.errors
    doc.undo_stack.undo()
    assert doc.graph.ids() == ["x", "n1"]


# -- random edit sequences ------------------------------------------------------------------------------------------


def _random_edit(doc: Document, rng: random.Random) -> None:
    g = doc.graph
    ids = g.ids()
    pick = rng.choice
    op = rng.randrange(11)
    if op == 0 or not ids:
        doc.add_node(
            pick(["Conv2d", "ReLU", "BatchNorm2d", "Add", "Concat", "MaxPool2d"]),
            after=pick(ids) if ids and rng.random() < 0.7 else None,
        )
    elif op == 1:
        doc.remove_nodes(rng.sample(ids, k=min(len(ids), rng.randint(1, 2))))
    elif op == 2:
        doc.connect_nodes(pick(ids), pick(ids))
    elif op == 3:
        wired = [n for n in g if n.inputs]
        if wired:
            node = pick(wired)
            doc.disconnect_input(node.id, rng.randrange(len(node.inputs)))
    elif op == 4:
        node = g[pick(ids)]
        name = pick(list(node.params) + ["out_channels", "kernel_size", "stride"])
        doc.set_param(node.id, name, pick([None, 1, 2, 3, [2, 3], 16, "same"]), merge=rng.random() < 0.5)
    elif op == 5:
        doc.set_field(pick(ids), pick(["label", "frozen", "lr_mult"]), pick([None, "x", True, False, 0.5]))
    elif op == 6:
        doc.move_nodes({i: (rng.randint(-300, 300), rng.randint(-300, 300)) for i in rng.sample(ids, k=1)})
    elif op == 7:
        doc.nudge(ids[:2], 10, 0)
    elif op == 8:
        doc.paste(doc.copy_text(rng.sample(ids, k=min(len(ids), 2))))
    elif op == 9:
        doc.group_nodes(rng.sample(ids, k=1), pick(["blk", "layer1.0"]))
    else:
        doc.auto_layout()


def _assert_current(doc: Document) -> None:
    """The document's analysis (re-analysed from the last one after a parameter or field edit) is a fresh one's."""
    fresh = analyze(doc.graph)
    assert doc.analysis.diagnostics == fresh.diagnostics
    assert {n: (i.shape, i.params, i.ctx.p if i.ctx else None) for n, i in doc.analysis.info.items()} == {
        n: (i.shape, i.params, i.ctx.p if i.ctx else None) for n, i in fresh.info.items()
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 14))
def test_random_edits_undo_and_redo_to_the_same_saved_bytes(qtbot, example_text, seed, steps):
    doc = Document(fileformat.loads(example_text))
    rng = random.Random(seed)
    states = {0: text(doc)}
    for _ in range(steps):
        try:
            _random_edit(doc, rng)
        except ValueError:
            pass  # refused edits (a used group name) push nothing
        _assert_current(doc)
        index = doc.undo_stack.index()
        states = {i: t for i, t in states.items() if i < index}  # a merge may have dropped the last step
        states[index] = text(doc)
    top = doc.undo_stack.index()
    assert set(states) == set(range(top + 1)), "every step is one undo entry"
    for index in range(top, -1, -1):
        doc.undo_stack.setIndex(index)
        assert text(doc) == states[index]
        _assert_current(doc)
    for index in range(top + 1):
        doc.undo_stack.setIndex(index)
        assert text(doc) == states[index]
    doc.undo_stack.setIndex(0)
    doc.undo_stack.setIndex(top)
    assert text(doc) == states[top]
