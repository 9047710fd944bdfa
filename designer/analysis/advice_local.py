"""Design advice that reads one node and the wiring around it: a kernel wider than its map, a stride that skips
pixels, a bias BatchNorm removes, Dropout before BatchNorm. Each runs through ``per_node``, so an edit elsewhere
does not redo it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import diagnostics as dg
from ..model.diagnostics import Diagnostic
from .advice_design import BATCH_NORMS, Design, num

if TYPE_CHECKING:
    from .validate import NodeInfo


def kernel_too_large(design: Design, ni: NodeInfo) -> Diagnostic | None:
    """A window wider than its map reads padding in every position."""
    if ni.spec is None or ni.ctx is None:
        return None
    window = ni.spec.window(ni.ctx)
    _, h, w = ni.ctx.x0
    if window is None:
        return None
    (kh, kw), _ = window
    if not ((kh > h > 1) or (kw > w > 1)):
        return None
    return dg.warning(
        "advice.kernel_too_large",
        f"{ni.node.type} '{ni.node.id}' has a {kh}x{kw} window on the {h}x{w} map of '{ni.node.inputs[0]}': "
        f"wherever it is placed, at least {kh * kw - min(kh, h) * min(kw, w)} of its {kh * kw} taps read padding",
        ni.node.id,
        f"use a kernel of at most {min(h, w)}, or read a larger map (downsample less before it)",
    )


def stride_skips(design: Design, ni: NodeInfo) -> Diagnostic | None:
    """A stride larger than the window leaves pixels that nothing reads (unless another branch reads the input)."""
    if ni.spec is None or ni.ctx is None:
        return None
    window = ni.spec.window(ni.ctx)
    if window is None:
        return None
    (kh, kw), (sh, sw) = window
    if kh >= sh and kw >= sw:
        return None
    src = design.source(ni)
    if src is None or len(design.users.get(src.node.id, [])) > 1:
        return None  # a sibling branch (a ResNet shortcut's main path) reads every pixel
    seen = min(kh, sh) * min(kw, sw)
    cells = int(sh * sw)
    return dg.warning(
        "advice.stride_skips",
        f"{ni.node.type} '{ni.node.id}' has a {kh}x{kw} window and stride {num(sh)}x{num(sw)}: it never reads "
        f"{cells - seen} of every {cells} pixels of '{src.node.id}' ({100 * (cells - seen) / cells:.0f} %)",
        ni.node.id,
        f"make kernel_size at least the stride (e.g. {max(sh, sw):.0f} or 3 with padding 1), or pool before it",
    )


def bias_before_bn(design: Design, ni: NodeInfo) -> Diagnostic | None:
    """BatchNorm subtracts each channel's mean, and with it any constant the previous layer added."""
    if ni.ctx is None or not ni.ctx.p.get("bias") or ni.node.id in design.outputs():
        return None
    readers = design.readers(ni)
    if not readers or any(r.node.type not in BATCH_NORMS for r in readers):
        return None
    n = ni.ctx.p.get("out_channels", ni.ctx.p.get("out_features"))
    return dg.warning(
        "advice.bias_before_bn",
        f"{ni.node.type} '{ni.node.id}' learns {n} biases that {readers[0].node.type} '{readers[0].node.id}' "
        "removes again: it subtracts each channel's batch mean, bias included",
        ni.node.id,
        f"set bias=false on '{ni.node.id}' ({n} fewer parameters; BatchNorm's own shift is the bias)",
    )


def dropout_before_bn(design: Design, ni: NodeInfo) -> Diagnostic | None:
    """Dropout changes the variance BatchNorm measures in training but not at test time (Li et al., 2019)."""
    for reader in design.readers(ni):
        if reader.node.type in BATCH_NORMS:
            p = ni.ctx.p["p"] if ni.ctx else 0.5
            return dg.warning(
                "advice.dropout_before_bn",
                f"{ni.node.type} '{ni.node.id}' (p={p}) feeds {reader.node.type} '{reader.node.id}': the "
                "statistics BatchNorm learns with dropout on do not hold at test time, when it is off "
                "(variance shift)",
                ni.node.id,
                f"move '{ni.node.id}' after the last BatchNorm, just before the classifier",
            )
    return None
