"""Finding a design's nodes inside a module and recording their values during one forward pass.

Layer nodes are submodules named by their id, so a forward hook sees them. Graph operations (Add, Concat, Mul,
Reshape) and Inputs are only nodes of the module's ``torch.fx`` graph: those are recorded by running the graph with an
``fx.Interpreter``. The design tells which fx node a graph operation became; without it, the fx names stand in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import fx, nn

from ..analysis.roi_heads import box_inputs
from ..analysis.validate import analyze
from ..model.graph import Graph

#: Layers whose output is a probability rather than a score: gradients and maximisation read their input instead.
PROBABILITY_LAYERS = (nn.Softmax, nn.LogSoftmax)


class InsightError(Exception):
    """A request the model cannot answer; ``node_id`` names the node, ``code`` is stable (``insight.not_spatial``)."""

    def __init__(self, node_id: str | None, message: str, code: str = "insight.bad_request"):
        self.node_id, self.code, self.message = node_id, code, message
        super().__init__(f"node '{node_id}': {message}" if node_id else message)


class Probe:
    """The nodes of a module by design id: its submodules, and with an ``fx.GraphModule`` every fx node too."""

    def __init__(self, module: nn.Module, graph: Graph | None = None):
        self.module = module
        self.graph = graph
        self._fx: dict[str, fx.Node] = _fx_sites(module, graph) if isinstance(module, fx.GraphModule) else {}
        self._id_of = {n.name: node_id for node_id, n in self._fx.items()}
        self._modules = dict(module.named_modules())
        self._modules.pop("", None)
        self._proposals = _fast_rcnn(graph)

    def node_ids(self) -> list[str]:
        """Every node that can be probed, in execution order for a compiled design."""
        if self._fx:
            return list(self._fx)
        return [name for name, m in self._modules.items() if not list(m.children())]

    def has(self, node_id: str) -> bool:
        """Whether ``node_id`` names a node of the module (for a compiled design, of its fx graph)."""
        return node_id in self._fx if self._fx else node_id in self._modules

    def submodule(self, node_id: str) -> nn.Module | None:
        """The module a node id names, or None for graph operations and inputs."""
        return self._modules.get(node_id)

    def kind(self, node_id: str) -> str:
        """The node's type as the user knows it: the design's type name, else the torch class or fx operation."""
        if self.graph is not None and node_id in self.graph:
            return self.graph[node_id].type
        sub = self.submodule(node_id)
        if sub is not None:
            return type(sub).__name__
        site = self._fx.get(node_id)
        if site is None:
            return "?"
        return "Input" if site.op == "placeholder" else getattr(site.target, "__name__", str(site.target))

    def is_input(self, node_id: str) -> bool:
        """Whether the node is one of the module's inputs."""
        site = self._fx.get(node_id)
        return site is not None and site.op == "placeholder"

    def check(self, node_id: str) -> None:
        """Raise ``InsightError`` (``insight.unknown_node``) unless the node exists in the module."""
        if not self.has(node_id):
            known = ", ".join(self.node_ids()[:12])
            raise InsightError(
                node_id,
                f"is not a node of this model (nodes: {known}"
                f"{', ...' if len(self.node_ids()) > 12 else ''}); recompile after editing the design",
                "insight.unknown_node",
            )

    def score_id(self) -> str | None:
        """The node whose output holds the class scores: the first output, or the input of a final Softmax."""
        if not self._fx:
            return None
        assert isinstance(self.module, fx.GraphModule)
        out = next(n for n in reversed(self.module.graph.nodes) if n.op == "output").args[0]
        site = out[0] if isinstance(out, (tuple, list)) else out
        if site.op == "call_module" and isinstance(self.module.get_submodule(site.target), PROBABILITY_LAYERS):
            site = site.args[0]
        return self._id_of.get(site.name)

    def penultimate_id(self) -> str | None:
        """The node feeding the score layer: the features the classifier separates."""
        score = self.score_id()
        if score is None or score not in self._fx:
            return None
        args = list(self._fx[score].all_input_nodes)
        while args and args[0].name not in self._id_of:
            args = list(args[0].all_input_nodes)
        return self._id_of[args[0].name] if args else None

    def run(
        self, x: torch.Tensor, node_ids: Sequence[str] | None, stop: bool = False
    ) -> tuple[Any, dict[str, torch.Tensor]]:
        """Run the module on ``x``; returns its output and the value of each node in ``node_ids`` (None: all).

        With ``stop`` the pass ends once every node asked for has run (the output is then None): what a deep network
        computes after an early layer costs time and changes nothing about that layer.
        """
        ids = self.node_ids() if node_ids is None else list(dict.fromkeys(node_ids))
        for node_id in ids:
            self.check(node_id)
        hooked = all(i in self._modules and (not self._fx or self._fx[i].op == "call_module") for i in ids)
        want = len(ids) if stop else -1
        try:
            out, seen = self._run_hooked(x, ids, want) if hooked else self._run_interpreted(x, ids, want)
        except _Stop as done:
            out, seen = None, done.seen
        missing = [i for i in ids if i not in seen]
        if missing:
            raise InsightError(missing[0], "did not run in the forward pass (or gave no tensor)", "insight.not_run")
        return out, seen

    def _run_hooked(self, x: torch.Tensor, ids: list[str], want: int) -> tuple[Any, dict[str, torch.Tensor]]:
        seen: dict[str, torch.Tensor] = {}
        handles = [self._modules[i].register_forward_hook(_recorder(seen, i, want)) for i in ids]
        try:
            out = self.module(*self.inputs(x))
        finally:
            for h in handles:
                h.remove()
        return out, seen

    def _run_interpreted(self, x: torch.Tensor, ids: list[str], want: int) -> tuple[Any, dict[str, torch.Tensor]]:
        wanted = {self._fx[i].name: i for i in ids if i in self._fx}
        seen: dict[str, torch.Tensor] = {}
        assert isinstance(self.module, fx.GraphModule)
        return _Recorder(self.module, wanted, seen, want).run(*self.inputs(x)), seen

    def inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The module's arguments for the images ``x``: they alone, or with the evaluation grid of proposals for a
        Fast R-CNN design (its image Input, then its boxes Input)."""
        if not self._proposals:
            return (x,)
        from ..training.roi_proposals import grid_proposals

        grid = grid_proposals((int(x.shape[-2]), int(x.shape[-1])), x.device)
        index = torch.arange(len(x), device=x.device).repeat_interleave(len(grid))
        return x, torch.cat([index[:, None].to(grid.dtype), grid.repeat(len(x), 1)], dim=1)


def _fast_rcnn(graph: Graph | None) -> bool:
    """Whether the design's Inputs are an image and then RoI boxes, which insight fills with the grid proposals."""
    if graph is None:
        return False
    inputs = graph.input_ids()
    return len(inputs) == 2 and box_inputs(graph) == {inputs[1]}


