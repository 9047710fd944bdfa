"""``python -m designer diff``: nodes and parameters that differ, with deltas checked against torch's own counts."""

from __future__ import annotations

import json

import pytest

from designer import dumps
from designer.cli import main
from designer.compiler import compile_graph
from designer.editing.templates import load_template
from designer.model.graph import Node, NodeId
from designer.sweep.diff import diff, format_diff


def small():
    return load_template("small_cnn")


def edited():
    """small_cnn with conv1 twice as wide, relu1 gone, a Dropout before fc, and another learning rate."""
    g = small()
    g.set_param("conv1", "out_channels", 32)
    g.remove_node("relu1")
    g["pool1"].inputs = [NodeId("conv1")]
    g.add_node(Node(NodeId("drop"), "Dropout", {"p": 0.3}, [NodeId("flatten")]))
    g["fc"].inputs = [NodeId("drop")]
    g.extra.setdefault("training", {})["lr"] = 0.05
    return g


def torch_params(graph, prefix: str | None = None) -> int:
    model = compile_graph(graph)
    return sum(p.numel() for name, p in model.named_parameters() if prefix is None or name.startswith(prefix + "."))


def test_added_removed_changed_and_affected_nodes_with_deltas_as_torch_counts():
    a, b = small(), edited()
    d = diff(a, b)
    kinds = {n.node_id: n.kind for n in d.nodes}
    assert kinds == {
        "conv1": "changed",
        "pool1": "changed",
        "conv2": "affected",
        "drop": "added",
        "fc": "changed",
        "relu1": "removed",
    }
    conv1 = next(n for n in d.nodes if n.node_id == "conv1")
    assert [(c.name, c.old, c.new) for c in conv1.changes] == [("out_channels", 16, 32)]
    for n in d.nodes:
        if n.kind in ("changed", "affected"):
            assert n.params == (torch_params(a, n.node_id), torch_params(b, n.node_id)), n.node_id
    # conv2 reads twice the channels now: its weights grow though its own entry did not change
    assert next(n for n in d.nodes if n.node_id == "conv2").params_delta == 16 * 9 * 32
    assert d.params == (torch_params(a), torch_params(b))
    assert [(c.name, c.new) for c in d.training] == [("lr", 0.05)]
    assert d.ids("a") == {"conv1", "pool1", "conv2", "fc", "relu1"} and d.ids("b") == set(kinds) - {"relu1"}
    text = format_diff(d)
    assert "~ conv1 (Conv2d): out_channels 16 -> 32" in text and "- relu1 (ReLU)" in text and "+ drop" in text


def test_the_same_network_written_two_ways_has_no_differences():
    a = small()
    b = small()
    b.set_param("conv1", "kernel_size", [3, 3])
    b.set_param("conv1", "stride", 1)
    b["conv1"].pos = (500.0, 20.0)  # where a node is drawn is not the network
    d = diff(a, b)
    assert d.same and d.nodes == () and "the designs are the same" in format_diff(d)


def test_cli_compares_a_file_with_a_runs_project_and_exits_like_diff(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "project.json").write_text(dumps(edited()))
    a = tmp_path / "a.json"
    a.write_text(dumps(small()))
    assert main(["diff", str(a), str(run)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"--- {a}" and "total: params 20,490 -> " in out
    assert main(["diff", str(a), str(a)]) == 0
    capsys.readouterr()
    assert main(["diff", str(a), str(run), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {n["id"]: n["params_delta"] for n in data["nodes"]}["conv1"] == 160
    assert main(["diff", str(a), str(tmp_path / "missing.json")]) == 2


@pytest.mark.parametrize("field", ["frozen", "lr_mult"])
def test_training_fields_of_a_node_count_as_changes(field):
    b = small()
    setattr(b["fc"], field, True if field == "frozen" else 0.1)
    (n,) = diff(small(), b).nodes
    assert n.node_id == "fc" and n.changes[0].name == field
