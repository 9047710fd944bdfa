"""View > Colour By: the canvas tinted by each layer's cost, with the legend and the costliest layers in the Cost dock.

Counts come from the document's analysis (``designer.analysis.cost.count``) at every re-analysis. Measured time runs
torch, so ``cost.measure`` runs on a pool thread against a copy of the design read back from its text; a result for
a design that has changed since is dropped, and only the newest waiting measurement is kept. The tints and the list
are derived from those results: the design itself holds none of it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QDockWidget

from designer.analysis import cost
from designer.analysis.cost import LayerCost
from designer.model import fileformat
from designer.model.graph import Graph

from ..canvas.cost_tint import apply_tints, tints
from .cost_dock import CHOICES, CostDock

if TYPE_CHECKING:
    from ..document.document import Document
    from ..main_window import MainWindow

#: The measurement the window makes: a small batch (2: BatchNorm needs more than one value per channel in training
#: mode) and few steps, so that a design's times come in seconds; ``python -m designer profile`` measures at length.
BATCH, REPEATS, WARMUP = 2, 3, 1


def timing_key(graph: Graph) -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    """What a layer's time depends on: ids, types, parameters and wiring (not positions, labels or advice)."""
    return tuple((n.id, n.type, json.dumps(n.params, sort_keys=True), tuple(n.inputs)) for n in graph)


def measure_text(text: str) -> tuple[str, list[LayerCost]]:
    """Measure the design saved as ``text`` on the best device here; returns the device and the costs."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    graph = fileformat.loads(text)
    return device, cost.measure(graph, device=device, batch_size=BATCH, repeats=REPEATS, warmup=WARMUP)


class _Relay(QObject):
    finished = Signal(int, object)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], generation: int, relay: _Relay):
        super().__init__()
        self.fn, self.generation, self.relay = fn, generation, relay

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # shown in the dock as one line; the window goes on
            result = exc
        self.relay.finished.emit(self.generation, result)


class CostColoring(QObject):
    """The View > Colour By menu, the Cost dock, and the measurement worker."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.metric = "none"
        self.pool = QThreadPool(self)  # made before the relay: destroyed first, it waits for a running measurement
        self.pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_measured)
        self._generation, self.measuring = 0, False
        self._key: Any = None
        #: The latest measurement: (what it measured, device, costs), and a failed one: (what, message).
        self.timed: tuple[Any, str, list[LayerCost]] | None = None
        self._failed: tuple[Any, str] | None = None
        self._document: Document | None = None
        self.dock = CostDock()
        #: Made by the first Colour By: a tab added at start-up would cover the Summary.
        self.dock_widget: QDockWidget | None = None
        self.dock.node_clicked.connect(window.reveal_node)
        self.actions = self._build_menu()
        window.document_changed.connect(self._on_document_changed)
        if window.document is not None:
            self._on_document_changed(window.document)

    def _build_menu(self) -> dict[str, QAction]:
        menu = self.window.menu_actions.view_menu.addMenu("Colour &By")
        group = QActionGroup(menu)
        actions = {}
        for key, text in CHOICES.items():
            action = actions[key] = QAction(text, menu, checkable=True)
            action.setChecked(key == self.metric)
            action.triggered.connect(functools.partial(self.set_metric, key))
            group.addAction(action)
            menu.addAction(action)
        return actions

    def set_metric(self, metric: str, _checked: bool = True) -> None:
        """Colour the canvas by ``metric`` (a key of ``CHOICES``; "none" restores the theme's fills)."""
        self.metric = metric
        self.actions[metric].setChecked(True)
        if metric != "none":
            if self.dock_widget is None:
                self.dock_widget = self.window.add_panel("Cost", self.dock, Qt.DockWidgetArea.BottomDockWidgetArea)
            self.dock_widget.show()
            self.dock_widget.raise_()
        self.refresh()

    def _on_document_changed(self, document: Document) -> None:
        if self._document is not None:
            self._document.analysis_changed.disconnect(self.refresh)
        self._document = document
        document.analysis_changed.connect(self.refresh)
        self.timed = self._failed = None
        self.refresh()

    def refresh(self, *_: object) -> None:
        """Recompute the tints and the list from the current analysis (and the latest measurement)."""
        doc, metric = self.window.document, self.metric
        if doc is None or metric == "none":
            apply_tints(self.window.scene, {})
            self.dock.show_costs("none", [], 0.0)
            return
        costs, status = self._timed(doc) if metric == "time" else (cost.count(doc.analysis), "")
        fills, top = tints({c.node_id: c.value(metric) for c in costs})
        apply_tints(self.window.scene, fills)
        self.dock.show_costs(metric, costs, top, status)

    def _timed(self, doc: Document) -> tuple[list[LayerCost], str]:
        key = timing_key(doc.graph)
        if self.timed is not None and self.timed[0] == key:
            return self.timed[2], f"Forward + backward of a batch of {BATCH} on {self.timed[1]}, median of {REPEATS}."
        if self._failed is not None and self._failed[0] == key:
            return [], self._failed[1]
        if not doc.analysis.ok:
            return [], "Fix the design's errors to measure its layers."
        self._start(doc.graph, key)
        earlier = [c for c in self.timed[2] if c.node_id in doc.graph] if self.timed is not None else []
        return earlier, "Measuring each layer's forward and backward time…"

    def _start(self, graph: Graph, key: Any) -> None:
        if self.measuring and self._key == key:
            return
        self._generation += 1
        self.measuring, self._key = True, key
        self.pool.clear()  # a measurement still waiting is for an older design
        job = functools.partial(measure_text, fileformat.dumps(graph))
        self.pool.start(_Job(job, self._generation, self._relay))

    def _on_measured(self, generation: int, result: object) -> None:
        if generation != self._generation:
            return
        self.measuring = False
        if isinstance(result, BaseException):
            self._failed = (self._key, f"Could not measure: {str(result).splitlines()[0] if str(result) else result!r}")
        else:
            device, costs = cast(tuple[str, list[LayerCost]], result)
            self.timed = (self._key, device, costs)
        self.refresh()
