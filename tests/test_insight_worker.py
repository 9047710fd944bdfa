"""Occlusion and maximisation in a worker process: the picture the window gets is the one computed in process; a
worker killed mid-picture is a message, and the next picture starts a new worker."""

from __future__ import annotations

import os
import signal
import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import designer
from designer.insight import InsightError, Options, render, snapshot
from designer.insight.worker import InsightWorker
from tests.test_insight_dock import design


@pytest.mark.slow
def test_heavy_views_in_the_worker_match_in_process_and_survive_a_killed_worker(qtbot):
    graph = design()
    module = snapshot(designer.compile(graph, seed=0))
    with torch.no_grad():
        module.conv.weight.mul_(-1.5)  # not the weights the worker's own compile draws: they must travel
    x = torch.randn(1, 12, 12, generator=torch.Generator().manual_seed(0))
    options = Options(target=2, fill=[0.1])
    worker = InsightWorker()
    try:
        got = worker.render("occlusion", module, x, graph=graph, options=options)
        want = render("occlusion", module, x, graph=graph, options=options)
        assert got.title == want.title and np.array_equal(got.values, want.values)
        assert np.array_equal(got.base, want.base) and got.levels == want.levels
        with pytest.raises(InsightError) as refused:
            worker.render("maximize", module, None, "nope", graph=graph)
        assert refused.value.node_id == "nope" and "is not a node of this model" in refused.value.message

        outcome: dict[str, object] = {}

        def endless() -> None:
            try:
                worker.render("maximize", module, None, "conv", graph=graph, options=Options(steps=10**8))
            except InsightError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=endless)
        thread.start()
        os.kill(worker.pid, signal.SIGKILL)
        thread.join(60)
        assert "the insight process stopped unexpectedly (out of memory?)" in str(outcome["error"])
        assert worker.pid is None
        again = worker.render("occlusion", module, x, graph=graph, options=options)
        assert np.array_equal(again.values, want.values)
        _the_dock_sends_occlusion_to_the_worker(qtbot, worker, module, graph)
    finally:
        worker.close()


def _the_dock_sends_occlusion_to_the_worker(qtbot, worker, module, graph):
    from widgets.panels.insight_dock import InsightDock

    images = torch.randint(0, 256, (3, 1, 12, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    val = [(images[i], i) for i in range(3)]
    bundle = SimpleNamespace(val=val, train=val, classes=["a", "b", "c"], mean=(0.5,), std=(0.25,))
    dock = InsightDock(lambda: (module, graph), lambda: bundle)
    qtbot.addWidget(dock)
    dock.renderer.close()
    dock.renderer = worker  # the one already started: a second would import torch again
    sent: list[str] = []
    real = worker.render
    worker.render = lambda method, *args, **kwargs: sent.append(method) or real(method, *args, **kwargs)
    for method in ("saliency", "occlusion"):
        dock.set_method(method)
        dock.refresh()
        qtbot.waitUntil(lambda: dock.idle, timeout=60_000)
        assert dock.result.title.startswith(method), dock.result
    assert set(sent) == {"occlusion"}  # saliency stays in this process