class _Stop(Exception):
    """Ends a forward pass early; carries what was recorded."""

    def __init__(self, seen: dict[str, torch.Tensor]):
        super().__init__()
        self.seen = seen


class _Recorder(fx.Interpreter):
    """An interpreter that keeps the value of chosen fx nodes; autograd sees the same operations as ``forward``."""

    def __init__(self, module: fx.GraphModule, wanted: dict[str, str], seen: dict[str, torch.Tensor], want: int):
        super().__init__(module)
        self.wanted, self.seen, self.want = wanted, seen, want

    def run_node(self, n: fx.Node) -> Any:
        value = super().run_node(n)
        if n.name in self.wanted and isinstance(value, torch.Tensor):
            self.seen[self.wanted[n.name]] = value
            if len(self.seen) == self.want:
                raise _Stop(self.seen)
        return value


def _recorder(seen: dict[str, torch.Tensor], node_id: str, want: int) -> Any:
    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            seen[node_id] = output
            if len(seen) == want:
                raise _Stop(seen)

    return hook


def _fx_sites(module: fx.GraphModule, graph: Graph | None) -> dict[str, fx.Node]:
    """Node id -> fx node, in graph order. With the design, graph operations get their design ids and the helper
    nodes they expand to (the size lookup of a Reshape, the first sums of a three-way Add) stay hidden."""
    design = _design_names(graph) if graph is not None else {}
    named = {name: node_id for node_id, name in design.items()}
    sites: dict[str, fx.Node] = {}
    for n in module.graph.nodes:
        if n.op == "output":
            continue
        if n.name in named:
            sites[named[n.name]] = n
        elif n.op == "call_module":
            sites[str(n.target)] = n
        elif not design:
            sites[n.name] = n
    return sites


