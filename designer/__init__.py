"""CNN Designer core: the design model, layer registry, validator, summary, compiler and exports. No Qt here.

Validation and summaries never import torch; ``compile`` and the exporters import it when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .analysis.validate import Analysis, analyze, validate
from .layers.registry import LayerSpec, get_spec, list_specs, list_types
from .model.diagnostics import Diagnostic, Severity
from .model.fileformat import FormatError, ProjectError, UnsupportedFormatVersionError, dumps, load, loads, save
from .model.graph import Graph, Node, NodeId

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "Analysis",
    "Diagnostic",
    "FormatError",
    "Graph",
    "LayerSpec",
    "Node",
    "NodeId",
    "ProjectError",
    "Severity",
    "UnsupportedFormatVersionError",
    "analyze",
    "compile",
    "dumps",
    "get_spec",
    "list_specs",
    "list_types",
    "load",
    "loads",
    "save",
    "validate",
]


def compile(graph: Graph, seed: int | None = None) -> nn.Module:
    """Build the design as a ``torch.nn.Module`` (a ``torch.fx.GraphModule``); see ``designer.compiler``."""
    from .compiler import compile_graph

    return compile_graph(graph, seed=seed)
