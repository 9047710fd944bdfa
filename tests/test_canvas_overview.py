"""Readable at any size: every template opens as a legible overview, zoomed out blocks give way to group boxes,
tall designs wrap into columns and get a minimap. Texts are measured as the real window draws them."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtTest import QTest

from designer.editing.templates import list_templates
from tests.helpers import graph
from widgets.canvas.lod import MIN_TEXT_PX, DrawnText, record_texts


def drawn_texts(window) -> list[DrawnText]:
    """Every text the canvas draws in one full repaint of the view, with its size on screen."""
    window.scene.frames.refresh()
    for item in window.scene.items():
        item.update()  # items cache their pictures: make each paint again
    with record_texts() as texts:
        window.view.viewport().grab()
    return texts


def labelled(title: str, texts: list[DrawnText]) -> bool:
    """Whether ``title`` was drawn, whole or elided in the middle."""
    for t in texts:
        head, _, tail = t.text.partition("…")
        if t.text == title or (_ and title.startswith(head) and title.endswith(tail)):
            return True
    return False


def on_screen_boxes(window) -> list:
    """The node and group boxes wholly inside the viewport."""
    view, scene = window.view, window.scene
    port = QRectF(view.viewport().rect())
    boxes = [i for i in [*scene.nodes.values(), *scene.groups.values()] if i.isVisible()]
    return [b for b in boxes if port.contains(view.mapFromScene(b.sceneBoundingRect()).boundingRect())]


def assert_drawn_in_order(window, name: str) -> None:
    """Within a column a block is drawn below what feeds it, and a drop where a shown block is lands on its row."""
    scene, graph = window.scene, window.document.graph
    for nid in graph.ids():
        item = scene.visible_item(nid)
        if item is None or not item.isVisible() or item is not scene.nodes.get(nid):
            continue
        assert scene.model_pos(item.pos()) == pytest.approx(graph[nid].pos), f"{name}: {nid}"
        for src in graph[nid].inputs:
            feeder = scene.visible_item(src)
            if feeder is not None and feeder is not item and abs(feeder.x() - item.x()) < 1:
                assert feeder.y() < item.y(), f"{name}: {src} drawn below {nid}, which it feeds"


def open_window(make_window, size=(1400, 860)):
    window = make_window()
    window.resize(*size)
    window.show()
    return window


@pytest.mark.slow
def test_every_template_opens_readable(make_window, qtbot):
    window = open_window(make_window)
    for name in [t.name for t in list_templates()]:
        assert window.files.apply_template(name)
        qtbot.wait(1)
        texts = drawn_texts(window)
        small = [t for t in texts if t.screen_px < MIN_TEXT_PX]
        assert not small, f"{name}: {small[:3]} drawn under {MIN_TEXT_PX} px at zoom {window.view.zoom:.2f}"
        boxes = on_screen_boxes(window)
        assert len(boxes) >= 5, f"{name}: the opening view shows almost nothing"
        unnamed = [b.content.title for b in boxes if not labelled(b.content.title, texts)]
        assert not unnamed, f"{name}: boxes without a readable name at zoom {window.view.zoom:.2f}: {unnamed[:5]}"
        assert_drawn_in_order(window, name)
        window.document.undo_stack.setClean()


@pytest.mark.slow
def test_zoomed_out_blocks_give_way_to_group_boxes_and_zoomed_in_to_full_blocks(make_window, qtbot):
    window = open_window(make_window)
    window.files.apply_template("resnet50")
    window.menu_actions.expand_all.trigger()
    texts = drawn_texts(window)
    assert window.view.zoom < 0.3, "all 176 blocks fit only far zoomed out"
    assert all(t.screen_px >= MIN_TEXT_PX for t in texts)
    for block in ("layer1.0", "layer2.3", "layer3.5", "layer4.2"):
        assert labelled(block, texts), f"the group box of {block} names it"
    assert any(t.text.endswith(" params") for t in texts) and any(t.text == "→ 1024×14×14" for t in texts)
    assert not labelled("layer3.5.conv2", texts), "the blocks' own names would be unreadable: covered"
    window.view.zoom_by(1.0 / window.view.zoom)
    window.view.center_on_node("layer3.5.conv2")
    texts = drawn_texts(window)
    assert labelled("layer3.5.conv2", texts) and any(t.text == "Conv2d" for t in texts)
    frame = window.scene.frames.frames["layer3.5"]
    assert not frame.covers(window.view.zoom)


def test_a_tall_design_wraps_into_columns_without_changing_the_file(make_window, qtbot):
    window = open_window(make_window)
    window.files.apply_template("vgg16")
    scene, graph = window.scene, window.document.graph
    columns = {round(item.x()) for item in scene.nodes.values()}
    assert len(columns) >= 3, "a chain of 41 blocks uses the window's width"
    assert window.view.zoom >= 0.4
    assert window.document.undo_stack.count() == 0 and not window.document.is_modified
    assert len({graph[n].pos[0] for n in graph.ids()}) == 1, "in the file, still one column"
    for nid, item in scene.nodes.items():
        assert scene.model_pos(item.pos()) == pytest.approx(graph[nid].pos), nid
    wrap = window.menu_actions.wrap_columns
    wrap.trigger()
    assert not wrap.isChecked() and len({round(i.x()) for i in scene.nodes.values()}) == 1


def test_a_block_dragged_in_a_wrapped_column_moves_by_the_drag(make_window, qtbot):
    window = open_window(make_window)
    window.files.apply_template("vgg16")
    scene, view, graph = window.scene, window.view, window.document.graph
    nid = max(scene.nodes, key=lambda n: scene.nodes[n].x())  # a block in the last column
    before = graph[nid].pos
    start = view.mapFromScene(scene.nodes[nid].pos())
    end = start + QPoint(0, 40)
    QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(view.viewport(), start + QPoint(0, 20))
    QTest.mouseMove(view.viewport(), end)
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    after = graph[nid].pos
    assert after[0] == before[0] and after[1] > before[1]
    assert scene.nodes[nid].pos() == scene.display_pos(after)


@pytest.mark.slow
def test_a_minimap_for_designs_taller_than_two_screens_moves_the_view(make_window, qtbot):
    window = open_window(make_window)
    minimap = window.view.minimap
    window.files.apply_template("small_cnn")
    qtbot.wait(400)
    assert not minimap.isVisible()
    window.files.apply_template("resnet50")
    window.menu_actions.expand_all.trigger()
    window.view.zoom_by(1.0 / window.view.zoom)
    qtbot.waitUntil(minimap.isVisible, timeout=3000)
    target = QPoint(minimap.width() // 2, minimap.height() - 30)
    QTest.mouseClick(minimap, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, target)
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    wanted = minimap.to_scene(QPointF(target))
    assert abs(centre.x() - wanted.x()) < 5 and abs(centre.y() - wanted.y()) < 5
    shown = minimap.visible_rect()
    assert shown.contains(QPointF(target)), "the outline follows the view"


def test_hidden_blocks_get_their_boxes_when_shown(make_window):
    window = open_window(make_window)
    window.files.apply_template("resnet50")
    scene, graph = window.scene, window.document.graph
    assert len(scene.nodes) < 20 < len(graph), "opening made only the boxes it shows"
    scene.select_node("layer2.1.conv1")
    members = [n for n in graph.ids() if n.startswith("layer2.")]
    assert scene.selected_node_ids() == members, "a selected group box stands for all of its members"
    window.reveal_node("layer3.2.conv2")
    item = scene.nodes["layer3.2.conv2"]
    assert item.isVisible() and item.isSelected()
    assert item.content.shape == "→ 256×14×14" and item.content.type_name == "Conv2d"
    assert scene.nodes["layer4.0.conv1"].isVisible() is False, "asked for, a hidden block's box stays hidden"


def test_the_minimap_can_be_turned_off_and_the_choice_is_kept(make_window, qtbot):
    window = open_window(make_window)
    window.scene.wrap_columns = False  # one tall column: far taller than two screens at 100 %
    chain = [("x", "Input", {"shape": [4]}, [])] + [
        (f"r{i}", "ReLU", {}, [f"r{i - 1}" if i else "x"]) for i in range(40)
    ]
    window.files.show_graph(graph(*chain))
    window.view.zoom_by(1.0 / window.view.zoom)
    minimap = window.view.minimap
    qtbot.waitUntil(minimap.isVisible, timeout=3000)
    window.menu_actions.minimap.trigger()
    assert not minimap.isVisible(), "View > Show Minimap unchecked hides it: it covers the canvas's corner"
    window.view.zoom_by(1.25)
    qtbot.wait(10)
    assert not minimap.isVisible()
    window.save_layout()
    again = make_window()
    assert not again.view.minimap.enabled and not again.menu_actions.minimap.isChecked()
