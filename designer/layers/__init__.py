"""Every layer type of the registry, one entry each, and the registry itself.

Importing any module of this package runs this file first, so ``registry.get_spec`` always sees every entry.
"""

from . import conv, graph_ops, linear, norm, pointwise, pool, resize, roi, scalar, shuffle, split, tensor_ops

__all__ = [
    "conv",
    "graph_ops",
    "linear",
    "norm",
    "pointwise",
    "pool",
    "resize",
    "roi",
    "scalar",
    "shuffle",
    "split",
    "tensor_ops",
]
