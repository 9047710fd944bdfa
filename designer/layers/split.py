"""The channel Split: one input, several outputs, as ``torch.split`` and ``Tensor.chunk`` write it (ShuffleNetV2's
two branches, CSPNet's partial stages, GhostNet's halves). Readers name an output as ``"split:1"``
(``model.graph.port_ref``); the first output is the bare id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..model.params import Kind, Param
from .graph_ops import GraphOp
from .registry import Ctx, Shape, feature_dim, fmt_shape, register

if TYPE_CHECKING:
    from torch import fx

#: The most outputs a Split may have: each is a port on the canvas and a value in the generated code.
MAX_PARTS = 64


@register
class Split(GraphOp):
    name = "Split"
    category = "Reshape"
    doc = "Cuts one dimension (default channels) into parts, each an output: x.chunk(2, 1) or torch.split(x, [a, b], 1)"
    params = (
        Param("dim", Kind.INT, 1, low=-8, high=8, doc="dimension to cut (1 is channels)"),
        Param("chunks", Kind.INT, 2, high=MAX_PARTS, doc="number of equal parts (when sections is not given)"),
        Param("sections", Kind.INTS, None, doc="sizes of the parts, e.g. [16, 48]; they must add up to the input's"),
    )
    min_rank = 1
    multi_output = True

    def output_count(self, params: dict[str, Any]) -> int:
        """How many outputs the node has, read off its raw parameters (the canvas draws a port for each)."""
        sections, chunks = params.get("sections"), params.get("chunks", 2)
        if isinstance(sections, list) and sections:
            return min(len(sections), MAX_PARTS)
        return chunks if isinstance(chunks, int) and not isinstance(chunks, bool) and 1 <= chunks <= MAX_PARTS else 1

    def sizes(self, ctx: Ctx) -> tuple[int, list[int]]:
        """The cut axis (batch excluded) and the size of each part."""
        axis = feature_dim(ctx, "split")
        size, sections, chunks = ctx.x0[axis], ctx.p["sections"], ctx.p["chunks"]
        if sections is not None:
            if len(sections) > MAX_PARTS:
                raise ctx.fail(
                    "param.range", f"{ctx.who}: {len(sections)} sections; at most {MAX_PARTS}", "use fewer parts"
                )
            if sum(sections) != size:
                raise ctx.fail(
                    "shape.split_sum",
                    f"{ctx.who}: sections {list(sections)} add up to {sum(sections)}, but dimension {ctx.p['dim']} of "
                    f"its input from '{ctx.src[0]}' has {size}",
                    f"make the sections add up to {size}, e.g. {_halves(size)}",
                )
            return axis, list(sections)
        if size % chunks:
            raise ctx.fail(
                "shape.split_uneven",
                f"{ctx.who}: {size} does not split into {chunks} equal parts (dimension {ctx.p['dim']} of its input "
                f"from '{ctx.src[0]}')",
                f"give sections instead, e.g. {_parts(size, chunks)}, or a chunks count that divides {size}",
            )
        return axis, [size // chunks] * chunks

    def output_shapes(self, ctx: Ctx) -> tuple[Shape, ...]:
        axis, sizes = self.sizes(ctx)
        return tuple((*ctx.x0[:axis], n, *ctx.x0[axis + 1 :]) for n in sizes)

    def shape(self, ctx: Ctx) -> Shape:
        return self.output_shapes(ctx)[0]

    def emit(self, ctx: Ctx, graph: fx.Graph, args: list[fx.Node]) -> fx.Node:
        axis, sizes = self.sizes(ctx)
        if ctx.p["sections"] is None:
            return graph.call_method("chunk", (args[0], len(sizes), ctx.p["dim"]))
        import torch

        return graph.call_function(torch.split, (args[0], sizes, ctx.p["dim"]))

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        axis, sizes = self.sizes(ctx)
        how = (
            f"{ctx.x0[axis]} / {len(sizes)} = {sizes[0]} each"
            if ctx.p["sections"] is None
            else " + ".join(map(str, sizes)) + f" = {ctx.x0[axis]}"
        )
        parts = "; ".join(f"part {k} = {fmt_shape(s)}" for k, s in enumerate(self.output_shapes(ctx)))
        return [
            f"parts along dim {ctx.p['dim']}: {how}",
            parts,
            f"output = {fmt_shape(out)} (part 0, read as the bare id, part k as 'id:k'); params = 0",
        ]


def _parts(size: int, n: int) -> list[int]:
    """``size`` as ``n`` parts as equal as can be, the larger first."""
    n = max(1, min(n, size))
    return [size // n + (k < size % n) for k in range(n)]


def _halves(size: int) -> list[int]:
    return _parts(size, 2) if size > 1 else [size]
