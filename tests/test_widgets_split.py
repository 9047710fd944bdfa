"""A Split on the canvas, driven as a person would: dropped from the palette, a wire dragged from each of its output
ports, parts counted from the inspector's chunks, copied, pasted, renamed and deleted; the undo stack and the model's
``"id:k"`` references checked after each step."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF

from designer.model import fileformat
from tests.helpers import graph
from tests.test_widgets_canvas import Canvas, drop
from widgets.canvas.edge_item import EdgeItem
from widgets.document.document import Document
from widgets.panels.inspector import Inspector


@pytest.fixture
def canvas(qtbot, example_text):
    made = Canvas(qtbot, Document(fileformat.loads(example_text)))
    yield made
    made.close()


def _drop_split(canvas: Canvas) -> str:
    """Drop a Split from the palette onto conv1 (so it reads conv1) and return its id."""
    drop(canvas, "layer:Split", canvas.scene.nodes["conv1"].pos())
    split = canvas.doc.graph.ids()[-1]
    assert canvas.doc.graph[split].type == "Split" and canvas.doc.graph[split].inputs == ["conv1"]
    return split


def _drop_free(canvas: Canvas, key: str, where: QPointF) -> str:
    drop(canvas, key, where)
    return canvas.doc.graph.ids()[-1]


def _wire(canvas: Canvas, split: str, port: int, dst: str) -> None:
    """Drag from output port ``port`` of the Split's box to the input port of ``dst``."""
    start = canvas.scene.nodes[split].output_ports[port].scenePos()
    canvas.drag(start, canvas.scene.nodes[dst].input_anchor(0, 1))


def _start(edge: EdgeItem) -> QPointF:
    """Where the edge's curve begins."""
    first = edge.path().elementAt(0)
    return QPointF(first.x, first.y)


def test_a_dropped_split_shows_a_port_per_part_and_a_drag_from_port_1_reads_that_part(canvas):
    split = _drop_split(canvas)
    assert canvas.doc.graph[split].params == {"chunks": 2, "dim": 1}
    ports = canvas.scene.nodes[split].output_ports
    assert len(ports) == 2 and ports[0].scenePos() != ports[1].scenePos()
    relu = _drop_free(canvas, "layer:ReLU", QPointF(700, 400))
    steps = canvas.doc.undo_stack.count()
    _wire(canvas, split, 1, relu)
    assert canvas.doc.graph[relu].inputs == [f"{split}:1"]
    assert canvas.doc.undo_stack.count() == steps + 1
    (edge,) = canvas.scene.edges_into(relu)
    assert edge.src == f"{split}:1" and _start(edge) == canvas.scene.nodes[split].output_anchor(1)
    canvas.flush()
    assert edge.label.text == "16×26×26" and not edge.error
    assert canvas.scene.nodes[split].content.shape == "→ 2 × 16×26×26"
    canvas.doc.undo_stack.undo()
    assert canvas.doc.graph[relu].inputs == [] and canvas.scene.edges_into(relu) == []
    canvas.doc.undo_stack.redo()
    assert canvas.doc.graph[relu].inputs == [f"{split}:1"]
    assert [e.src for e in canvas.scene.edges_into(relu)] == [f"{split}:1"]


def test_two_parts_into_one_add_are_two_edges_each_labelled_with_its_part(canvas):
    split = _drop_split(canvas)
    canvas.doc.set_param("conv1", "out_channels", 48)
    canvas.doc.set_param(split, "sections", [16, 32])
    cat = _drop_free(canvas, "layer:Concat", QPointF(700, 400))
    _wire(canvas, split, 0, cat)
    _wire(canvas, split, 1, cat)
    assert canvas.doc.graph[cat].inputs == [split, f"{split}:1"]
    canvas.flush()
    edges = canvas.scene.edges_into(cat)
    assert [e.label.text for e in edges] == ["16×26×26", "32×26×26"]
    assert all(e.isVisible() and not e.error for e in edges)
    starts = [_start(e) for e in edges]
    assert starts[0] != starts[1], "each edge leaves its own port"
    assert canvas.scene.nodes[split].content.shape == "→ 16×26×26 | 32×26×26"


