"""The insight dock: what the network has learned, for a chosen sample and node, during and after training.

Pick a sample (a validation image, or an image file dropped on the dock), a node (or ``set_node`` from the canvas
selection) and a method; the picture follows. Every computation runs on a ``QThreadPool`` worker against a frozen copy
of the model, so neither the window nor a running training waits for it; occlusion and maximisation run in a worker
process (``designer.insight.worker``), so a crash in them costs one picture, not the window. During training,
``on_training_event`` (called by the training panel with the run's events) refreshes the view under a
``RefreshThrottle``: its copies and computations take at most ``LIVE_BUDGET`` of the time (``bench/bench_insight.py``
measures it). Dataset views (confusion matrix, mistakes, embedding) refresh each epoch.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from designer.training.events import EpochEnded, Event, RunStarted, StepEnded

from .. import theme
from .insight_picture import InsightPicture
from .insight_sources import WindowSources

if TYPE_CHECKING:
    from torch import nn

    from designer.model.graph import Graph

#: Returns the current compiled module and its design, or None when there is none.
ModelProvider = Callable[[], "tuple[nn.Module, Graph] | None"]
#: Returns a ``designer.training.data.DataBundle`` (``val``/``train`` datasets, ``classes``, ``mean``, ``std``) or None.
SampleProvider = Callable[[], Any]

#: Views of a whole dataset: refreshed at each epoch's end rather than during it.
DATASET_METHODS = frozenset({"confusion", "mistakes", "embedding"})
#: Views refreshed while training runs (activation maximisation is too slow to repeat).
LIVE_METHODS = frozenset(
    {"featuremaps", "filters", "gradcam", "saliency", "guided", "deconvnet", "occlusion", "prediction"}
)
#: Share of wall-clock time live refreshes may take (their copies on the training thread included).
LIVE_BUDGET = 0.02
#: Validation samples the dataset views look at, so each epoch's refresh stays short.
EVAL_LIMIT = 1000


class _Relay(QObject):
    """Carries a worker's result to the UI thread (a queued signal: the relay lives there)."""

    finished = Signal(int, object, float)


@dataclass(frozen=True)
class _Loaded:
    """What a reload found on the worker: the model's node ids and the number of samples to choose from."""

    node_ids: list[str]
    samples: int


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], generation: int, relay: _Relay):
        super().__init__()
        self.fn, self.generation, self.relay = fn, generation, relay

    def run(self) -> None:
        start = time.perf_counter()
        try:
            result = self.fn()
        except Exception as exc:
            result = exc
        self.relay.finished.emit(self.generation, result, time.perf_counter() - start)


