"""Building blocks: parametrised generators of node groups (a residual block, an Inception module, ...) that the
palette inserts as one unit. Every node a block emits has the id ``prefix.<child>``, so the canvas can show the
group collapsed under ``prefix`` and expand it.

Use ``BLOCKS[name].emit(prefix, input_id, in_shape, **params)`` from the GUI (parameters are checked against the
block's ``params`` schema), or call a generator such as ``basic_block`` directly when composing whole networks.
Child names follow torchvision's module names where torchvision has the block, so torchvision's ``state_dict``
loads into a compiled design built from these blocks. No torch here: shapes come from the validator.
"""

from __future__ import annotations

from ._base import (
    BLOCKS,
    BlockResult,
    BlockSpec,
    Builder,
    Generator,
    conv,
    get_block,
    infer_shape,
    list_blocks,
    register_block,
    unique_prefix,
)
from .branching import dense_block, dense_layer, fire, inception, transition
from .plain import conv_bn_act, conv_norm_act, depthwise_separable, factorized_conv, vgg_block
from .residual import basic_block, bottleneck, inverted_residual, squeeze_excitation

__all__ = [
    "BLOCKS",
    "BlockResult",
    "BlockSpec",
    "Builder",
    "Generator",
    "basic_block",
    "bottleneck",
    "conv",
    "conv_bn_act",
    "conv_norm_act",
    "dense_block",
    "dense_layer",
    "depthwise_separable",
    "factorized_conv",
    "fire",
    "get_block",
    "inception",
    "infer_shape",
    "inverted_residual",
    "list_blocks",
    "register_block",
    "squeeze_excitation",
    "transition",
    "unique_prefix",
    "vgg_block",
]
