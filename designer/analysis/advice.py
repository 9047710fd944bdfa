"""Design advice: warnings about choices that build and run but cost or lose something, explained with the numbers.

Each rule ties its warning to a node and says what the choice costs (parameters, pixels never read, a receptive
field that does not cover the object) and what to change. A node silences a rule with its ``silence`` field
(``"silence": ["advice.bias_before_bn"]``; ``"advice"`` silences them all). An Input may state the ``object_scale``
(pixels, one number or [h, w]) the receptive field must cover; by default it is the whole input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from ..layers.registry import fmt_int
from ..model import diagnostics as dg
from ..model.diagnostics import Diagnostic
from ..model.graph import Graph, Node, NodeId
from .advice_design import (
    LINEAR_PASS,
    POOLS,
    WEIGHTED,
    WINDOWED,
    AdviceMemo,
    Design,
    downstream,
    map_in,
    num,
    per_node,
)
from .advice_local import bias_before_bn, dropout_before_bn, kernel_too_large, stride_skips

if TYPE_CHECKING:
    from .validate import NodeInfo


#: Every advice code, with what it warns about (docs/format.md lists the same).
CODES = {
    "advice.receptive_field": "the features reaching a global pooling see less than the input (or object_scale)",
    "advice.linear_stack": "two linear layers or convolutions with no nonlinearity between them",
    "advice.head_params": "a Flatten+Linear head holds most of the parameters",
    "advice.kernel_too_large": "a kernel larger than the map it reads",
    "advice.stride_skips": "a stride larger than the kernel: pixels no layer reads",
    "advice.bias_before_bn": "a convolution or Linear with a bias that the following BatchNorm removes",
    "advice.dropout_before_bn": "Dropout directly before BatchNorm",
    "advice.early_collapse": "the map reaches 1x1 while layers with larger kernels still follow",
    "advice.silence": "a silence field that is not a list of codes",
}

#: A Flatten+Linear head holding more than this share of all parameters is worth a word.
HEAD_SHARE = 0.5


def advise(
    graph: Graph,
    info: Mapping[NodeId, NodeInfo],
    found: Sequence[Diagnostic] = (),
    users: dict[NodeId, list[NodeId]] | None = None,
    memo: AdviceMemo | None = None,
) -> list[Diagnostic]:
    """Every piece of advice on the design, minus what its nodes silence.

    ``found`` holds the diagnostics already collected, so advice does not repeat a warning (``cost.large_linear``);
    ``users`` is ``graph.consumers()`` when the caller has it already. ``memo``, kept by the caller between analyses
    of one graph whose wiring did not change, spares the rules that read one node the nodes not redone since.
    """
    design = Design(graph, info, graph.consumers() if users is None else users, {} if memo is None else memo)
    out: list[Diagnostic] = []
    for rule in RULES:
        out.extend(rule(design))
    if any(d.code == "advice.head_params" for d in out):
        warned = {(d.code, d.node_id) for d in found}
        out = [d for d in out if not (d.code == "advice.head_params" and ("cost.large_linear", d.node_id) in warned)]
    silencing = [node for node in graph if "silence" in node.extra]
    for node in silencing:
        out.extend(_check_silence(node))
    return [d for d in out if not silenced(graph, d)] if silencing else out


def silenced(graph: Graph, diagnostic: Diagnostic) -> bool:
    """Whether the node the diagnostic is about lists its code (or a dotted prefix of it) in ``silence``."""
    if diagnostic.node_id is None or diagnostic.node_id not in graph:
        return False
    codes = silence_codes(graph[diagnostic.node_id])
    return any(diagnostic.code == c or diagnostic.code.startswith(c + ".") for c in codes)


def silence_codes(node: Node) -> list[str]:
    """The codes (or dotted prefixes) the node's ``silence`` field lists; none when the field is unusable."""
    value = node.extra.get("silence")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _check_silence(node: Node) -> list[Diagnostic]:
    value = node.extra.get("silence")
    if value is None or isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return []
    return [
        dg.warning(
            "advice.silence",
            f"{node.type} '{node.id}': 'silence' must list diagnostic codes, not {str(value)[:40]}",
            node.id,
            'write e.g. "silence": ["advice.bias_before_bn"]',
        )
    ]


# -- the rules --------------------------------------------------------------------------------------------------------


