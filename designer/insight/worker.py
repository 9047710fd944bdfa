"""Heavy insight views (activation maximisation, occlusion) in a worker process, so that a crash or an out-of-memory
kill in torch there ends one picture with a message while the window goes on.

One spawned worker (never forked: the window runs Qt's threads) starts with the first heavy view and is kept for the
next ones, as ``widgets.document.export_runner`` keeps its export worker. The design travels as its project text
(compiled once per design in the worker), the weights as ``torch.save`` bytes and the sample as a numpy array; the
picture comes back as a ``View`` of numpy arrays.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..model.fileformat import dumps, loads
from ..training.child import read_weights, weights_bytes
from .probe import InsightError
from .views import Options, View, render

if TYPE_CHECKING:
    from torch import nn

    from ..model.graph import Graph

#: Methods that take seconds of torch work per picture: they run in the worker process.
HEAVY_METHODS = frozenset({"maximize", "occlusion"})


class InsightWorker:
    """``render`` as ``designer.insight.render``, computed in a worker process (thread-safe).

    ``render`` blocks until the picture is made: call it off the UI thread, as the insight dock's worker thread does.
    Copying the design and weights there costs milliseconds: worth it for the ``HEAVY_METHODS`` only.
    """

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def render(
        self,
        method: str,
        module: nn.Module,
        x: Any,
        node_id: str | None = None,
        *,
        graph: Graph,
        options: Options | None = None,
        classes: Sequence[str] | None = None,
    ) -> View:
        """The picture of ``method``; raises ``InsightError`` when the node cannot give one or the worker died."""
        sample = None if x is None else x.detach().cpu().numpy()
        request = (dumps(graph), weights_bytes(module), method, sample, node_id, options, list(classes or []))
        pool = self._start()
        try:
            result = pool.submit(render_in_worker, *request).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None  # the next picture starts a new worker
            raise InsightError(
                None, "the insight process stopped unexpectedly (out of memory?); try fewer steps or a smaller input"
            ) from None
        if isinstance(result, _Refused):
            raise InsightError(result.node_id, result.message, result.code)
        return result

    def close(self) -> None:
        """Stop the worker process; a picture being made is abandoned."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    @property
    def pid(self) -> int | None:
        """The worker process's id, None while there is none."""
        pool = self._pool
        processes = getattr(pool, "_processes", None) or {}
        return next(iter(processes), None)

    def _start(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            return self._pool


@dataclass(frozen=True)
class _Refused:
    """An ``InsightError`` on its way back (its constructor's arguments are not its ``args``, so it cannot be pickled
    as it is)."""

    node_id: str | None
    message: str
    code: str


#: The worker's compiled design, by project text: a refresh with new weights only loads them.
_compiled: dict[str, Any] = {}


def render_in_worker(
    project_json: str,
    weights: bytes,
    method: str,
    sample: Any,
    node_id: str | None,
    options: Options | None,
    classes: list[str],
) -> View | _Refused:
    """What the worker process runs: the design with ``weights``, frozen in evaluation mode, rendered."""
    import torch

    from ..compiler import compile_graph

    if _compiled.get("project") != project_json:
        graph = loads(project_json)
        module = compile_graph(graph, seed=0)
        module.eval()
        module.requires_grad_(False)
        _compiled.update(project=project_json, graph=graph, module=module)
    module, graph = _compiled["module"], _compiled["graph"]
    module.load_state_dict(read_weights(weights))
    x = None if sample is None else torch.from_numpy(sample)
    try:
        return render(method, module, x, node_id, graph=graph, options=options, classes=classes)
    except InsightError as exc:
        return _Refused(exc.node_id, exc.message, exc.code)