class InsightDock(QWidget):
    """Feature maps, filters, Grad-CAM, saliency, occlusion, maximisation and dataset views of the current model."""

    view_shown = Signal(str)

    def __init__(self, models: ModelProvider, samples: SampleProvider, parent: QWidget | None = None):
        super().__init__(parent)
        from designer.insight import RefreshThrottle, ShadowCopy
        from designer.insight.worker import InsightWorker

        self.models, self.samples = models, samples
        #: Renders occlusion and maximisation in a worker process, whose crash the window survives.
        self.renderer = InsightWorker()
        self.throttle = RefreshThrottle(LIVE_BUDGET)
        self._shadow = ShadowCopy()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_finished)
        self._lock = threading.Lock()
        self._busy = False
        self._pending: Callable[[], Any] | None = None
        self._generation = 0
        self._live_cost: dict[int, float] = {}
        self.sample: Any = None
        self.sample_label = ""
        self.sample_truth: Any = None  # the sample's mask or boxes, for segmentation and detection
        self.result: Any = None
        #: The choices as the worker and the training thread read them; widgets are only read on the UI thread.
        self._settings: dict[str, Any] = {}
        self._build()
        self.setAcceptDrops(True)
        self.reload()

    # -- layout ----------------------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.sample_spin = QSpinBox()
        self.sample_spin.setRange(0, 0)
        self.sample_spin.setToolTip("validation sample; or drop an image file here")
        self.sample_info = QLabel("no sample")
        self.sample_info.setWordWrap(True)  # "class 9 (bar)" must not be cut in a narrow dock
        self.node_combo = QComboBox()
        self.node_combo.setToolTip("the node to look at (follows the canvas selection)")
        self.method_combo = QComboBox()
        from designer.insight import DATASET_METHODS as DATASET_LABELS
        from designer.insight import METHODS

        for key, label in {**METHODS, **DATASET_LABELS}.items():
            self.method_combo.addItem(label, key)
        self.class_spin = QSpinBox()
        self.class_spin.setRange(-1, 9999)
        self.class_spin.setValue(-1)
        self.class_spin.setSpecialValueText("predicted")
        self.class_spin.setToolTip("class (or, for maximisation at a node, filter) to explain")
        self.live = QCheckBox("Live during training")
        self.live.setChecked(True)
        top, mid = QHBoxLayout(), QHBoxLayout()
        w: QWidget
        for w in (QLabel("Sample"), self.sample_spin, self.sample_info):
            top.addWidget(w)
        top.addStretch(1)
        for w in (QLabel("Node"), self.node_combo, self.method_combo, QLabel("Class"), self.class_spin, self.live):
            mid.addWidget(w)
        self.picture = InsightPicture()
        self.status = QLabel("Choose a sample, a node and a method.")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(mid)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.status)
        self.sample_spin.valueChanged.connect(self._on_sample_changed)
        self.node_combo.activated.connect(lambda _i: self.refresh())
        self.method_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.class_spin.valueChanged.connect(lambda _v: self.refresh())
        self.live.toggled.connect(lambda _on: self._remember())

    def restyle(self) -> None:
        """Redraw the plots' frames in the current theme."""
        self.picture.restyle()

    # -- inputs from outside -----------------------------------------------------------------------------------------

    def set_node(self, node_id: str) -> None:
        """Look at ``node_id`` (connected to the canvas selection)."""
        if self.node_combo.findData(node_id) < 0:
            self.node_combo.addItem(node_id, node_id)
        self.node_combo.setCurrentIndex(self.node_combo.findData(node_id))
        self.refresh()

    def set_method(self, method: str) -> None:
        """Show ``method`` (a key of ``designer.insight.METHODS`` or ``DATASET_METHODS``)."""
        self.method_combo.setCurrentIndex(self.method_combo.findData(method))

    def reload(self) -> None:
        """Re-read the model's nodes and the dataset (after a compile or a new dataset), then redraw.

        Both happen on the worker: compiling a large design, importing torch or drawing the preview dataset takes
        seconds, and the window must stay responsive meanwhile.
        """

        def load() -> _Loaded:
            pair = self.models()
            if pair is None:
                return _Loaded([], 0)
            from designer.insight import Probe

            data = _dataset(self.samples())
            return _Loaded(Probe(*pair).node_ids(), len(data) if data is not None else 0)

        self._say("Loading the model and its data…")
        self._submit(load)

    def _apply_loaded(self, loaded: _Loaded) -> None:
        current = self.node_combo.currentData()
        self.node_combo.blockSignals(True)
        self.node_combo.clear()
        self.node_combo.addItem("(default)", None)
        for node_id in loaded.node_ids:
            self.node_combo.addItem(node_id, node_id)
        self.node_combo.setCurrentIndex(max(0, self.node_combo.findData(current)))
        self.node_combo.blockSignals(False)
        self.sample_spin.setMaximum(max(0, loaded.samples - 1))
        self._on_sample_changed(self.sample_spin.value())
        self._remember()

    def load_image_file(self, path: str) -> None:
        """Use an image file as the sample, converted to the design's input and normalised like the dataset."""
        pair = self.models()
        if pair is None:
            self._say("No compiled model to take the input shape from.", error=True)
            return
        import torch

        from designer.insight import normalize
        from designer.insight.images import read_image

        graph = pair[1]
        c, h, w = (int(v) for v in graph[graph.input_ids()[0]].params["shape"])
        try:
            pixels = read_image(path, c, (h, w))
        except ValueError as exc:
            self._say(str(exc), error=True)
            return
        mean, std = _stats(self.samples(), c)
        self.sample, self.sample_label = normalize(torch.from_numpy(pixels), mean, std), Path(path).name
        self.sample_truth = None
        self.sample_info.setText(f"file {self.sample_label}")
        self.refresh()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.load_image_file(files[0])

    def _on_sample_changed(self, index: int) -> None:
        bundle = self.samples()
        data = _dataset(bundle)
        if data is None or len(data) == 0:
            self.sample_info.setText("no dataset: drop an image file here")
            return
        from designer.insight import normalize

        item = data[min(index, len(data) - 1)]
        if not isinstance(item, tuple):  # an unreadable image file of a folder dataset
            self._say(f"sample {index} cannot be read: {getattr(item, 'reason', item)}", error=True)
            return
        image, target = item[0], item[1]
        self.sample = normalize(image, *_stats(bundle, image.shape[0]))
        classes = list(getattr(bundle, "classes", []) or [])
        if getattr(target, "ndim", 0):  # a mask or boxes (segmentation, detection): drawn beside the prediction
            self.sample_truth = target.numpy()
            self.sample_label = "mask" if target.ndim == 2 else f"{int((target[:, 0] >= 0).sum())} boxes"
            self.sample_info.setText(f"sample {index}: {self.sample_label}")
        else:
            label = int(target)
            self.sample_truth = None
            self.sample_label = classes[label] if label < len(classes) else str(label)
            self.sample_info.setText(f"class {label} ({self.sample_label})")
        self.refresh()

    # -- computing -----------------------------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """True when no computation is running or waiting."""
        return not self._busy and self._pending is None

    @property
    def method(self) -> str:
        """The chosen method's key."""
        return str(self.method_combo.currentData())

    def _remember(self) -> None:
        target = self.class_spin.value()
        self._settings = {
            "method": self.method,
            "node": self.node_combo.currentData(),
            "sample": self.sample,
            "truth": self.sample_truth,
            "target": None if target < 0 else target,
            "live": self.live.isChecked(),
        }

    def refresh(self) -> None:
        """Recompute the current view on a worker (the latest request wins; nothing queues up)."""
        self._remember()

        def compute() -> Any:
            pair = self.models()  # on the worker: a changed design compiles here
            if pair is None:
                return ValueError("No compiled model yet: fix the design's errors first.")
            return self._task(pair, None)()

        self._submit(compute)

    def _task(self, pair: tuple[Any, Any], frozen: Any) -> Callable[[], Any]:
        """What the worker runs: copy the model unless a copy was made already, then compute the chosen view."""
        from designer.insight import Options, snapshot

        settings, bundle = dict(self._settings), self.samples()
        module, graph = pair
        classes = list(getattr(bundle, "classes", []) or [])
        mean, std = _stats(bundle, len(getattr(bundle, "mean", ())) or 1)
        fill = [(0.5 - m) / s for m, s in zip(mean, std)]
        options = Options(target=settings["target"], fill=fill, truth=settings["truth"])

        def run() -> Any:
            from designer import insight
            from designer.insight.worker import HEAVY_METHODS

            model = frozen if frozen is not None else snapshot(module)
            method, sample = settings["method"], settings["sample"]
            if method in DATASET_METHODS:
                data = _dataset(bundle)
                if data is None:
                    raise insight.InsightError(None, "no dataset to evaluate on: choose one in the training panel")
                return insight.dataset_view(
                    method, model, data, mean, std, graph=graph, classes=classes, limit=EVAL_LIMIT
                )
            if sample is None and method in insight.NEEDS_SAMPLE:
                raise insight.InsightError(None, "pick a sample or drop an image file on the dock")
            render = self.renderer.render if method in HEAVY_METHODS else insight.render
            return render(method, model, sample, settings["node"], graph=graph, options=options, classes=classes)

        return run

    def _submit(self, fn: Callable[[], Any], live_cost: float | None = None) -> bool:
        """Start ``fn`` on the worker; a live refresh is dropped while busy, a request waits for the running job."""
        with self._lock:
            if self._busy:
                if live_cost is None:
                    self._pending = fn
                return False
            self._busy = True
            self._generation += 1
            generation = self._generation
            if live_cost is not None:
                self._live_cost[generation] = live_cost
        self.pool.start(_Job(fn, generation, self._relay))
        return True

    def _on_finished(self, generation: int, result: Any, seconds: float) -> None:
        with self._lock:
            cost = self._live_cost.pop(generation, None)
            self._busy = False
            pending, self._pending = self._pending, None
        if cost is not None:
            self.throttle.done(cost + seconds)
        self._show(result, seconds)
        if pending is not None:
            self._submit(pending)

    # -- training ------------------------------------------------------------------------------------------------------

    def on_training_event(self, event: Event) -> None:
        """Feed the training engine's events here (from any thread); cheap unless a refresh is due."""
        if isinstance(event, RunStarted):
            self.throttle.reset()
        elif isinstance(event, StepEnded):
            self.training_step(event.step)
        elif isinstance(event, EpochEnded):
            self.training_step(event.step, epoch_end=True)

    def training_step(self, step: int, epoch_end: bool = False) -> bool:
        """Refresh from a copy taken now if the budget allows (dataset views only at an epoch's end); thread-safe."""
        settings = self._settings
        method = settings.get("method")
        wanted = method in DATASET_METHODS if epoch_end else method in LIVE_METHODS
        if not settings.get("live") or not wanted or self._busy:
            return False
        if not (self.throttle.force() if epoch_end else self.throttle.claim(step)):
            return False
        start = time.perf_counter()
        pair = self.models()
        # the worker is idle (checked above), so nothing reads the shadow while it is updated
        frozen = self._shadow.update(pair[0]) if pair is not None else None
        cost = time.perf_counter() - start
        if pair is None or not self._submit(self._task(pair, frozen), live_cost=cost):
            self.throttle.done(cost)
            return False
        return True

    # -- drawing -------------------------------------------------------------------------------------------------------

    def _show(self, result: Any, seconds: float) -> None:
        if isinstance(result, _Loaded):
            self._apply_loaded(result)
            return
        self.result = result
        if isinstance(result, Exception):
            self._say(str(result), error=True)
            self.picture.clear()
            return
        from designer.insight.evaluate import Embedding  # loaded with torch, which made ``result``

        if isinstance(result, Embedding):
            self.picture.draw_embedding(result, list(getattr(self.samples(), "classes", []) or []))
            title = f"{result.method.upper()} of '{result.node_id}' ({len(result.points)} validation samples)"
        else:
            self.picture.draw_view(result)
            title = result.title
        self._say(f"{title}  [{seconds * 1000:.0f} ms]")
        self.view_shown.emit(title)

    def _say(self, text: str, error: bool = False) -> None:
        text = html.escape(text, quote=False)
        self.status.setText(f"<span style='color:{theme.ERROR_HEX}'>{text}</span>" if error else text)


