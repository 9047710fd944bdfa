"""Every layer type of the registry, one entry each; importing this package registers them all."""

from . import conv, graph_ops, linear, norm, pool, pointwise, resize  # noqa: F401