def _receptive_field(design: Design) -> Iterator[Diagnostic]:
    """Features pooled globally must each see the object: a bag of small patches cannot tell where parts are."""
    target = _object_scale(design)
    if target is None:
        return
    for ni in design.of_type(POOLS):
        src = design.source(ni)
        if src is None or src.receptive_field is None or src.rf_stride is None or src.shape is None:
            continue
        if ni.node.type not in POOLS or ni.shape is None or ni.shape[1:] != (1, 1) or src.shape[1:] == (1, 1):
            continue  # a convolution over the whole map weighs each position, as Flatten+Linear does
        if _back_to_maps(design, ni):
            continue  # a squeeze-and-excitation gate, not the head
        (rh, rw), (jh, jw) = src.receptive_field, src.rf_stride
        if rh >= target[0] and rw >= target[1]:
            continue
        short, jump = max(target[0] - rh, target[1] - rw), max(jh, jw)
        more = math.ceil(short / (2 * jump))
        yield dg.warning(
            "advice.receptive_field",
            f"{src.node.type} '{src.node.id}' feeds the global pooling '{ni.node.id}' with features that each see "
            f"{rh}x{rw} input pixels, less than the {target[0]}x{target[1]} {target[2]}: no feature covers the "
            "whole object",
            src.node.id,
            f"add layers before '{ni.node.id}': each 3x3 convolution at this depth (stride {num(jump)} in input "
            f"pixels) adds {num(2 * jump)}, so {more} more would reach {max(target[:2])}; or downsample earlier",
        )


def _back_to_maps(design: Design, start: NodeInfo) -> bool:
    """Whether anything downstream of ``start`` is a map larger than 1x1 again (its result gates or joins a map)."""
    return any(
        ni.shape is not None and len(ni.shape) == 3 and ni.shape[1:] != (1, 1) for ni in downstream(design, start)
    )


def _object_scale(design: Design) -> tuple[int, int, str] | None:
    """The size the head's features should cover: the largest image Input's ``object_scale``, else its size."""
    best: tuple[int, int, str] | None = None
    for nid in design.graph.input_ids():
        ni = design.info.get(nid)
        if ni is None or ni.shape is None or len(ni.shape) != 3:
            continue
        h, w = ni.shape[1:]
        scale = ni.node.extra.get("object_scale")
        if isinstance(scale, int) and not isinstance(scale, bool) and scale > 0:
            h, w, what = min(h, scale), min(w, scale), "object scale"
        elif isinstance(scale, list) and len(scale) == 2 and all(isinstance(v, int) and v > 0 for v in scale):
            h, w, what = min(h, scale[0]), min(w, scale[1]), "object scale"
        else:
            what = "input"
        if best is None or h * w > best[0] * best[1]:
            best = (h, w, what)
    return best


def _linear_stack(design: Design) -> Iterator[Diagnostic]:
    """Two linear maps in a row are one linear map: the second layer adds cost but no expressiveness."""
    for ni in design.of_type(WEIGHTED):
        between: list[NodeInfo] = []
        prev = design.source(ni)
        while prev is not None and prev.node.type in LINEAR_PASS and len(prev.node.inputs) == 1:
            between.append(prev)
            prev = design.source(prev)
        if prev is None or prev.node.type not in WEIGHTED or _separable(prev, ni) or _low_rank(prev, ni):
            continue
        if any(len(design.users.get(n.node.id, [])) > 1 for n in (prev, *between)):
            continue  # the first map's output is read elsewhere too (an SE gate's input): it is not wasted
        via = f" (only {', '.join(f'{b.node.type} {b.node.id!r}' for b in reversed(between))})" if between else ""
        last = between[0].node.id if between else prev.node.id
        yield dg.warning(
            "advice.linear_stack",
            f"{ni.node.type} '{ni.node.id}' follows {prev.node.type} '{prev.node.id}' with no nonlinearity "
            f"between{via}: two linear maps compose into one, so the pair is no more expressive than a single layer",
            ni.node.id,
            f"insert an activation (e.g. ReLU) after '{last}', or merge the two layers into one",
        )


def _separable(first: NodeInfo, second: NodeInfo) -> bool:
    """A depthwise convolution then a 1x1 one: the factorised convolution of Xception, linear on purpose."""
    if first.node.type != "Conv2d" or second.node.type != "Conv2d" or first.ctx is None or second.ctx is None:
        return False
    p, q = first.ctx.p, second.ctx.p
    return bool(p["groups"] > 1 and p["groups"] == p["in_channels"] and q["kernel_size"] == (1, 1))


