"""What a network has learned, on the user's own design: feature maps, filters, Grad-CAM, saliency, guided
backpropagation, occlusion, activation maximisation, confusion matrix, confident mistakes and embeddings.

No Qt here; ``widgets/insight_dock.py`` draws these views and ``python -m designer insight`` writes them as PNGs.
Every function takes a module, one input sample in the model's input space and a node id (pass the design as
``graph=`` so that graph operations such as Add and Concat are found by their ids too), and raises ``InsightError``
naming the node when it cannot answer.
"""

from __future__ import annotations

from .evaluate import Embedding, Evaluation, Mistake, embed, evaluate, iter_batches, normalize, pca
from .images import colorize, encode_png, feature_grid, filter_grid, overlay, write_png
from .live import RefreshThrottle, ShadowCopy, snapshot
from .maps import (
    Heatmap,
    conv_nodes,
    deconvnet,
    feature_maps,
    filters,
    grad_cam,
    guided_backprop,
    occlusion,
    saliency,
    spatial_nodes,
)
from .maximize import Maximized, maximize
from .probe import InsightError, Probe
from .views import (
    DATASET_METHODS,
    METHODS,
    NEEDS_SAMPLE,
    Options,
    View,
    compose,
    confusion_view,
    dataset_view,
    mistakes_view,
    render,
)

__all__ = [
    "DATASET_METHODS",
    "METHODS",
    "NEEDS_SAMPLE",
    "Embedding",
    "Evaluation",
    "Heatmap",
    "InsightError",
    "Maximized",
    "Mistake",
    "Options",
    "Probe",
    "RefreshThrottle",
    "ShadowCopy",
    "View",
    "colorize",
    "compose",
    "confusion_view",
    "conv_nodes",
    "dataset_view",
    "deconvnet",
    "embed",
    "encode_png",
    "evaluate",
    "feature_grid",
    "feature_maps",
    "filter_grid",
    "filters",
    "grad_cam",
    "guided_backprop",
    "iter_batches",
    "maximize",
    "mistakes_view",
    "normalize",
    "occlusion",
    "overlay",
    "pca",
    "render",
    "saliency",
    "snapshot",
    "spatial_nodes",
    "write_png",
]
