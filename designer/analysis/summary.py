"""The per-layer summary: output shapes, parameters, mult-adds, receptive fields and memory, as torchinfo counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..layers.registry import fmt_shape, prod
from .validate import Analysis, NodeInfo

#: Bytes per element: designs are summarised in float32, as torchinfo does by default.
ELEMENT_BYTES = 4


@dataclass(frozen=True)
class Totals:
    """Whole-design figures for one batch size."""

    params: int
    trainable_params: int
    mult_adds: int
    input_bytes: int
    #: Forward plus backward activation memory: twice the outputs of layers with parameters (torchinfo's figure).
    activation_bytes: int
    param_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.activation_bytes + self.param_bytes


def totals(analysis: Analysis, batch_size: int = 1) -> Totals:
    """The whole design's figures for ``batch_size`` samples, in one walk over the nodes (the window computes them
    after every edit)."""
    inputs = acts = params = trainable = mult_adds = 0
    for i in analysis.info.values():  # a node left out of the order (on a cycle) has no shape and no weights
        params += i.params
        trainable += i.trainable_params
        mult_adds += i.mult_adds
        if i.shape:
            if i.params > 0:
                acts += prod(i.shape)
            if i.node.type == "Input":
                inputs += prod(i.shape)
    return Totals(
        params=params,
        trainable_params=trainable,
        mult_adds=mult_adds * batch_size,
        input_bytes=inputs * batch_size * ELEMENT_BYTES,
        activation_bytes=2 * acts * batch_size * ELEMENT_BYTES,
        param_bytes=params * ELEMENT_BYTES,
    )


def _rows(analysis: Analysis) -> list[NodeInfo]:
    """Nodes in evaluation order, then any that could not be ordered (on a cycle), in file order."""
    seen = set(analysis.order)
    return [analysis.info[n] for n in analysis.order] + [i for n, i in analysis.info.items() if n not in seen]


def to_json(analysis: Analysis, batch_size: int = 1) -> dict[str, Any]:
    """The summary as data: ``{"nodes": [...], "total_params", "trainable_params", "total_mult_adds", ...}``."""
    t = totals(analysis, batch_size)
    nodes = []
    for info in _rows(analysis):
        nodes.append(
            {
                "id": info.node.id,
                "type": info.node.type,
                "output_shape": list(info.shape) if info.shape is not None else None,
                **({"output_shapes": [list(p) for p in info.ports]} if info.ports else {}),
                "params": info.params,
                "trainable_params": info.trainable_params,
                "mult_adds": info.mult_adds * batch_size,
                "receptive_field": list(info.receptive_field) if info.receptive_field else None,
                "receptive_field_stride": [_num(j) for j in info.rf_stride] if info.rf_stride else None,
                "explain": info.explain(),
            }
        )
    return {
        "name": analysis.graph.name,
        "valid": analysis.ok,
        "batch_size": batch_size,
        "nodes": nodes,
        "total_params": t.params,
        "trainable_params": t.trainable_params,
        "non_trainable_params": t.params - t.trainable_params,
        "total_mult_adds": t.mult_adds,
        "input_bytes": t.input_bytes,
        "activation_bytes": t.activation_bytes,
        "param_bytes": t.param_bytes,
        "diagnostics": [d.to_json() for d in analysis.diagnostics],
    }


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 4)


def format_rf(info: NodeInfo) -> str:
    if not info.receptive_field or not info.rf_stride:
        return ""
    (rh, rw), (sh, sw) = info.receptive_field, info.rf_stride
    size = f"{rh}" if rh == rw else f"{rh}x{rw}"
    stride = f"{_num(sh)}" if sh == sw else f"{_num(sh)}x{_num(sw)}"
    return f"{size} /{stride}"


def _shape_text(info: NodeInfo, batch_size: int) -> str:
    """The output shape with its batch; every part of a node with several (``3 x [1, 2, 4]`` when equal)."""
    if info.shape is None:
        return "?"
    shapes = [fmt_shape((batch_size, *s)) for s in info.ports or (info.shape,)]
    return f"{len(shapes)} x {shapes[0]}" if len(shapes) > 1 and len(set(shapes)) == 1 else ", ".join(shapes)


def format_text(analysis: Analysis, batch_size: int = 1, explain: bool = False) -> str:
    """A torchinfo-like table with the designer's extra columns; ``explain`` adds the formulas under each row."""
    header = ("Layer (type)", "Output shape", "Param #", "Mult-adds", "RF /stride")
    rows: list[tuple[str, str, str, str, str, list[str]]] = []
    for info in _rows(analysis):
        shape = _shape_text(info, batch_size)
        params = f"{info.params:,}" + ("" if info.trainable_params == info.params else " (frozen)")
        rows.append(
            (
                f"{info.node.id} ({info.node.type})",
                shape,
                params,
                f"{info.mult_adds * batch_size:,}",
                format_rf(info),
                info.explain() if explain else [],
            )
        )
    widths = [max(len(header[c]), *(len(r[c]) for r in rows)) if rows else len(header[c]) for c in range(5)]
    rule = "=" * (sum(widths) + 8)
    line = "  ".join(
        [header[0].ljust(widths[0]), header[1].ljust(widths[1])]
        + [header[c].rjust(widths[c]) for c in (2, 3)]
        + [header[4]]
    )
    out = [rule, line, rule]
    for r in rows:
        out.append(
            "  ".join(
                [r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].rjust(widths[2]), r[3].rjust(widths[3]), r[4]]
            ).rstrip()
        )
        out.extend("      " + text for text in r[5])
    t = totals(analysis, batch_size)
    mb = 1e6  # torchinfo reports megabytes as 10**6 bytes
    out += [
        rule,
        f"Total params: {t.params:,}",
        f"Trainable params: {t.trainable_params:,}",
        f"Non-trainable params: {t.params - t.trainable_params:,}",
        f"Total mult-adds: {t.mult_adds:,} ({_scaled(t.mult_adds)})",
        rule,
        f"Batch size: {batch_size}",
        f"Input size (MB): {t.input_bytes / mb:.2f}",
        f"Forward/backward pass size (MB): {t.activation_bytes / mb:.2f}",
        f"Params size (MB): {t.param_bytes / mb:.2f}",
        f"Estimated total size (MB): {t.total_bytes / mb:.2f}",
        rule,
    ]
    return "\n".join(out)


def _scaled(n: int) -> str:
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(n)
