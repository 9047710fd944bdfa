"""Which modules the tracer keeps whole, and the design nodes each becomes.

A module of a layer type is one node. A subclass of one (timm's ``BatchNormAct2d`` is a ``BatchNorm2d``) is that
node, then the children its forward applies after it (``drop``, ``act``). Known composites (torchvision's
``Conv2dNormActivation`` and ``SqueezeExcitation``, timm's ``ConvNormAct`` and ``SqueezeExcite``, drop paths) expand
by a recipe instead of being traced through: their internals call functions (``F.batch_norm``) with no node type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn

from ..layers.registry import get_spec
from ..model.params import Kind
from . import plain

#: In ``Step.inputs``: the input of the leaf module itself.
LEAF_INPUT = -1


class Unsupported(Exception):
    """A module that has no design equivalent; ``fix`` says what to do."""

    def __init__(self, what: str, fix: str):
        super().__init__(what)
        self.what = what
        self.fix = fix


@dataclass
class Step:
    """One design node a leaf module becomes."""

    suffix: str  # added to the module's path to give the node id: "" for the module itself, "_act", ".fc1"
    type_name: str
    params: dict[str, Any] = field(default_factory=dict)
    module: nn.Module | None = None  # the module whose tensors the node holds
    source: str = ""  # that module's path below the leaf (its state_dict prefix)
    own_only: bool = False  # the node holds the module's own tensors, not its children's
    inputs: tuple[int, ...] | None = None  # earlier steps feeding it (LEAF_INPUT: the leaf's input); None: previous


def layer_type(module: nn.Module) -> str | None:
    """The layer type whose torch module is exactly ``type(module)`` (``torch.nn``'s, or ``designer.modules``')."""
    spec = get_spec(type(module).__name__)
    if spec is None or not spec.is_module:
        return None
    try:
        return spec.name if type(module) is spec.module_class() else None
    except AttributeError:  # a type built otherwise (its own ``build``)
        return None


def base_layer_type(module: nn.Module) -> str | None:
    """The layer type of the nearest ``torch.nn`` class ``type(module)`` derives from, when it is a true subclass."""
    for cls in type(module).__mro__[1:]:
        spec = get_spec(cls.__name__)
        if spec is not None and spec.is_module and cls is getattr(nn, cls.__name__, None):
            return spec.name
    return None


def is_leaf(module: nn.Module) -> bool:
    return layer_type(module) is not None or base_layer_type(module) is not None or _recipe(module) is not None


class LeafTracer(fx.Tracer):
    """torch.fx's tracer, keeping layers, their subclasses and known composites whole; remembers where it failed.

    A branch on sizes (timm's VGG head pools only maps smaller than 7 x 7) is decided for ``example``, the input the
    design is made for: its sizes are fixed, so the branch is too. A branch on tensor values still fails.
    """

    def __init__(self, example: torch.Tensor | None = None) -> None:
        super().__init__()
        self.example = example
        self.evaluating = False
        self.failed_in: tuple[str, str] | None = None  # (path, class) of the innermost module a failure came from

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return is_leaf(m) or super().is_leaf_module(m, module_qualified_name)

    def to_bool(self, obj: fx.Proxy) -> bool:
        value = None if self.example is None or not from_sizes(obj.node) else self._evaluate(obj.node)
        if value is None or isinstance(value, fx.Proxy):  # not decidable here (timm's VGG head): refused
            return super().to_bool(obj)
        return bool(value)

    def _evaluate(self, target: fx.Node) -> Any:
        """The value ``target`` has for ``example``: the graph traced so far, run up to it."""
        graph = fx.Graph()
        copies: dict[fx.Node, fx.Node] = {}
        for node in self.graph.nodes:
            copies[node] = graph.node_copy(node, lambda n: copies[n])
            if node is target:
                break
        graph.output(copies[target])
        root = self.root
        training = root.training
        self.evaluating = True  # module calls run for real meanwhile: tracing patched nn.Module.__call__
        try:
            with torch.no_grad():
                return fx.GraphModule(root.eval(), graph)(self.example)
        finally:
            self.evaluating = False
            root.train(training)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Any]) -> Any:
        # while evaluating, a module's parameters are its tensors, not proxies of them (tracing patched
        # nn.Module.__getattr__): else a branch inside a submodule's forward evaluates to a proxy
        return attr_val if self.evaluating else super().getattr(attr, attr_val, parameter_proxy_cache)

    def call_module(
        self, m: nn.Module, forward: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if self.evaluating:
            return forward(*args, **kwargs)
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failed_in is None:
                self.failed_in = (self.path_of_module(m), type(m).__name__)
            raise


def from_sizes(node: fx.Node) -> bool:
    """Whether ``node`` is computed from tensor sizes only (``x.shape[-2] < 7``), not from tensor values."""
    if node.op == "call_method" and node.target in ("size", "dim"):
        return True
    if node.op == "call_function" and node.target is getattr and node.args[1:] in (("shape",), ("ndim",)):
        return True
    if node.op not in ("call_function", "call_method") or node.target in ("sum", "max", "min", "mean", "item"):
        return False
    return all(from_sizes(a) for a in node.all_input_nodes)


def expand(module: nn.Module) -> list[Step]:
    """The nodes a leaf module becomes, in order.

    Raises:
        Unsupported: the module, or a child a recipe needs, has no design equivalent.
    """
    name = layer_type(module)
    if name is not None:
        return [Step("", name, module_params(module, name), module)]
    recipe = _recipe(module)
    if recipe is not None:
        return recipe(module)
    base = base_layer_type(module)
    if base is not None:
        return _subclass(module, base)
    cls = type(module)
    raise Unsupported(
        f"module {cls.__module__}.{cls.__name__}", "no designer layer type; replace it with layers the designer has"
    )


def _subclass(module: nn.Module, base: str) -> list[Step]:
    """A subclass of a layer: the layer, then (when its forward is its own) each child, in the order they were set,
    that is not an Identity: what timm's ``BatchNormAct2d`` and its kin do. The parity check guards the rest."""
    params = module_params(module, base)
    if type(module).forward is getattr(nn, base).forward:
        return [Step("", base, params, module)]
    if not any(True for _ in module.named_children()):
        cls = type(module)
        raise Unsupported(
            f"module {cls.__module__}.{cls.__name__}",
            f"subclasses {base} but its forward does more; use {base} itself and the layers its forward applies",
        )
    steps = [Step("", base, params, module, own_only=True)]
    for child_name, child in module.named_children():
        if not isinstance(child, nn.Identity):
            steps += _shifted(expand(child), f"_{child_name}", child_name, len(steps))
    return steps


def _shifted(steps: list[Step], suffix: str, source: str, offset: int) -> list[Step]:
    """A child's steps inside its parent's: ids and sources prefixed, step indices moved by ``offset``."""
    for s in steps:
        s.suffix = suffix + s.suffix
        s.source = f"{source}.{s.source}" if s.source else source
        if s.inputs is not None:
            s.inputs = tuple(offset - 1 if i == LEAF_INPUT else i + offset for i in s.inputs)
    return steps


def _chain(module: nn.Module) -> list[Step]:
    """Children applied one after another, in the order they were set (Conv2dNormActivation, ConvNormAct)."""
    steps: list[Step] = []
    for child_name, child in module.named_children():
        if not isinstance(child, nn.Identity):
            steps += _shifted(expand(child), f".{child_name}", child_name, len(steps))
    return steps


def _gate(*order: str) -> Callable[[nn.Module], list[Step]]:
    """Squeeze and excitation: pool, the children named in ``order`` (as the forward applies them, which is not
    always the order they were set in), then the input times the result."""

    def recipe(module: nn.Module) -> list[Step]:
        steps = [Step(".avgpool", "AdaptiveAvgPool2d", {"output_size": 1})]
        for child_name in order:
            child = getattr(module, child_name, None)
            if isinstance(child, nn.Module) and not isinstance(child, nn.Identity):
                steps += _shifted(expand(child), f".{child_name}", child_name, len(steps))
        return [*steps, Step(".mul", "Mul", inputs=(LEAF_INPUT, len(steps) - 1))]

    recipe.children = frozenset({*order, "avgpool"})  # type: ignore[attr-defined]  # read by _recipe (the pool is step 0)
    return recipe


def _drop_path(module: nn.Module) -> list[Step]:
    """Stochastic depth (torchvision's ``StochasticDepth``, timm's ``DropPath``); nothing at all when p is 0."""
    p = float(getattr(module, "p", getattr(module, "drop_prob", 0.0)))
    if p == 0:
        return []
    return [Step("", "StochasticDepth", {"p": p, "mode": getattr(module, "mode", "row")})]


def _channel_layer_norm(module: nn.Module) -> list[Step]:
    """ConvNeXt's LayerNorm over the channels of an NCHW map (a LayerNorm subclass that permutes around it)."""
    return [Step("", "LayerNorm2d", module_params(module, "LayerNorm2d"), module)]


_RECIPES: dict[str, Callable[[nn.Module], list[Step]]] = {
    "Conv2dNormActivation": _chain,
    "ConvNormActivation": _chain,
    "ConvNormAct": _chain,
    "ConvBnAct": _chain,
    "SqueezeExcitation": _gate("fc1", "activation", "fc2", "scale_activation"),
    "SqueezeExcite": _gate("conv_reduce", "act1", "conv_expand", "gate"),
    "SEModule": _gate("fc1", "bn", "act", "fc2", "gate"),
    "StochasticDepth": _drop_path,
    "DropPath": _drop_path,
    "LayerNorm2d": _channel_layer_norm,
}


def _same_as(type_name: str, **params: Any) -> Callable[[nn.Module], list[Step]]:
    """A module of another library that computes exactly what a layer type does."""
    return lambda module: [Step("", type_name, dict(params), module)]


_TIMM_ACT = "timm.layers.activations."
#: By qualified class name: modules whose forward is their layer's, written again (timm's, for TorchScript), or a
#: tensor operation the design has as a node.
_SAME: dict[str, Callable[[nn.Module], list[Step]]] = {
    _TIMM_ACT + "Swish": _same_as("SiLU"),
    _TIMM_ACT + "Sigmoid": _same_as("Sigmoid"),
    _TIMM_ACT + "Tanh": _same_as("Tanh"),
    _TIMM_ACT + "HardSwish": _same_as("Hardswish"),
    _TIMM_ACT + "HardSigmoid": _same_as("Hardsigmoid"),
    _TIMM_ACT + "GELU": _same_as("GELU"),
    _TIMM_ACT + "GELUTanh": _same_as("GELU", approximate="tanh"),
    _TIMM_ACT + "Mish": _same_as("Mish"),
    _TIMM_ACT + "PReLU": lambda m: [Step("", "PReLU", module_params(m, "PReLU"), m)],
    "timm.layers.linear.Linear": lambda m: [Step("", "Linear", module_params(m, "Linear"), m)],
    # ConvNeXt's channels-last switch: one node under torchvision's module name, not a call inside it
    "torchvision.ops.misc.Permute": lambda m: [Step("", "Permute", {"dims": [int(d) for d in vars(m)["dims"]]})],
}


def _recipe(module: nn.Module) -> Callable[[nn.Module], list[Step]] | None:
    cls = type(module)
    same = _SAME.get(f"{cls.__module__}.{cls.__name__}")
    if same is not None:
        return same
    recipe = _RECIPES.get(cls.__name__)
    known = getattr(recipe, "children", None)
    if known is not None and any(n not in known for n, c in module.named_children() if not isinstance(c, nn.Identity)):
        return None  # another class of that name (timm's legacy SENet SEModule: fc1, relu, fc2, sigmoid): traced
    if recipe is _drop_path and get_spec("StochasticDepth") is None:
        return None
    if recipe is _channel_layer_norm and get_spec("LayerNorm2d") is None:
        return None
    return recipe


#: Inferred parameters still written on import: LayerNorm may normalise fewer dims than the whole sample.
_EXPLICIT_INFERRED = frozenset({"normalized_shape"})


def module_params(module: nn.Module, type_name: str) -> dict[str, Any]:
    """A torch module's constructor arguments as file params: only values that differ from the defaults.

    Raises:
        Unsupported: an attribute has no representation in the design (the message says which).
    """
    from ..model.diagnostics import DesignError

    spec = get_spec(type_name)
    assert spec is not None
    params: dict[str, Any] = {}
    for p in spec.params:
        if (p.inferred and p.name not in _EXPLICIT_INFERRED) or not hasattr(module, p.name):
            continue
        value = getattr(module, p.name)
        if p.kind is Kind.BOOL and (value is None or isinstance(value, torch.Tensor)):
            value = value is not None  # `bias=True` is stored as the bias tensor itself
        value = plain(value)
        try:
            canonical = p.read(value)
        except DesignError as exc:
            raise Unsupported(f"{type_name} with {p.name}={value!r}", f"not supported ({exc.message})") from None
        if canonical != p.canonical_default or p.required or p.name in _EXPLICIT_INFERRED:
            params[p.name] = value
    return params
