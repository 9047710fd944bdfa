"""View > Colour By in the real window: box tints order as torch's parameter counts (and the analysis's mult-adds,
and measured times) do, the Cost dock lists ``cost.top``'s five, the scale follows the theme, and the time is
measured on a pool thread."""

from __future__ import annotations

import threading

import pytest

from designer.analysis import cost
from designer.compiler import compile_graph
from widgets import theme
from widgets.panels import cost_coloring

from .helpers import graph


def _design():
    return graph(
        ("x", "Input", {"shape": [3, 16, 16]}, []),
        ("stem.conv", "Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, ["x"]),
        ("stem.relu", "ReLU", {}, ["stem.conv"]),
        ("body.conv1", "Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, ["stem.relu"]),
        ("body.relu", "ReLU", {}, ["body.conv1"]),
        ("body.conv2", "Conv2d", {"out_channels": 16, "kernel_size": 5, "padding": 2}, ["body.relu"]),
        ("pool", "MaxPool2d", {"kernel_size": 2}, ["body.conv2"]),
        ("flat", "Flatten", {}, ["pool"]),
        ("fc", "Linear", {"out_features": 10}, ["flat"]),
    )


def _heat(window, node_id):
    """How far a box's fill is from the theme's plain fill (0: untinted)."""
    tint, plain = window.scene.nodes[node_id].tint, theme.NODE_FILL
    assert tint is not None
    return sum(abs(a - b) for a, b in zip(tint.getRgbF()[:3], plain.getRgbF()[:3], strict=True))


def _assert_tints_order_as(window, values):
    """A larger value never has a paler box; one 2 % larger or more has a hotter one (fills are 16-bit colours)."""
    for a in values:
        for b in values:
            if values[a] < values[b]:
                assert _heat(window, a) <= _heat(window, b) + 1e-4, (a, b)
                if values[b] > values[a] * 1.02:
                    assert _heat(window, a) < _heat(window, b), (a, b)
            elif values[a] == values[b]:
                assert _heat(window, a) == pytest.approx(_heat(window, b)), (a, b)


@pytest.fixture
def shown(make_window):
    window = make_window()
    window.show()
    doc = window.files.show_graph(_design())
    return window, doc, window.cost_coloring


def test_tints_order_as_the_counts_and_the_dock_lists_the_top_five(shown):
    window, doc, coloring = shown
    assert all(item.tint is None for item in window.scene.nodes.values())
    assert coloring.dock_widget is None and not window.summary_dock.visibleRegion().isEmpty()  # no tab over it
    coloring.actions["params"].trigger()
    modules = dict(compile_graph(doc.graph).named_modules())
    params = {n.id: sum(p.numel() for p in modules[n.id].parameters()) for n in doc.graph if n.type != "Input"}
    _assert_tints_order_as(window, params)
    assert coloring.dock.listed() == [c.node_id for c in cost.top(cost.count(doc.analysis), "params")]
    assert coloring.dock.listed()[0] == "fc" and coloring.dock_widget.isVisible()

    coloring.actions["mult_adds"].trigger()
    macs = {n: doc.analysis.info[n].mult_adds for n in params}
    _assert_tints_order_as(window, macs)
    assert coloring.dock.listed() == [c.node_id for c in cost.top(cost.count(doc.analysis), "mult_adds")]
    assert coloring.dock.listed()[0] == "body.conv2"

    doc.set_param("stem.conv", "out_channels", 64)  # an edit: the colouring follows the new analysis
    doc.flush()
    _assert_tints_order_as(window, {n: doc.analysis.info[n].mult_adds for n in params})
    assert window.scene.collapse("body")
    assert window.scene.groups["body"].tint == window.scene.tints["body"] and window.scene.tints["body"] is not None

    coloring.actions["none"].trigger()
    assert all(item.tint is None for item in window.scene.nodes.values()) and not window.scene.tints


def test_the_scale_follows_the_theme_and_keeps_texts_readable(shown):
    window, doc, coloring = shown
    coloring.set_metric("memory")
    memory = {c.node_id: c.memory for c in cost.count(doc.analysis)}
    hot, cold = max(memory, key=memory.__getitem__), min(memory, key=memory.__getitem__)
    for name in ("dark", "light"):
        window.themes.apply(name)
        fills = {n: window.scene.nodes[n].tint for n in memory}
        for fill in fills.values():
            assert theme.contrast(fill, theme.TEXT) >= 4.5, name
            assert min(theme.contrast(fill, theme.TEXT_MUTED), theme.contrast(fill, theme.SHAPE_TEXT)) >= 3, name
        assert theme.contrast(fills[cold], theme.NODE_FILL) < 1.1 < theme.contrast(fills[hot], theme.NODE_FILL)
        # the scale runs from the theme's fill: darker on the light canvas, lighter on the dark one
        assert (theme.luminance(fills[hot]) < theme.luminance(fills[cold])) == (name == "light")


def test_measured_time_runs_on_a_pool_thread(shown, qtbot, monkeypatch):
    window, doc, coloring = shown
    threads = []
    measure = cost_coloring.measure_text
    monkeypatch.setattr(
        cost_coloring, "measure_text", lambda text: (threads.append(threading.current_thread()), measure(text))[1]
    )
    coloring.actions["time"].trigger()
    assert coloring.measuring and "Measuring" in coloring.dock.status.text()
    qtbot.waitUntil(lambda: not coloring.measuring, timeout=60_000)
    assert threads and threads[0] is not threading.main_thread()
    assert coloring.timed is not None
    device, costs = coloring.timed[1], coloring.timed[2]
    assert device in coloring.dock.status.text()
    times = {c.node_id: c.value("time") for c in costs}
    assert times["body.conv2"] > 0 and times["fc"] > 0
    _assert_tints_order_as(window, times)
    assert coloring.dock.listed() == [c.node_id for c in cost.top(costs, "time")]
