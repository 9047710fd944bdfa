"""Templates of torchvision models made by importing them: the fx importer already maps each module to a node with
torchvision's module name and checks the outputs, so these mirrors need no hand-written generator. The import runs
on a small input (fast); the template then declares the ImageNet input, which every node fits (no node holds a size).
"""

from __future__ import annotations

import copy
import functools

from ..model.graph import Graph, NodeId
from .mirrors import IMAGENET_SHAPE, INPUT

#: The side the import runs at: small, and large enough for every model here.
_IMPORT_SIDE = 32


def from_torchvision(name: str, title: str) -> Graph:
    """torchvision's ``name`` (weights=None) as a design titled ``title``, with the Input ``input`` at 3x224x224."""
    return copy.deepcopy(_imported(name, title))


@functools.cache
def _imported(name: str, title: str) -> Graph:
    """Imported once per process: checking the templates renders each of them twice."""
    import torch
    import torchvision

    from ..importers.fx_import import import_module

    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None)
    graph = import_module(model, [3, _IMPORT_SIDE, _IMPORT_SIDE], title).graph
    (first,) = graph.input_ids()
    graph.rename_node(first, NodeId(INPUT))
    graph.set_param(NodeId(INPUT), "shape", list(IMAGENET_SHAPE))
    return graph