def _low_rank(first: NodeInfo, second: NodeInfo) -> bool:
    """A pair that narrows then widens again: a low-rank factorisation, cheaper than the one layer it composes to.

    MobileNetV2's linear bottlenecks are this, linear on purpose (Sandler et al., 2018: a ReLU on the narrow
    layer destroys information).
    """
    mid = first.shape[0] if first.shape else 0
    a = first.ctx.x0[0] if first.ctx else 0
    b = second.shape[0] if second.shape else 0
    return mid < a and mid < b


def _head_params(design: Design) -> Iterator[Diagnostic]:
    """A Linear over a flattened map pays for every position; global average pooling pays for the channels only."""
    total = sum(i.params for i in design.info.values())
    for ni in design.of_type(("Linear",)):
        if ni.ctx is None or not total or ni.params <= HEAD_SHARE * total:
            continue
        flat = design.source(ni)
        while flat is not None and flat.node.type in ("Dropout", "Identity"):
            flat = design.source(flat)
        mapped = design.source(flat) if flat is not None and flat.node.type == "Flatten" else None
        if flat is None or mapped is None or mapped.shape is None or len(mapped.shape) != 3:
            continue
        c, h, w = mapped.shape
        if h * w == 1:
            continue
        out_f = ni.ctx.p["out_features"]
        cheaper = c * out_f + (out_f if ni.ctx.p["bias"] else 0)
        yield dg.warning(
            "advice.head_params",
            f"Linear '{ni.node.id}' holds {fmt_int(ni.params)} of the design's {fmt_int(total)} parameters "
            f"({100 * ni.params / total:.0f} %): it reads the {c}x{h}x{w} map of '{mapped.node.id}' flattened to "
            f"{fmt_int(c * h * w)} features",
            ni.node.id,
            f"global average pooling (AdaptiveAvgPool2d(1)) before '{flat.node.id}' would make it "
            f"{fmt_int(cheaper)} parameters, {fmt_int(ni.params - cheaper)} fewer",
        )


def _early_collapse(design: Design) -> Iterator[Diagnostic]:
    """Once the map is 1x1, a k x k kernel uses only its centre tap: the layers after it pay for k*k weights."""
    for ni in design.ready():
        shape = ni.shape
        if shape is None or len(shape) != 3 or shape[1] != 1 or shape[2] != 1:
            continue
        x = map_in(ni)
        if x is None or x[1:] == (1, 1):
            continue
        wasted = list(_wasted_after(design, ni))
        if not wasted:
            continue
        names = ", ".join(f"'{w.node.id}' ({_kernel_text(w)})" for w in wasted[:3])
        more = f" and {len(wasted) - 3} more" if len(wasted) > 3 else ""
        yield dg.warning(
            "advice.early_collapse",
            f"{ni.node.type} '{ni.node.id}' reduces the {x[1]}x{x[2]} map to 1x1, but "
            f"{len(wasted)} layer(s) with larger windows follow: {names}{more}; on a 1x1 map only their centre tap "
            "sees data",
            ni.node.id,
            f"downsample less before '{ni.node.id}' (remove a stride or a pooling), or make the later layers 1x1",
        )


def _wasted_after(design: Design, start: NodeInfo) -> Iterator[NodeInfo]:
    """The windowed layers downstream of ``start`` that read 1x1 maps with windows larger than 1."""
    for ni in downstream(design, start, lambda n: (x := map_in(n)) is not None and x[1:] == (1, 1)):
        window = ni.spec.window(ni.ctx) if ni.node.type in WINDOWED and ni.spec and ni.ctx else None
        if window is not None and window[0] != (1, 1):
            yield ni


def _kernel_text(ni: NodeInfo) -> str:
    k = ni.ctx.p["kernel_size"] if ni.ctx else (0, 0)
    return f"{k[0]}x{k[1]}"


RULES: tuple[Callable[[Design], Iterator[Diagnostic]], ...] = (
    _receptive_field,
    _linear_stack,
    _head_params,
    per_node(WINDOWED, kernel_too_large),
    per_node(WINDOWED, stride_skips),
    per_node(WEIGHTED, bias_before_bn),
    per_node(("Dropout", "Dropout2d"), dropout_before_bn),
    _early_collapse,
)