def _dataset(bundle: Any) -> Any:
    if bundle is None:
        return None
    val = getattr(bundle, "val", None)
    return val if val is not None and len(val) else getattr(bundle, "train", None)


def _stats(bundle: Any, channels: int) -> tuple[list[float], list[float]]:
    mean, std = getattr(bundle, "mean", None), getattr(bundle, "std", None)
    if not mean or not std:
        return [0.0] * channels, [1.0] * channels
    return list(mean), list(std)


def create_panel(window: Any) -> InsightDock:
    """The insight dock of the designer window: the model being trained (or the design, untrained), its data, and
    the node selected on the canvas."""
    sources = WindowSources(window)
    dock = InsightDock(sources.models, sources.samples)
    panel = getattr(window, "training_panel", None)
    if panel is not None:
        panel.event_listeners.append(dock.on_training_event)
        panel.run_started.connect(lambda _run: dock.reload())
    window.document_changed.connect(lambda _document: dock.reload())
    window.themes.changed.connect(dock.restyle)
    window.scene.selectionChanged.connect(lambda: _follow_selection(window, dock))
    return dock


def _follow_selection(window: Any, dock: InsightDock) -> None:
    ids = window.scene.selected_node_ids()
    if len(ids) == 1:
        dock.set_node(ids[0])
