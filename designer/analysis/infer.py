"""Per-node inference: a node's resolved parameters, output shape, weights and receptive field from its inputs'.

A node's result depends only on the node itself and on the shape and receptive field of each of its inputs, which is
what lets ``incremental.reanalyze`` stop where an edit's effect stops.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..layers.registry import Ctx, LayerSpec, Shape, fmt_shape, prod
from ..model import diagnostics as dg
from ..model.diagnostics import DesignError, Diagnostic
from ..model.graph import PORT_SEP, Node, NodeId, port_ref, split_ref

if TYPE_CHECKING:
    from .validate import NodeInfo

#: Effective kernel and stride per spatial axis (``LayerSpec.window``); None: an element-wise layer.
Window = tuple[tuple[int, int], tuple[float, float]] | None


class _NoWeights(Mapping[str, Shape]):
    """The weights of a node that has none: one shared, empty, read-only mapping (a default a dataclass accepts,
    being hashable, so that making a node's info calls no factory: a 100k-node design makes 100k of them)."""

    def __getitem__(self, key: str) -> Shape:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return 0


NO_WEIGHTS: Mapping[str, Shape] = _NoWeights()


#: What an Input (or a node whose inputs carry no field) starts from: itself, one pixel per step.
_UNIT_FIELD, _UNIT_JUMP = (1, 1), (1.0, 1.0)


#: Results of a layer rule by (layer spec, raw parameters, input shapes, input count), shared by every analysis: a
#: design repeats a few layers many times (every block of a ResNet stage; a re-analysis after an edit finds most
#: nodes unchanged). A rule's result depends on nothing else; ids appear only in the messages of its errors, which
#: are never kept.
_RESULTS: dict[tuple[LayerSpec, str, tuple[Shape, ...], int], _Result] = {}
#: Entries kept at most; past it the table starts again (a design with that many different layers gains nothing).
_RESULTS_MAX = 4096


@dataclass(frozen=True, slots=True)
class _Result:
    """A rule's result: the resolved parameters (inferred ones filled in), output shape, weights and their count,
    and for a map the window (kernel and stride) the receptive field grows by."""

    values: dict[str, Any]
    shape: Shape
    weights: Mapping[str, Shape]
    params: int
    window: Window = None
    #: A multi-output type's output shapes (``shape`` is the first); empty for one output.
    ports: tuple[Shape, ...] = ()


#: The result of a node whose inputs do not all have a shape (or are too few or too many).
_UPSTREAM = _Result({}, (), NO_WEIGHTS, 0, None)


def infer_node(ni: NodeInfo, info: Mapping[NodeId, NodeInfo]) -> list[Diagnostic] | None:
    """Fill ``ni`` from its inputs' results in ``info``; the node's own problems (None when it has none)."""
    node, spec = ni.node, ni.spec
    if spec is None:
        return None
    inputs = node.inputs
    shapes: tuple[Shape, ...]
    if len(inputs) == 1 and PORT_SEP not in inputs[0]:  # most layers: no list and no generator
        only = info.get(inputs[0])
        srcs = [only] if only is not None else []
        shapes = (only.shape,) if only is not None and only.shape is not None else ()
    else:
        read = _read_inputs(node, info)
        if isinstance(read, Diagnostic):
            return [read]
        srcs, shapes = read
    key = (spec, repr(node.params), shapes, len(inputs))  # with the count: one of the inputs may have no shape
    done = _RESULTS.get(key)
    if done is None:
        found = _rule(node, spec, shapes)
        if isinstance(found, list):
            return found  # the node's problems, which name it: not kept
        if len(_RESULTS) >= _RESULTS_MAX:
            _RESULTS.clear()
        done = _RESULTS[key] = found
    if done is _UPSTREAM:
        return None  # an input has no shape: the problem is reported where it is
    ni.ctx = Ctx(node.id, node.type, dict(done.values), shapes, tuple(inputs))
    ni.shape, ni.weights, ni.params, ni.ports = done.shape, done.weights, done.params, done.ports
    if len(done.shape) == 3:
        _receptive_field(ni, done.window, srcs)
    return None


def _read_inputs(node: Node, info: Mapping[NodeId, NodeInfo]) -> tuple[list[NodeInfo], tuple[Shape, ...]] | Diagnostic:
    """The infos a node reads and the shapes of the outputs it reads (an output of a multi-output node by its
    reference ``"id:k"``), those without a shape left out; or the problem of a reference to an output that its node
    does not have."""
    srcs: list[NodeInfo] = []
    shapes: list[Shape] = []
    for index, ref in enumerate(node.inputs):
        src_id, port = split_ref(ref) if PORT_SEP in ref else (ref, 0)
        src = info.get(src_id)
        if src is None:
            continue  # reported by check_structure
        srcs.append(src)
        if src.shape is None:
            continue
        if port == 0:
            shapes.append(src.shape)
        elif port < len(src.ports):
            shapes.append(src.ports[port])
        else:
            count = max(1, len(src.ports))
            names = ", ".join(f"'{port_ref(src_id, k)}'" for k in range(count))
            return dg.error(
                "graph.unknown_port",
                f"{node.type} '{node.id}' reads '{ref}', but {src.node.type} '{src_id}' has "
                + (f"{count} outputs ({names})" if count > 1 else "one output"),
                node.id,
                f"read one of {names}" if count > 1 else f"read '{src_id}'",
                index,
            )
    return srcs, tuple(shapes)


def _rule(node: Node, spec: LayerSpec, shapes: tuple[Shape, ...]) -> _Result | list[Diagnostic]:
    """Apply the layer's rule: its result (``_UPSTREAM`` when an input has no shape), or the node's problems."""
    values, problems = spec.resolve(node.params)
    if problems:
        return [_diag(node, exc) for exc in problems]
    low, high = spec.arity
    if len(shapes) != len(node.inputs) or len(shapes) < low or (high is not None and len(shapes) > high):
        return _UPSTREAM  # a wrong input count is reported by check_structure
    ctx = Ctx(node.id, node.type, values, shapes, tuple(node.inputs))
    try:
        if spec.ranks is not None and len(shapes[0]) not in spec.ranks:
            raise _rank_error(spec, ctx)
        if spec.min_rank and len(shapes[0]) < spec.min_rank:
            raise ctx.fail(
                "shape.rank",
                f"{ctx.who} needs a feature or channel dimension, but '{ctx.src[0]}' gives a scalar per sample "
                f"{fmt_shape(ctx.x0)}",
                f"feed '{ctx.node_id}' an input of shape [F] or larger, or remove it",
            )
        inferred = spec.inferred(ctx)
        if inferred:
            _fill_inferred(ctx, inferred)
        ports = spec.output_shapes(ctx) if spec.multi_output else ()
        shape = ports[0] if ports else spec.shape(ctx)
        weights = spec.weights(ctx) or NO_WEIGHTS
    except DesignError as exc:
        return [_diag(node, exc)]
    window = spec.window(ctx) if len(shape) == 3 and shapes else None
    return _Result(dict(values), shape, weights, sum(prod(s) for s in weights.values()), window, ports)


def _diag(node: Node, exc: DesignError) -> Diagnostic:
    message = exc.message if "'" + node.id + "'" in exc.message else f"{node.type} '{node.id}': {exc.message}"
    return dg.error(exc.code, message, node.id, exc.hint, exc.port)


def _rank_error(spec: LayerSpec, ctx: Ctx) -> DesignError:
    assert spec.ranks is not None
    got = fmt_shape(ctx.x0)
    if len(ctx.x0) < 3 and 3 in spec.ranks:
        return ctx.fail(
            "shape.needs_map",
            f"{ctx.who} needs a [C, H, W] feature map, but '{ctx.src[0]}' gives {got}",
            f"move '{ctx.node_id}' before the Flatten, or Reshape to [C, H, W] first",
        )
    want = " or ".join({1: "[F]", 2: "[C, L]", 3: "[C, H, W]"}.get(r, f"{r}-D") for r in spec.ranks)
    return ctx.fail(
        "shape.rank",
        f"{ctx.who} needs a {want} input, but '{ctx.src[0]}' gives {got}",
        f"use a layer made for {got} inputs, or reshape first",
    )


def _fill_inferred(ctx: Ctx, inferred: Mapping[str, object]) -> None:
    for name, value in inferred.items():
        given = ctx.p.get(name)
        if given is not None and given != value:
            shown = list(given) if isinstance(given, tuple) else given
            want = list(value) if isinstance(value, tuple) else value
            raise DesignError(
                "param.inferred_mismatch",
                f"{ctx.who} expects {name}={shown}; '{ctx.src[0]}' gives {want} (input shape {fmt_shape(ctx.x0)})",
                f"remove {name} (it is inferred) or set it to {want}",
            )
    ctx.p.update(inferred)  # the node's own resolved values, made for this context alone


def _receptive_field(ni: NodeInfo, window: Window, srcs: list[NodeInfo]) -> None:
    """Propagate receptive-field size and jump: rf_out = rf_in + (k_eff - 1) * jump_in, jump_out = jump_in * s."""
    fields = [(s.receptive_field, s.rf_stride) for s in srcs if s.receptive_field is not None and s.rf_stride]
    if ni.node.type == "Input" or not fields:
        ni.receptive_field, ni.rf_stride = _UNIT_FIELD, _UNIT_JUMP
        return
    # a merge sees as far as its widest input
    rh, rw = max(f[0] for f, _ in fields), max(f[1] for f, _ in fields)
    jh, jw = max(j[0] for _, j in fields), max(j[1] for _, j in fields)
    if window is not None:
        (kh, kw), (sh, sw) = window
        rh, rw = round(rh + (kh - 1) * jh), round(rw + (kw - 1) * jw)
        jh, jw = jh * sh, jw * sw
    ni.receptive_field, ni.rf_stride = (rh, rw), (jh, jw)


def same_result(a: NodeInfo, b: NodeInfo) -> bool:
    """Whether two analyses of one node agree on everything its readers and its lints read."""
    if a.shape != b.shape or a.receptive_field != b.receptive_field or a.rf_stride != b.rf_stride:
        return False
    if a.ports != b.ports:
        return False
    if a.ctx is None or b.ctx is None:
        return a.ctx is b.ctx
    return a.ctx.p == b.ctx.p and a.ctx.x == b.ctx.x and a.params == b.params
