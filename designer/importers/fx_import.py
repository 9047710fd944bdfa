"""Import a torch ``nn.Module`` by tracing it with torch.fx: leaf modules become layer nodes named by their module
path, the functions between them (``+``, ``torch.cat``, ``torch.flatten``, ``F.relu``, ...) become graph nodes."""

from __future__ import annotations

import importlib
import operator
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import fx, nn
from torch.fx.node import Argument
from torch.nn import functional as F

from ..layers.registry import get_spec
from ..model.graph import Graph, Node, NodeId
from ..model.params import Kind
from . import ImportResult, ModelImportError, plain


def load_torch_source(kind: str, rest: str, weights: str | None) -> nn.Module:
    """Build the model named by a ``torchvision:`` or ``module:`` source and load local weights into it."""
    model = _torchvision_model(rest) if kind == "torchvision" else _factory_model(rest)
    if weights:
        from ..export.checkpoint import read_checkpoint

        missing, unexpected = model.load_state_dict(read_checkpoint(weights).state_dict, strict=False)
        if missing or unexpected:
            raise ModelImportError(
                f"weights {weights} do not fit the model",
                [f"missing: {k}" for k in missing] + [f"unexpected: {k}" for k in unexpected],
            )
    return model.eval()


def _torchvision_model(name: str) -> nn.Module:
    import torchvision

    try:
        model: nn.Module = torchvision.models.get_model(name, weights=None)
    except (ValueError, KeyError):
        raise ModelImportError(f"torchvision has no model {name!r}") from None
    return model


def _factory_model(rest: str) -> nn.Module:
    """The module, or what the callable returns, named by ``<python.path>:<attribute>``."""
    path, _, attr = rest.rpartition(":")
    if not path:
        raise ModelImportError(f"module source {rest!r} must be module:<python.path>:<callable>")
    try:
        factory = getattr(importlib.import_module(path), attr)
    except (ImportError, AttributeError) as exc:
        raise ModelImportError(f"cannot load {path}:{attr}: {exc}") from None
    model = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    if not isinstance(model, nn.Module):
        raise ModelImportError(f"{path}:{attr} did not give an nn.Module but {type(model).__name__}")
    return model


def import_module(model: nn.Module, input_shape: list[int], name: str = "Imported") -> ImportResult:
    """Trace ``model`` and map it to a design; check the design reproduces the model before returning it.

    The model is traced in training mode so that branches used only in training (GoogLeNet's auxiliary
    classifiers) become extra outputs of the design instead of being lost; parity is checked in evaluation mode on
    the outputs the model returns there.
    """
    traced = _trace(model)
    graph = _Mapper(traced, input_shape).run(name)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    result = ImportResult(graph, state)
    _check_parity(result, model.eval(), input_shape)
    return result


def _trace(model: nn.Module) -> fx.GraphModule:
    errors = []
    for training in (True, False):
        try:
            return fx.symbolic_trace(model.train(training))
        except Exception as exc:
            errors.append(exc)
        finally:
            model.eval()
    raise ModelImportError(f"torch.fx cannot trace {type(model).__name__}: {errors[-1]}")


