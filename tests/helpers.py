"""Small builders shared by the tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from designer.model.graph import Graph, Node, NodeId

if TYPE_CHECKING:
    import torch
    from torch import nn


def chain(input_shape: list[int], *layers: tuple[str, dict[str, Any]], name: str = "test") -> Graph:
    """A straight-line graph: Input, then each (type, params) fed by the previous node, ids n1, n2, ..."""
    nodes = [Node(NodeId("x"), "Input", {"shape": list(input_shape)})]
    for i, (type_, params) in enumerate(layers, start=1):
        nodes.append(Node(NodeId(f"n{i}"), type_, dict(params), [nodes[-1].id]))
    return Graph(name, nodes)


def graph(*nodes: tuple[str, str, dict[str, Any], list[str]], outputs: list[str] | None = None) -> Graph:
    """A graph from (id, type, params, inputs) tuples."""
    return Graph("test", [Node(NodeId(i), t, dict(p), [NodeId(s) for s in ins]) for i, t, p, ins in nodes], outputs)


def randomize_norms(module: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine weights, so that a wrong eps, a misplaced norm or a lost running
    statistic changes the output. Returns the module, in eval mode."""
    import torch
    from torch import nn

    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                if m.running_mean is not None and m.running_var is not None:  # None: track_running_stats=False
                    m.running_mean.normal_(0, 0.2)
                    m.running_var.uniform_(0.5, 1.5)
                if m.affine:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0, 0.2)
    return module.eval()


#: Python source that, run first in a fresh interpreter, records in ``first`` (module name -> thread name) which
#: thread first imports each module named in ``WATCHED`` (define that set before this source).
IMPORT_SPY = """
import importlib.abc, sys, threading
first = {}


class _ImportSpy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in WATCHED and name not in first:
            first[name] = threading.current_thread().name
        return None


sys.meta_path.insert(0, _ImportSpy())
"""


class FakeWriter:
    """Stands for ``torch.utils.tensorboard.SummaryWriter`` (tensorboard is optional and not installed in tests):
    ``monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", SimpleNamespace(SummaryWriter=FakeWriter))``."""

    made: list[FakeWriter] = []

    def __init__(self, log_dir: str) -> None:
        self.log_dir, self.scalars, self.closed = log_dir, [], False
        FakeWriter.made.append(self)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def random_inputs(g: Graph, batch: int, seed: int = 0) -> list[torch.Tensor]:
    """Random values for each Input; an Input of shape [5] feeds RoI boxes, so it gets boxes inside the design's
    first image Input, each of one of the ``batch`` images (a random batch index would read outside the batch)."""
    import torch

    from designer import analyze

    gen = torch.Generator().manual_seed(seed)
    analysis = analyze(g)
    shapes = [tuple(analysis.shape(i) or ()) for i in g.input_ids()]
    image = next((s[1:] for s in shapes if len(s) == 3), (16, 16))
    return [random_boxes(batch, image, gen) if s == (5,) else torch.randn(batch, *s, generator=gen) for s in shapes]


def random_boxes(batch: int, size: tuple[int, ...], gen: torch.Generator, rows: int = 7) -> torch.Tensor:
    """``rows`` boxes (batch index, x1, y1, x2, y2) of at least one pixel inside an image of ``size`` (H, W)."""
    import torch

    h, w = size
    index = torch.randint(batch, (rows, 1), generator=gen).float()
    corner = torch.rand(rows, 2, generator=gen) * torch.tensor([w - 1.0, h - 1.0])
    room = torch.tensor([float(w), float(h)]) - corner
    far = corner + 1 + torch.rand(rows, 2, generator=gen) * (room - 1)
    return torch.cat([index, corner, far], dim=1)


def short_run(graph: Graph, config: Any, tmp_path: Any) -> tuple[Any, list[float], list[Any]]:
    """Train ``graph`` with ``config`` under ``tmp_path``: the last event, each step's loss, each epoch's event."""
    from designer.training.api import EpochEnded, StepEnded, train

    steps: list[float] = []
    epochs: list[EpochEnded] = []

    def on_event(event: object) -> None:
        if isinstance(event, StepEnded):
            steps.append(event.loss)
        elif isinstance(event, EpochEnded):
            epochs.append(event)

    return train(graph, config, runs_root=tmp_path, on_event=on_event), steps, epochs