def test_chunks_from_two_to_three_in_the_inspector_makes_three_ports_and_lists_each_part(canvas, qtbot):
    split = _drop_split(canvas)
    canvas.doc.set_param("conv1", "out_channels", 48)
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.set_document(canvas.doc)
    inspector.show_node(split)
    inspector.editors["chunks"].box.setValue(3)
    assert canvas.doc.graph[split].params["chunks"] == 3
    assert len(canvas.scene.nodes[split].output_ports) == 3
    canvas.flush()
    facts = inspector.facts.text()
    assert all(f"{ref}: 16×26×26" in facts for ref in (split, f"{split}:1", f"{split}:2")), facts
    free = _drop_free(canvas, "layer:ReLU", QPointF(700, 400))
    _wire(canvas, split, 2, free)
    assert canvas.doc.graph[free].inputs == [f"{split}:2"]
    canvas.doc.undo_stack.undo()
    canvas.doc.undo_stack.undo()
    canvas.doc.undo_stack.undo()
    assert canvas.doc.graph[split].params["chunks"] == 2 and len(canvas.scene.nodes[split].output_ports) == 2


def test_a_wire_from_a_port_the_split_no_longer_has_is_refused(canvas):
    split = _drop_split(canvas)
    free = _drop_free(canvas, "layer:ReLU", QPointF(700, 400))
    assert canvas.doc.can_connect(f"{split}:1", free)
    assert not canvas.doc.can_connect(f"{split}:2", free) and not canvas.doc.connect_nodes(f"{split}:2", free)


def test_renaming_a_split_in_the_inspector_keeps_every_part_wired(canvas, qtbot):
    split = _drop_split(canvas)
    free = _drop_free(canvas, "layer:ReLU", QPointF(700, 400))
    _wire(canvas, split, 1, free)
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.set_document(canvas.doc)
    inspector.show_node(split)
    inspector.id_edit.setText("halves:1")
    inspector.id_edit.editingFinished.emit()
    assert "halves:1" not in canvas.doc.graph and "border" in inspector.id_edit.styleSheet()
    inspector.id_edit.setText("halves")
    inspector.id_edit.editingFinished.emit()
    assert canvas.doc.graph[free].inputs == ["halves:1"] and canvas.doc.graph["relu1"].inputs == ["halves"]
    (edge,) = canvas.scene.edges_into(free)
    assert edge.src == "halves:1" and edge in canvas.scene.edges.outputs["halves"]
    canvas.scene.nodes["halves"].setPos(QPointF(-300, 500))
    canvas.scene.node_moved(canvas.scene.nodes["halves"])
    assert _start(edge) == canvas.scene.nodes["halves"].output_anchor(1)


@pytest.fixture
def window(make_window, example_file):
    w = make_window()
    assert w.files.open_file(example_file)
    return w


def test_copy_paste_of_a_split_with_its_reader_keeps_the_part_and_delete_undoes(window, qtbot):
    doc, scene = window.document, window.scene
    split = doc.add_node("Split", after="conv1")
    reader = doc.add_node("ReLU", pos=(700, 400))
    assert doc.connect_nodes(f"{split}:1", reader)
    scene.clearSelection()
    for nid in (split, reader):
        scene.nodes[nid].setSelected(True)
    window.menu_actions.copy.trigger()
    window.menu_actions.paste.trigger()
    new_split, new_reader = scene.selected_node_ids()
    assert doc.graph[new_split].type == "Split" and doc.graph[new_reader].inputs == [f"{new_split}:1"]
    assert [e.src for e in scene.edges_into(new_reader)] == [f"{new_split}:1"]
    assert doc.connect_nodes("conv1", new_split), "the copy's own input was outside the selection"
    doc.flush()
    assert scene.edges_into(new_reader)[0].label.text == "16×26×26"
    scene.select_node(split)
    window.menu_actions.delete.trigger()
    assert split not in doc.graph and doc.graph[reader].inputs == [] and doc.graph["relu1"].inputs == []
    assert split not in scene.nodes and scene.edges.outputs.get(split, []) == []
    assert not [i for i in scene.items() if isinstance(i, EdgeItem) and i.src_node == split]
    doc.undo_stack.undo()
    assert doc.graph[reader].inputs == [f"{split}:1"] and doc.graph["relu1"].inputs == [split]
    assert [e.src for e in scene.edges_into(reader)] == [f"{split}:1"]
    assert len(scene.nodes[split].output_ports) == 2