def _design_names(graph: Graph) -> dict[str, str]:
    """The fx node name each design node became: the compiler's own tracing, whose names match the module's graph."""
    from ..compiler import trace_nodes

    analysis = analyze(graph)
    if not analysis.ok:
        return {}
    return {node_id: n.name for node_id, n in trace_nodes(analysis)[1].items()}


@contextlib.contextmanager
def prepared(module: nn.Module) -> Iterator[None]:
    """Evaluation mode and no in-place activations for the call, restored afterwards.

    In-place layers would overwrite a recorded activation and break gradients taken with respect to it.
    """
    modes = {m: m.training for m in module.modules()}
    inplace = [m for m in module.modules() if getattr(m, "inplace", False) is True]
    module.eval()
    for m in inplace:
        setattr(m, "inplace", False)  # noqa: B010 (nn.Module's __setattr__ is typed for tensors and modules only)
    try:
        yield
    finally:
        for m, mode in modes.items():
            m.training = mode
        for m in inplace:
            setattr(m, "inplace", True)  # noqa: B010 (see above)


def device_of(module: nn.Module) -> torch.device:
    """Where the module's parameters live (CPU for a module without any)."""
    p = next(module.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def as_batch(x: Any, module: nn.Module) -> torch.Tensor:
    """One sample as a float batch of one on the module's device: ``(C, H, W)`` or ``(1, C, H, W)``, tensor or array."""
    if isinstance(x, (tuple, list)):
        raise InsightError(
            None, "designs with several inputs are not supported here; give one image tensor", "insight.multi_input"
        )
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.ndim in (1, 2, 3):
        t = t.unsqueeze(0)
    return t.detach().to(device_of(module), torch.float32)


def unit_score(t: torch.Tensor, unit: int, node_id: str | None) -> torch.Tensor:
    """Per-sample value of one unit: a class score, or the mean of one channel of a feature map."""
    if t.ndim < 2:
        raise InsightError(node_id, f"gives a {t.ndim}-D tensor; it has no units to pick", "insight.no_units")
    if not 0 <= unit < t.shape[1]:
        raise InsightError(
            node_id, f"has {t.shape[1]} channels/units; {unit} is out of range 0..{t.shape[1] - 1}", "insight.bad_unit"
        )
    v = t[:, unit]
    return v.reshape(v.shape[0], -1).mean(1)


def first_output(out: Any) -> torch.Tensor:
    """The first output of a module that may return a tuple (several outputs): the one whose classes are scored."""
    first: torch.Tensor = out[0] if isinstance(out, (tuple, list)) else out
    return first


def scores_of(
    probe: Probe, x: torch.Tensor, extra: Sequence[str] = ()
) -> tuple[torch.Tensor, dict[str, torch.Tensor], str | None]:
    """Run once and return the class scores (logits), the values of ``extra`` nodes and the score node's id."""
    score_id = probe.score_id()
    out, seen = probe.run(x, [*extra, *([score_id] if score_id else [])])
    return (seen[score_id] if score_id else first_output(out)), seen, score_id
