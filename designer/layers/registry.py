"""The layer registry: one ``LayerSpec`` per layer type, registered by name, holding everything about that type."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ..model.diagnostics import DesignError
from ..model.params import Param

if TYPE_CHECKING:
    from torch import nn

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Ctx:
    """What a layer rule sees: the node, its resolved parameters and the shapes (and ids) feeding it."""

    node_id: str
    type: str
    p: dict[str, Any]
    x: tuple[Shape, ...]
    src: tuple[str, ...]

    @property
    def who(self) -> str:
        return f"{self.type} '{self.node_id}'"

    @property
    def x0(self) -> Shape:
        return self.x[0]

    def fail(self, code: str, message: str, hint: str = "", port: int | None = None) -> DesignError:
        return DesignError(code, message, hint, port)


class LayerSpec:
    """Everything about one layer type: parameters, shape rule, counts, explanation and torch builder.

    Subclasses set the class attributes and override the rules they need; ``@register`` makes one instance the entry.
    """

    name: ClassVar[str]
    category: ClassVar[str]
    doc: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    #: Smallest and largest number of inputs (None: no limit).
    arity: ClassVar[tuple[int, int | None]] = (1, 1)
    #: Input ranks (batch excluded) this type accepts; None: any from ``min_rank`` on.
    ranks: ClassVar[tuple[int, ...] | None] = None
    #: With ``ranks`` None, the smallest input rank accepted: 1 for a type that reads a feature or channel dimension
    #: (a per-sample scalar, ``[N]``, has none: torch would take the batch for it, or refuse).
    min_rank: ClassVar[int] = 0
    #: Whether the type has several outputs (``output_shapes``), each read as ``"id:k"`` (``model.graph.port_ref``).
    multi_output: ClassVar[bool] = False

    # -- rules ----------------------------------------------------------------------------------------------------

    def inferred(self, ctx: Ctx) -> dict[str, Any]:
        """Values of the ``inferred`` parameters, read off the input shape."""
        return {}

    def shape(self, ctx: Ctx) -> Shape:
        """Output shape (batch excluded); raise ``DesignError`` if the parameters do not fit the input."""
        return ctx.x0

    def output_count(self, params: dict[str, Any]) -> int:
        """How many outputs a node of this type has, read off its raw parameters (any value: the canvas asks before
        they are checked)."""
        return 1

    def output_shapes(self, ctx: Ctx) -> tuple[Shape, ...]:
        """For a ``multi_output`` type, the shape of each output; ``shape`` is the first's."""
        return (self.shape(ctx),)

    def weights(self, ctx: Ctx) -> dict[str, Shape]:
        """Shapes of the learnable tensors, by torch's attribute name (``weight``, ``bias``)."""
        return {}

    def explain(self, ctx: Ctx, out: Shape) -> list[str]:
        """The shape and parameter formulas with the numbers filled in."""
        return [f"output = input = {fmt_shape(out)}"]

    def window(self, ctx: Ctx) -> tuple[tuple[int, int], tuple[float, float]] | None:
        """Effective kernel and stride per spatial axis, for the receptive field; None: an element-wise op."""
        return None

    def build(self, ctx: Ctx) -> nn.Module:
        """The torch module for this node (imports torch)."""
        return self.module_class()(**self.torch_kwargs(ctx))

    def module_class(self) -> type[nn.Module]:
        """The class ``build`` instantiates: ``torch.nn.<name>``, or one of ``designer.modules`` (imports torch)."""
        from torch import nn

        cls: type[nn.Module] = getattr(nn, self.name)
        return cls

    def torch_kwargs(self, ctx: Ctx) -> dict[str, Any]:
        """Constructor arguments: every declared parameter, pairs as tuples."""
        return {p.name: ctx.p[p.name] for p in self.params}

    # -- derived --------------------------------------------------------------------------------------------------

    @property
    def is_module(self) -> bool:
        """Whether the node becomes a submodule (as opposed to an input or a tensor operation)."""
        return True

    @functools.cached_property
    def _known(self) -> dict[str, Param]:
        """The parameters by name (read for every node of a design: built once per layer type)."""
        return {p.name: p for p in self.params}

    @property
    def param_names(self) -> list[str]:
        return [p.name for p in self.params]

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def resolve(self, raw: dict[str, Any]) -> tuple[dict[str, Any], list[DesignError]]:
        """Read a node's raw parameters into canonical values with defaults filled in; collect what is wrong."""
        problems: list[DesignError] = []
        values: dict[str, Any] = {}
        known = self._known
        for name in raw:
            if name not in known:
                import difflib  # only for a misspelt parameter: reading a design does not pay for it

                close = difflib.get_close_matches(name, known, n=1)
                hint = (
                    f"did you mean '{close[0]}'?"
                    if close
                    else (f"{self.name} takes {', '.join(known)}" if known else f"{self.name} takes no parameters")
                )
                problems.append(DesignError("param.unknown", f"{self.name} has no parameter '{name}'", hint))
        for p in self.params:
            if name_given(raw, p.name):
                try:
                    values[p.name] = p.read(raw[p.name])
                except DesignError as exc:
                    problems.append(exc)
            elif p.required:
                problems.append(
                    DesignError(
                        "param.missing", f"{self.name} needs parameter '{p.name}'", f"set {p.name} to {p.describe()}"
                    )
                )
            else:
                values[p.name] = None if p.inferred else p.canonical_default
        return values, problems


def name_given(raw: dict[str, Any], name: str) -> bool:
    return name in raw and not (raw[name] is None and name not in _NULLABLE)


#: Parameters for which an explicit ``null`` is a value of its own, not "use the default".
_NULLABLE = frozenset({"stride", "size", "scale_factor", "align_corners", "divisor_override"})

_REGISTRY: dict[str, LayerSpec] = {}

S = TypeVar("S", bound="type[LayerSpec]")


def register(cls: S) -> S:
    """Class decorator: make one instance of ``cls`` the registry entry for ``cls.name``; refuse duplicates."""
    name = cls.name
    if name in _REGISTRY:
        raise ValueError(f"layer type {name!r} is registered twice")
    _REGISTRY[name] = cls()
    return cls


def get_spec(name: str) -> LayerSpec | None:
    return _REGISTRY.get(name)


def list_specs() -> list[LayerSpec]:
    return list(_REGISTRY.values())


def list_types() -> list[str]:
    return [spec.name for spec in list_specs()]


def feature_dim(ctx: Ctx, purpose: str) -> int:
    """Read ``dim`` (torch's numbering, batch = 0) and return it as an index into the batchless shape.

    ``purpose`` completes "dim=0 would ..." in the message that refuses the batch dimension.
    """
    rank = len(ctx.x0) + 1
    dim = ctx.p["dim"]
    if not -rank <= dim < rank:
        raise ctx.fail(
            "param.dim",
            f"{ctx.who}: dim={dim} is out of range for a {rank}-D tensor (batch included, "
            f"shape [N, {', '.join(map(str, ctx.x0))}])",
            f"set dim to a value in [1, {rank - 1}] (1 is the channel/class dimension)",
        )
    if dim % rank == 0:
        raise ctx.fail(
            "param.dim_batch",
            f"{ctx.who}: dim={dim} would {purpose} across the batch, mixing samples",
            "set dim=1 (channels/classes)",
        )
    return int(dim) % rank - 1


# -- formatting helpers shared by the explanations --------------------------------------------------------------------


def fmt_shape(shape: Shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def fmt_int(n: int) -> str:
    return f"{n:,}"


def prod(values: Any) -> int:
    return math.prod(values)