def test_ports_of_parts_a_split_loses_are_hidden_and_come_back(canvas):
    split = _drop_split(canvas)
    item = canvas.scene.nodes[split]
    for chunks in (4, 2, 3, 1, 4):
        canvas.doc.set_param(split, "chunks", chunks)
        assert [p.index for p in item.output_ports] == list(range(chunks))
        assert all(p.isVisible() for p in item.output_ports)
        shown = [c for c in item.childItems() if c.isVisible() and c is not item.input_port]
        assert len(shown) == chunks
    canvas.doc.undo_stack.setIndex(0)
    assert split not in canvas.scene.nodes


def test_a_part_leaving_a_collapsed_group_starts_at_the_group_box_and_at_its_port_when_open(qtbot):
    g = graph(
        ("x", "Input", {"shape": [8, 4, 4]}, []),
        ("b.s", "Split", {"sections": [2, 6]}, ["x"]),
        ("b.a", "ReLU", {}, ["b.s"]),
        ("out", "ReLU", {}, ["b.s:1"]),
    )
    made = Canvas(qtbot, Document(g))
    try:
        scene = made.scene
        assert scene.collapse("b")
        box = scene.groups["b"]
        assert box.content.shape == "8×4×4 → 6×4×4 + 2×4×4", "the part read outside, then the output inside"
        (edge,) = scene.edges_into("out")
        assert edge.isVisible() and _start(edge) == box.output_anchor() and edge.label.text == "6×4×4"
        scene.item_double_clicked(box)
        assert _start(edge) == scene.nodes["b.s"].output_anchor(1) != scene.nodes["b.s"].output_anchor(0)
    finally:
        made.close()


def test_a_layer_dropped_on_a_split_reads_the_part_whose_port_is_nearest_and_takes_over_its_reader(canvas):
    split = _drop_split(canvas)
    reader = _drop_free(canvas, "layer:ReLU", QPointF(700, 400))
    _wire(canvas, split, 1, reader)
    box = canvas.scene.nodes[split]
    near_port_1 = QPointF(box.output_ports[1].scenePos().x(), box.sceneBoundingRect().center().y())
    steps = canvas.doc.undo_stack.count()
    drop(canvas, "layer:Dropout", near_port_1)
    new = canvas.doc.graph.ids()[-1]
    assert canvas.doc.graph[new].type == "Dropout" and canvas.doc.graph[new].inputs == [f"{split}:1"]
    assert canvas.doc.graph[reader].inputs == [new], "the part's reader now reads the new layer"
    assert canvas.doc.graph["relu1"].inputs == [split], "part 0's reader is left alone"
    assert canvas.doc.undo_stack.count() == steps + 1
    near_port_0 = QPointF(box.output_ports[0].scenePos().x(), box.sceneBoundingRect().center().y())
    drop(canvas, "layer:Dropout", near_port_0)
    assert canvas.doc.graph["relu1"].inputs == [canvas.doc.graph.ids()[-1]]
    canvas.doc.undo_stack.undo()
    canvas.doc.undo_stack.undo()
    assert canvas.doc.graph[reader].inputs == [f"{split}:1"] and canvas.doc.graph["relu1"].inputs == [split]


def test_add_after_takes_a_part_reference_and_refuses_a_part_the_node_lacks(canvas):
    split = _drop_split(canvas)
    new = canvas.doc.add_node("ReLU", after=f"{split}:1")
    assert canvas.doc.graph[new].inputs == [f"{split}:1"]
    lone = canvas.doc.add_node("ReLU", after=f"{split}:5")
    assert canvas.doc.graph[lone].inputs == [], "no part 5: added unwired, as for an unknown node"
    assert canvas.doc.add_node("ReLU", after=f"{split}:0") and canvas.doc.graph.ids()[-1] != split
    assert canvas.doc.graph[canvas.doc.graph.ids()[-1]].inputs == [split], "'s:0' is written as the bare id"
