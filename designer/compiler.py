"""Compile a design into a ``torch.fx.GraphModule``: one submodule per layer node, named by its (dotted) id, and a
generated ``forward`` with no interpretation left at run time."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import fx, nn

from .diagnostics import Diagnostic
from .graph import Graph
from .layers.graph_ops import GraphOp
from .validate import Analysis, analyze


class CompileError(Exception):
    """The design has errors; ``diagnostics`` lists them (each names its node)."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        lines = [str(d) for d in diagnostics if d.is_error]
        super().__init__("the design has errors:\n  " + "\n  ".join(lines))


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Seed weight initialisation without disturbing the caller's random state."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def build_modules(analysis: Analysis, seed: int | None = None) -> dict[str, nn.Module]:
    """One torch module per layer node, created in file order so that a seed fixes every initial weight."""
    modules: dict[str, nn.Module] = {}
    with _seeded(seed):
        for node in analysis.graph:
            info = analysis.info[node.id]
            if info.spec is None or info.ctx is None or not info.spec.is_module:
                continue
            module = info.spec.build(info.ctx)
            if node.frozen:
                module.requires_grad_(False)
            modules[node.id] = module
    return modules


def build_fx_graph(analysis: Analysis) -> fx.Graph:
    """The dataflow of the design as an ``fx.Graph``: placeholders in Input order, outputs in ``outputs`` order."""
    graph = analysis.graph
    g = fx.Graph()
    env: dict[str, fx.Node] = {}
    for input_id in graph.input_ids():
        env[input_id] = g.placeholder(input_id.replace(".", "_"))
    for node_id in analysis.order:
        info = analysis.info[node_id]
        if info.node.type == "Input":
            continue
        args = [env[src] for src in info.node.inputs]
        assert info.spec is not None and info.ctx is not None
        if isinstance(info.spec, GraphOp):
            env[node_id] = info.spec.emit(info.ctx, g, args)
        else:
            env[node_id] = g.call_module(node_id, tuple(args))
    outs = [env[o] for o in graph.output_ids()]
    g.output(outs[0] if len(outs) == 1 else tuple(outs))
    g.lint()
    return g


def compile_graph(graph: Graph, seed: int | None = None, analysis: Analysis | None = None) -> fx.GraphModule:
    """Build the design as a module.

    Raises:
        CompileError: the design has errors.
    """
    analysis = analysis or analyze(graph)
    if not analysis.ok:
        raise CompileError(analysis.diagnostics)
    modules = build_modules(analysis, seed)
    module = fx.GraphModule(modules, build_fx_graph(analysis), class_name=_class_name(graph.name))
    return module


def _class_name(name: str) -> str:
    words = "".join(ch if ch.isalnum() else " " for ch in name).split()
    text = "".join(w[:1].upper() + w[1:] for w in words) or "Model"
    return text if text[0].isalpha() else "Model" + text
