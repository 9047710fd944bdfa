"""CNN Designer core: the design model, layer registry, validator, summary, compiler and exports. No Qt here.

Validation and summaries never import torch; ``compile`` and the exporters import it when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .diagnostics import Diagnostic, Severity
from .fileformat import FormatError, ProjectError, UnsupportedFormatVersionError, dumps, load, loads, save
from .graph import Graph, Node, NodeId
from .registry import LayerSpec, get_spec, list_specs, list_types
from .validate import Analysis, analyze, validate

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "Analysis", "Diagnostic", "FormatError", "Graph", "LayerSpec", "Node", "NodeId", "ProjectError", "Severity",
    "UnsupportedFormatVersionError", "analyze", "compile", "dumps", "get_spec", "list_specs", "list_types", "load",
    "loads", "save", "validate",
]


def compile(graph: Graph, seed: int | None = None) -> "nn.Module":  # noqa: A001 (mirrors torch.compile's naming)
    """Build the design as a ``torch.nn.Module`` (a ``torch.fx.GraphModule``); see ``designer.compiler``."""
    from .compiler import compile_graph

    return compile_graph(graph, seed=seed)


