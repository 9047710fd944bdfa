"""Graph mutators emit events and have exact inverses (what undo is built on)."""

from __future__ import annotations

from designer import dumps, loads
from designer.model.graph import Node, NodeId


def test_mutators_emit_events(example_text):
    g = loads(example_text)
    seen = []
    for signal in g.events.signals():
        signal.connect(lambda *args, name=signal.name: seen.append(name))
    g.add_node(Node(NodeId("drop"), "Dropout"))
    g.connect("flat", "drop")
    g.set_param("drop", "p", 0.2)
    g.set_field("drop", "pos", (1.0, 2.0))
    g.rename_node("drop", "dropout")
    g.disconnect("dropout", 0)
    g.remove_node("dropout")
    assert [s for s in seen if s != "changed"] == [
        "node_added",
        "edge_added",
        "param_changed",
        "field_changed",
        "node_renamed",
        "edge_removed",
        "node_removed",
    ]
    assert seen.count("changed") == 7


def test_inverses_restore_identical_text(example_text):
    g = loads(example_text)
    before = dumps(g)
    g.set_param("conv1", "padding", 1)
    g.set_param("conv1", "padding", None)
    index = g.connect("input", "fc", 0)
    g.disconnect("fc", index)
    node, i = g.remove_node("relu1")
    g.add_node(node, i)
    g.rename_node("conv1", "c1")
    g.rename_node("c1", "conv1")
    old = g.set_outputs(["fc", "pool1"])
    g.set_outputs(old)
    assert dumps(g) == before


def test_rename_updates_references(example_text):
    g = loads(example_text)
    g.rename_node("fc", "head.fc")
    assert g.outputs == ["head.fc"]
    g.rename_node("flat", "head.flat")
    assert g["head.fc"].inputs == ["head.flat"]


def test_default_outputs_are_unconsumed_nodes():
    g = loads(
        '{"format": "cnn-designer/2", "nodes": [{"id": "a", "type": "Input", "params": {"shape": [3]}},'
        '{"id": "b", "type": "ReLU", "inputs": ["a"]}, {"id": "c", "type": "Tanh", "inputs": ["a"]}]}'
    )
    assert g.output_ids() == ["b", "c"]
    assert g.unique_id("b") == "b_2"


def test_blocked_signal_is_silent(example_text):
    g = loads(example_text)
    calls = []
    g.events.param_changed.connect(lambda *a: calls.append(a))
    with g.events.param_changed.blocked():
        g.set_param("conv1", "stride", 2)
    assert calls == []
    g.set_param("conv1", "stride", 1)
    assert len(calls) == 1


def test_set_params_restores_order_and_explicit_nulls(example_text):
    g = loads(example_text)
    g["conv1"].params["bias"] = None  # as a file may have it
    before = dict(g["conv1"].params)
    text = dumps(g)
    changed = []
    g.events.param_changed.connect(lambda *a: changed.append(a[1]))
    g.set_param("conv1", "out_channels", None)
    g.set_param("conv1", "out_channels", 64)
    g.set_param("conv1", "bias", True)
    g.set_params("conv1", before)
    assert list(g["conv1"].params.items()) == list(before.items()) and dumps(g) == text
    assert sorted(changed[-2:]) == ["bias", "out_channels"]


def test_set_extra_is_evented_and_invertible(example_text):
    g = loads(example_text)
    text = dumps(g)
    seen = []
    g.events.extra_changed.connect(lambda *a: seen.append(a))
    old = g.set_extra("training", {"epochs": 3})
    assert '"training"' in dumps(g) and seen == [("training", None, {"epochs": 3})]
    g.set_extra("training", old)
    assert dumps(g) == text


def test_signals_hold_views_weakly_and_functions_strongly(example_text):
    """A view that goes away stops receiving events without disconnecting; a lambda has no other owner and stays."""
    import gc

    class View:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def on_param(self, node_id: str, name: str, old: object, new: object) -> None:
            self.seen.append(name)

    g = loads(example_text)
    view, lambdas = View(), []
    g.events.param_changed.connect(view.on_param)
    g.events.param_changed.connect(lambda *a: lambdas.append(a[1]))
    g.set_param("conv1", "padding", 1)
    assert view.seen == ["padding"] and lambdas == ["padding"]
    del view
    gc.collect()
    g.set_param("conv1", "stride", 2)
    assert lambdas == ["padding", "stride"]
    assert len(g.events.param_changed.callbacks()) == 1


def test_connect_is_idempotent_and_disconnect_stops_calls(example_text):
    g = loads(example_text)
    calls = []

    def on_changed() -> None:
        calls.append(1)

    g.events.changed.connect(on_changed)
    g.events.changed.connect(on_changed)
    g.set_param("conv1", "padding", 1)
    g.events.changed.disconnect(on_changed)
    g.set_param("conv1", "padding", 2)
    assert calls == [1]