def _check_parity(result: ImportResult, model: nn.Module, input_shape: list[int]) -> None:
    from ..compiler import CompileError, compile_graph

    try:
        design = compile_graph(result.graph).eval()
    except CompileError as exc:
        raise ModelImportError("the imported design does not validate", [str(d) for d in exc.diagnostics]) from None
    missing, unexpected = design.load_state_dict(result.state_dict, strict=False)
    if missing or unexpected:
        raise ModelImportError(
            "the design's weights do not match the model's",
            [f"missing in the model: {k}" for k in missing] + [f"not in the design: {k}" for k in unexpected],
        )
    x = torch.randn(2, *input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want, got = model(x), design(x)
    want = want if isinstance(want, tuple) else (want,)
    got = got if isinstance(got, tuple) else (got,)
    if len(got) < len(want) or any(
        a.shape != b.shape or not torch.allclose(a, b, atol=1e-4, rtol=1e-4) for a, b in zip(want, got)
    ):
        raise ModelImportError("the imported design does not reproduce the model's outputs")
    worst = max(float((a - b).abs().max()) for a, b in zip(want, got))
    result.notes.append(f"outputs match the model within {worst:.1e}")
    if len(got) > len(want):
        extra = ", ".join(result.graph.output_ids()[len(want) :])
        result.notes.append(f"outputs used only in training kept as extra outputs: {extra}")


#: Functions and methods that map to a node type: target -> (type, params from the call's arguments).
ArgsMapper = Callable[[tuple[Argument, ...], dict[str, Argument]], dict[str, Any]]


def _dim_arg(key: str, index: int, default: Any) -> ArgsMapper:
    return lambda args, kwargs: {key: kwargs.get(key, args[index] if len(args) > index else default)}


def _no_params(args: tuple[Argument, ...], kwargs: dict[str, Argument]) -> dict[str, Any]:
    return {}


def _flatten_params(args: tuple[Argument, ...], kwargs: dict[str, Argument]) -> dict[str, Any]:
    return {
        "start_dim": kwargs.get("start_dim", args[1] if len(args) > 1 else 0),
        "end_dim": kwargs.get("end_dim", args[2] if len(args) > 2 else -1),
    }


def _adaptive_params(args: tuple[Argument, ...], kwargs: dict[str, Argument]) -> dict[str, Any]:
    return {"output_size": plain(kwargs.get("output_size", args[1]))}


def _dropout_params(args: tuple[Argument, ...], kwargs: dict[str, Argument]) -> dict[str, Any]:
    return {"p": kwargs.get("p", args[1] if len(args) > 1 else 0.5)}


def _inplace_params(args: tuple[Argument, ...], kwargs: dict[str, Argument]) -> dict[str, Any]:
    return {"inplace": True} if kwargs.get("inplace", args[1] if len(args) > 1 else False) else {}


def _positional(*names: str) -> ArgsMapper:
    """Params from a call's arguments after the input, by torch's positional order; only those given are kept."""

    def params(args: tuple[Argument, ...], kwargs: dict[str, Argument]) -> dict[str, Any]:
        given = dict(zip(names, args[1:])) | {k: v for k, v in kwargs.items() if k in names}
        return {k: plain(v) for k, v in given.items()}

    return params


FUNCTIONS: dict[Any, tuple[str, ArgsMapper]] = {
    F.avg_pool2d: (
        "AvgPool2d",
        _positional("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    ),
    F.max_pool2d: ("MaxPool2d", _positional("kernel_size", "stride", "padding", "dilation", "ceil_mode")),
    F.interpolate: ("Upsample", _positional("size", "scale_factor", "mode", "align_corners")),
    operator.add: ("Add", _no_params),
    torch.add: ("Add", _no_params),
    operator.iadd: ("Add", _no_params),
    operator.mul: ("Mul", _no_params),
    torch.mul: ("Mul", _no_params),
    torch.cat: ("Concat", _dim_arg("dim", 1, 0)),
    torch.concat: ("Concat", _dim_arg("dim", 1, 0)),
    torch.flatten: ("Flatten", _flatten_params),
    F.relu: ("ReLU", _inplace_params),
    torch.relu: ("ReLU", _no_params),
    F.relu6: ("ReLU6", _inplace_params),
    F.silu: ("SiLU", _inplace_params),
    F.gelu: ("GELU", _no_params),
    F.hardswish: ("Hardswish", _inplace_params),
    F.hardsigmoid: ("Hardsigmoid", _inplace_params),
    torch.sigmoid: ("Sigmoid", _no_params),
    torch.tanh: ("Tanh", _no_params),
    F.softmax: ("Softmax", _dim_arg("dim", 1, 1)),
    F.log_softmax: ("LogSoftmax", _dim_arg("dim", 1, 1)),
    F.adaptive_avg_pool2d: ("AdaptiveAvgPool2d", _adaptive_params),
    F.adaptive_max_pool2d: ("AdaptiveMaxPool2d", _adaptive_params),
    F.dropout: ("Dropout", _dropout_params),
}
METHODS: dict[str, tuple[str, ArgsMapper]] = {
    "flatten": ("Flatten", _flatten_params),
    "relu": ("ReLU", _no_params),
    "sigmoid": ("Sigmoid", _no_params),
    "tanh": ("Tanh", _no_params),
    "add": ("Add", _no_params),
    "mul": ("Mul", _no_params),
    "softmax": ("Softmax", _dim_arg("dim", 1, 1)),
}


#: Inferred parameters still written on import: LayerNorm may normalise fewer dims than the whole sample.
_EXPLICIT_INFERRED = frozenset({"normalized_shape"})


def module_params(module: nn.Module, type_name: str) -> dict[str, Any]:
    """A torch module's constructor arguments as file params: only values that differ from the defaults.

    Raises:
        ValueError: an attribute has no representation in the design (the message says which).
    """
    from ..model.diagnostics import DesignError

    spec = get_spec(type_name)
    assert spec is not None
    params: dict[str, Any] = {}
    for p in spec.params:
        if p.inferred and p.name not in _EXPLICIT_INFERRED:
            continue
        if not hasattr(module, p.name):
            continue
        value = getattr(module, p.name)
        if p.kind is Kind.BOOL and (value is None or isinstance(value, torch.Tensor)):
            value = value is not None  # `bias=True` is stored as the bias tensor itself
        value = plain(value)
        try:
            canonical = p.read(value)
        except DesignError as exc:
            raise ValueError(f"{p.name}={value!r} is not supported ({exc.message})") from None
        if canonical != p.canonical_default or p.required or p.name in _EXPLICIT_INFERRED:
            params[p.name] = value
    return params


class _Mapper:
    """Walks a traced graph once, emitting design nodes and collecting what cannot be mapped."""

    def __init__(self, traced: fx.GraphModule, input_shape: list[int]):
        self.traced = traced
        self.input_shape = input_shape
        self.nodes: list[Node] = []
        self.ids: dict[fx.Node, NodeId] = {}
        self.problems: list[str] = []
        self.outputs: list[NodeId] = []
        self.downstream = 0
        self.tuples: dict[fx.Node, list[fx.Node]] = {}
        self.taken = self._module_paths()

    def _module_paths(self) -> set[str]:
        paths: set[str] = set()
        for name, _ in self.traced.named_modules():
            parts = name.split(".")
            paths.update(".".join(parts[:k]) for k in range(1, len(parts) + 1))
        return paths

    def run(self, name: str) -> Graph:
        for node in self.traced.graph.nodes:
            handler = getattr(self, f"_on_{node.op}")
            handler(node)
        if self.problems:
            after = f" (and {self.downstream} operations that depend on them)" if self.downstream else ""
            raise ModelImportError(f"some operations have no designer node type{after}", self.problems)
        outputs: list[str] = list(self.outputs)
        return Graph(name, self.nodes, outputs)

    def _emit(
        self, fx_node: fx.Node, node_id: str, type_name: str, params: dict[str, Any], inputs: list[fx.Node]
    ) -> None:
        if any(a not in self.ids for a in inputs):
            self.downstream += 1  # unmappable only because an input was: the root cause is already reported
            return
        nid = NodeId(node_id)
        self.taken.add(nid)
        self.ids[fx_node] = nid
        self.nodes.append(Node(nid, type_name, params, [self.ids[a] for a in inputs]))

    def _unique(self, base: str) -> str:
        if base not in self.taken:
            return base
        k = 1
        while f"{base}_{k}" in self.taken:
            k += 1
        return f"{base}_{k}"

    def _on_placeholder(self, node: fx.Node) -> None:
        if node.args and not node.users:
            return  # an optional argument the model does not use
        self._emit(node, self._unique(node.name), "Input", {"shape": list(self.input_shape)}, [])

    def _on_call_module(self, node: fx.Node) -> None:
        module = self.traced.get_submodule(str(node.target))  # a call_module target is the module's path
        type_name = type(module).__name__
        spec = get_spec(type_name)
        if spec is None or not spec.is_module or type(module) is not getattr(nn, type_name, None):
            self.problems.append(
                f"module '{node.target}' ({type(module).__module__}.{type_name}) has no designer layer type"
            )
            return
        try:
            params = module_params(module, type_name)
        except ValueError as exc:
            self.problems.append(f"module '{node.target}' ({type_name}): {exc}")
            return
        node_id = str(node.target)
        if node_id in self.ids.values():
            if any(True for _ in module.parameters()):
                self.problems.append(
                    f"module '{node.target}' is called twice with shared weights; a design gives "
                    "each node its own weights"
                )
                return
            node_id = self._unique(node_id)
        self._emit(node, node_id, type_name, params, [a for a in node.args if isinstance(a, fx.Node)])

    def _on_call_function(self, node: fx.Node) -> None:
        if isinstance(node.target, type) and issubclass(node.target, tuple):
            self.tuples[node] = [a for a in (*node.args, *node.kwargs.values()) if isinstance(a, fx.Node)]
            return  # a namedtuple of outputs (GoogLeNetOutputs): its fields become the design's outputs
        self._map_call(node, FUNCTIONS.get(node.target), getattr(node.target, "__name__", str(node.target)))

    def _on_call_method(self, node: fx.Node) -> None:
        if node.target in ("view", "reshape") and self._map_view(node):
            return
        if node.target == "mean" and self._map_mean(node):
            return
        if node.target == "size" and all(u.op == "call_method" and u.target in ("view", "reshape") for u in node.users):
            return  # x.size(0) feeding a view: absorbed into the Flatten/Reshape it builds
        self._map_call(node, METHODS.get(str(node.target)), f"Tensor.{node.target}")

    def _map_call(self, node: fx.Node, entry: tuple[str, ArgsMapper] | None, what: str) -> None:
        if entry is None:
            self.problems.append(f"{what} at {self._where(node)} has no designer node type")
            return
        type_name, to_params = entry
        inputs = [a for a in _operands(node, type_name) if isinstance(a, fx.Node)]
        constants = [
            a
            for a in node.args[1:]
            if not isinstance(a, (fx.Node, int, float, tuple, list))
            or type_name in ("Add", "Mul")
            and not isinstance(a, fx.Node)
        ]
        if constants or not inputs:
            self.problems.append(f"{what} at {self._where(node)} with constant operands has no designer node type")
            return
        params = to_params(node.args, node.kwargs)
        if type_name in ("Concat", "Softmax", "LogSoftmax") and params.get("dim") == 1:
            params = {}
        if type_name == "Flatten":
            params = {k: v for k, v in params.items() if v != {"start_dim": 1, "end_dim": -1}[k]}
        self._emit(node, self._unique(f"{self._parent(node)}{type_name.lower()}"), type_name, params, inputs)

    def _map_view(self, node: fx.Node) -> bool:
        """``x.view(x.size(0), -1)`` is a Flatten; ``x.view(x.size(0), a, b)`` a Reshape."""
        src, *shape = node.args
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = list(shape[0])
        first = shape[0] if shape else None
        is_batch = (
            isinstance(first, fx.Node)
            and first.op == "call_method"
            and first.target == "size"
            and first.args[0] is src
            and first.args[1:] == (0,)
        )
        if not is_batch or not all(isinstance(d, int) for d in shape[1:]) or not isinstance(src, fx.Node):
            return False
        rest = list(shape[1:])
        type_name, params = ("Flatten", {}) if rest == [-1] else ("Reshape", {"shape": rest})
        self._emit(node, self._unique(f"{self._parent(node)}{type_name.lower()}"), type_name, params, [src])
        return True

    def _map_mean(self, node: fx.Node) -> bool:
        """``x.mean([2, 3])`` is global average pooling (then Flatten unless ``keepdim``); the parity check guards
        the assumption that x is a [N, C, H, W] map."""
        src, dims = node.args[0], node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        keep = node.kwargs.get("keepdim", node.args[2] if len(node.args) > 2 else False)
        if not isinstance(src, fx.Node) or not isinstance(dims, (list, tuple)) or sorted(d % 4 for d in dims) != [2, 3]:
            return False
        parent = self._parent(node)
        self._emit(node, self._unique(f"{parent}avgpool"), "AdaptiveAvgPool2d", {"output_size": 1}, [src])
        if not keep and node in self.ids:
            pool = self.ids.pop(node)
            flat = NodeId(self._unique(f"{parent}flatten"))
            self.taken.add(flat)
            self.nodes.append(Node(flat, "Flatten", {}, [pool]))
            self.ids[node] = flat
        return True

    def _on_get_attr(self, node: fx.Node) -> None:
        self.problems.append(
            f"direct use of tensor attribute '{node.target}' at {self._where(node)} has no designer node type"
        )

    def _on_output(self, node: fx.Node) -> None:
        result = node.args[0]
        items = list(result) if isinstance(result, (tuple, list)) else [result]
        items = [field for item in items for field in self._fields(item)]
        for item in items:
            if isinstance(item, fx.Node) and item in self.ids:
                self.outputs.append(self.ids[item])
            elif not self.problems:
                self.problems.append(f"output {item!r} is not a tensor computed by the model")

    def _fields(self, item: Argument) -> list[Argument]:
        """The values an output stands for: a namedtuple's fields, else the output itself."""
        return list(self.tuples.get(item, [item])) if isinstance(item, fx.Node) else [item]

    @staticmethod
    def _parent(node: fx.Node) -> str:
        stack = node.meta.get("nn_module_stack") or {}
        if not stack:
            return ""
        path = list(stack.values())[-1][0]
        return f"{path}." if path else ""

    def _where(self, node: fx.Node) -> str:
        parent = self._parent(node).rstrip(".") or "the top level"
        trace = node.stack_trace.strip().splitlines()[-2].strip() if node.stack_trace else ""
        return f"{parent} (fx node '{node.name}'{', ' + trace if trace else ''})"


def _operands(node: fx.Node, type_name: str) -> Sequence[Argument]:
    """The arguments of a call that may be tensors: torch.cat takes its tensors as one sequence."""
    if type_name != "Concat":
        return node.args
    first = node.args[0]
    return first if isinstance(first, (tuple, list)) else [first]
