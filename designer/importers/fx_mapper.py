"""Walk a traced module's fx graph once and emit design nodes: leaf modules by their module path, calls between them
(``+``, ``torch.cat``, ``x.view``, ``F.relu``, ...) named after the module they sit in. What cannot be mapped is
gathered in ``Problems``; what only failed because its input did is not reported again."""

from __future__ import annotations

import operator
from typing import Any

from torch import fx, nn
from torch.fx.node import Argument

from ..layers.registry import get_spec
from ..model.graph import Graph, Node, NodeId
from . import ModelImportError, plain
from .fx_calls import (
    FUNCTIONS,
    IGNORED_FUNCTIONS,
    METHODS,
    PASS_THROUGH_FUNCTIONS,
    PASS_THROUGH_METHODS,
    RESHAPING,
    ArgsMapper,
    call_name,
)
from .fx_leaves import LEAF_INPUT, Step, Unsupported, expand, from_sizes
from .fx_problems import Problems
from .fx_scalar import map_scalar_op
from .fx_tensor import Parts, fold_channel_shuffles, map_getitem, map_mean, map_permute, map_reshape, map_split

_NOT_A_LAYER = "not a CNN layer the designer has; rewrite it with supported layers"


class FxMapper:
    """Maps one traced module; ``renames`` holds the module paths whose tensors sit under another node id."""

    def __init__(self, traced: fx.GraphModule, input_shape: list[int], model_class: str):
        self.traced = traced
        self.model_class = model_class
        self.input_shape = input_shape
        #: fx nodes refused, or left out because an input was: what uses them is not reported again.
        self.failed: set[fx.Node] = set()
        self.emitted: set[str] = set()
        self.nodes: list[Node] = []
        self.ids: dict[fx.Node, NodeId] = {}
        self.problems = Problems()
        self.outputs: list[NodeId] = []
        self.tuples: dict[fx.Node, list[fx.Node]] = {}
        self.called: set[str] = set()
        self.renames: dict[str, str] = {}
        #: Tensor attributes that became a node's tensor: model state key -> (design state key, shape there).
        self.keys: dict[str, tuple[str, tuple[int, ...]]] = {}
        #: Reshapes of tensor attributes (``self.gamma.reshape(1, -1, 1, 1)``) -> the attribute.
        self.attr_of: dict[fx.Node, fx.Node] = {}
        #: Splits and chunks: where their parts are cut, and the Split node giving them when several are taken.
        self.parts: dict[fx.Node, Parts] = {}
        #: Ids a call's node may not take: every module path and its prefixes (a group), and the ids given.
        self.taken = {name.rsplit(".", k)[0] for name, _ in traced.named_modules() for k in range(name.count(".") + 1)}

    def run(self, name: str) -> Graph:
        for node in self.traced.graph.nodes:
            getattr(self, f"_on_{node.op}")(node)
        if self.problems:
            raise ModelImportError(self.problems.headline(), self.problems.lines())
        return Graph(name, fold_channel_shuffles(self.nodes), list(self.outputs))

    # -- emitting -------------------------------------------------------------------------------------------------

    def emit(
        self, fx_node: fx.Node, node_id: str, type_name: str, params: dict[str, Any], inputs: list[fx.Node]
    ) -> NodeId | None:
        if get_spec(type_name) is None:
            self.refuse(fx_node, f"{type_name} ({fx_node.target})", _NOT_A_LAYER)
            return None
        if any(a not in self.ids for a in inputs):
            self.refuse(fx_node, "a value computed from sizes", _NOT_A_LAYER)
            return None
        return self.add(fx_node, node_id, type_name, params, [self.ids[a] for a in inputs])

    def add(
        self, fx_node: fx.Node, node_id: str, type_name: str, params: dict[str, Any], inputs: list[NodeId]
    ) -> NodeId:
        nid = NodeId(node_id)
        self.taken.add(nid)
        self.emitted.add(nid)
        self.ids[fx_node] = nid
        self.nodes.append(Node(nid, type_name, params, inputs))
        return nid

    def alias(self, fx_node: fx.Node, src: Argument) -> None:
        """``fx_node`` computes its input's values: it stands for the node of ``src``."""
        if isinstance(src, fx.Node) and src in self.ids:
            self.ids[fx_node] = self.ids[src]
        else:
            self.refuse(fx_node, "a value computed from sizes", _NOT_A_LAYER)

    def _unique(self, base: str) -> str:
        if base not in self.taken:
            return base
        k = 1
        while f"{base}_{k}" in self.taken:
            k += 1
        return f"{base}_{k}"

    def refuse(
        self, node: fx.Node, what: str, fix: str, *, root: bool = False, at: tuple[str, str] | None = None
    ) -> None:
        """Report ``node`` unless it fails only because an input did (that cause is reported already) and is no
        ``root`` cause of its own. ``at``: the (path, class) to name, when not the module whose forward made it."""
        if root or not any(a in self.failed for a in node.all_input_nodes):
            path, owner = at or self._owner(node)
            self.problems.add(what, owner, path, fix)
        self.failed.add(node)

    def _owner(self, node: fx.Node) -> tuple[str, str]:
        """The path and class of the module whose forward made ``node``."""
        stack = node.meta.get("nn_module_stack") or {}
        if not stack:
            return "", self.model_class
        path, cls = list(stack.values())[-1]
        return path, _class_name(cls)

    def _holder(self, node: fx.Node, attr: fx.Node) -> tuple[str, str]:
        """The path and class of the module that keeps the tensor attribute ``attr`` (which ``node`` reads)."""
        holder = str(attr.target).rpartition(".")[0]
        stack = node.meta.get("nn_module_stack") or {}
        cls = next((c for p, c in stack.values() if p == holder), None)
        return holder, _class_name(cls) if cls is not None else self.model_class

    def local_id(self, node: fx.Node, word: str) -> str:
        """A free id for a call in a module's forward: ``layer1.0.add``, ``flatten``."""
        path = self._owner(node)[0] if node.meta.get("nn_module_stack") else ""
        return self._unique(f"{path}.{word}" if path else word)

    def shape_of(self, node: Argument) -> tuple[int, ...] | None:
        meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
        shape = getattr(meta, "shape", None)
        return tuple(shape) if shape is not None else None

    # -- fx node kinds --------------------------------------------------------------------------------------------

    def _on_placeholder(self, node: fx.Node) -> None:
        if node.args and not node.users:
            return  # an optional argument the model does not use
        self.add(node, self._unique(node.name), "Input", {"shape": list(self.input_shape)}, [])

    def _on_get_attr(self, node: fx.Node) -> None:
        """A tensor attribute used directly: refused where it is used, if it is."""

    def _on_call_module(self, node: fx.Node) -> None:
        path = str(node.target)
        module = self.traced.get_submodule(path)
        try:
            steps = expand(module)
        except Unsupported as exc:
            self.refuse(node, exc.what, exc.fix)
            return
        has_weights = any(True for _ in module.parameters())
        if path in self.called and has_weights:
            self.refuse(
                node, f"module {type(module).__name__}", "called twice with shared weights; use one module per call"
            )
            return
        self.called.add(path)
        src = next((a for a in node.args if isinstance(a, fx.Node)), None)
        attr = self.attribute(src) if src is not None else None
        if attr is not None:  # e.g. Swin V2's position-bias MLP, run on a stored table: no data flows into it
            what = f"module {type(module).__name__} applied to tensor attribute '{str(attr.target).rsplit('.', 1)[-1]}'"
            fix = "hold the tensor in a layer instead (not a CNN layer otherwise)"
            self.refuse(node, what, fix, root=True, at=self._holder(node, attr))
        elif src is None or src not in self.ids or len(node.all_input_nodes) > 1:
            self.refuse(node, f"module {type(module).__name__}", "takes other inputs than one tensor")
        elif not steps:
            self.alias(node, src)
        else:
            self._emit_steps(node, path, steps, self.ids[src])

    def _emit_steps(self, node: fx.Node, path: str, steps: list[Step], src: NodeId) -> None:
        out: list[NodeId] = []
        for step in steps:
            inputs = (LEAF_INPUT if not out else len(out) - 1,) if step.inputs is None else step.inputs
            base = _child_id(path, step.suffix)  # a module's own path is its id, unless a call took it already
            nid = self.add(
                node,
                self._unique(base) if base in self.emitted else base,
                step.type_name,
                _on_map(step, self.shape_of(node.args[0]) if inputs == (LEAF_INPUT,) else None),
                [out[i] if i >= 0 else src for i in inputs],
            )
            self.nodes[-1].frozen = _frozen(step)
            if step.module is not None:
                prefix = f"{path}.{step.source}" if step.source else path
                if prefix != nid:
                    self.renames[prefix] = nid
            out.append(nid)

    def _on_call_function(self, node: fx.Node) -> None:
        target = node.target
        if isinstance(target, type) and issubclass(target, tuple):
            self.tuples[node] = [a for a in (*node.args, *node.kwargs.values()) if isinstance(a, fx.Node)]
        elif target in IGNORED_FUNCTIONS or from_sizes(node):
            self._check_sizes_used(node)
        elif target in PASS_THROUGH_FUNCTIONS:
            self.alias(node, node.args[0])
        elif target is operator.getitem:
            map_getitem(self, node)
        elif not map_scalar_op(self, node):
            self._map_named(node, call_name(target), FUNCTIONS.get(target))

    def _on_call_method(self, node: fx.Node) -> None:
        method = str(node.target)
        if from_sizes(node):
            self._check_sizes_used(node)
        elif method in PASS_THROUGH_METHODS:
            self.alias(node, node.args[0])
        elif not map_scalar_op(self, node):
            self._map_named(node, f"Tensor.{method}", METHODS.get(method))

    def _map_named(self, node: fx.Node, what: str, entry: tuple[str, ArgsMapper] | None) -> None:
        """A call by the name refusals give it: ``torch.flatten``, ``Tensor.view``."""
        word = what.rsplit(".", 1)[1]
        if word in RESHAPING:
            map_reshape(self, node, what)
        elif word == "mean":
            map_mean(self, node)
        elif word in ("permute", "transpose"):
            map_permute(self, node, what)
        elif word in ("chunk", "split"):
            map_split(self, node, what)
        else:
            self._map_call(node, entry, what)

    def _on_output(self, node: fx.Node) -> None:
        result = node.args[0]
        items = list(result) if isinstance(result, (tuple, list)) else [result]
        for item in items:
            for field in self.tuples.get(item, [item]) if isinstance(item, fx.Node) else [item]:
                if isinstance(field, fx.Node) and field in self.ids:
                    self.outputs.append(self.ids[field])
                elif not self.problems:
                    self.refuse(node, f"output {field!r}", "a design's outputs are tensors the model computes")

    # -- calls ----------------------------------------------------------------------------------------------------

    def _check_sizes_used(self, node: fx.Node) -> None:
        """``x.size(0)``, ``x.shape``, ``c // g``: read by the reshapes they feed, which are mapped from the shapes
        they give; refused if anything else uses them."""
        if not all(u.op in ("call_method", "call_function") for u in node.users):
            self.refuse(node, "Tensor.size", _NOT_A_LAYER)

    def attribute(self, node: fx.Node) -> fx.Node | None:
        """The tensor attribute ``node`` reads (``get_attr``, or a reshape of one), if it reads one."""
        return node if node.op == "get_attr" else self.attr_of.get(node)

    def _layer_scale(self, node: fx.Node, inputs: list[fx.Node]) -> bool:
        """``gamma * x`` with one factor per channel of x (ConvNeXt's ``layer_scale``): a LayerScale node holding
        the attribute's tensor."""
        tensors = [a for a in inputs if self.attribute(a) is None]
        attr = next(a for a in map(self.attribute, inputs) if a is not None)
        shape = self.shape_of(tensors[0]) if len(tensors) == 1 == len(inputs) - 1 else None
        value = self.traced.get_parameter(str(attr.target)) if shape is not None and len(shape) == 4 else None
        spec = get_spec("LayerScale")
        if value is None or shape is None or value.numel() != shape[1] or spec is None:
            return False
        # as built and not trained yet (ConvNeXt starts at 1e-6): the node starts where the model did
        start = value.detach().flatten()[0]
        init = float(f"{float(start):.7g}")  # the float32 as written: 1e-06
        same = bool((value == start).all()) and init != spec.param("init_values").default
        params = {"init_values": init} if same else {}
        nid = self.emit(node, self._unique(str(attr.target)), "LayerScale", params, tensors)
        if nid is not None:
            self.nodes[-1].frozen = not value.requires_grad
            self.keys[str(attr.target)] = (f"{nid}.weight", (shape[1], 1, 1))
        return True

    def _map_call(self, node: fx.Node, entry: tuple[str, ArgsMapper] | None, what: str) -> None:
        if entry is None or get_spec(entry[0]) is None:
            self.refuse(node, what, _NOT_A_LAYER)
            return
        type_name, to_params = entry
        first = node.args[0] if node.args else None
        operands = list(first) if type_name == "Concat" and isinstance(first, (tuple, list)) else list(node.args)
        inputs = [a for a in operands if isinstance(a, fx.Node)]
        attrs = [str(a.target) for a in map(self.attribute, inputs) if a is not None]
        if attrs and type_name == "Mul" and self._layer_scale(node, inputs):
            return
        if attrs:
            name = attrs[0].rsplit(".", 1)[-1]  # the same attribute of every block shares one line
            self.refuse(node, f"{what} of tensor attribute '{name}'", "hold the tensor in a layer instead", root=True)
            return
        constants = [a for a in operands[1:] if type_name in ("Add", "Mul") and not isinstance(a, fx.Node)]
        if constants or not inputs:
            self.refuse(node, f"{what} with a constant operand", "combine tensors only, or use a layer for it")
            return
        params = to_params(node.args, node.kwargs)
        size, out = params.get("size"), self.shape_of(node)
        if type_name == "Upsample" and _computed(size) and out is not None and len(out) == 4:
            # F.interpolate(x, size=(y.shape[-2], y.shape[-1])), GhostNetV2's attention: decided for the input size,
            # as a branch on sizes is
            params["size"] = plain(list(out[2:]))
        self.emit(node, self.local_id(node, type_name.lower()), type_name, params, inputs)


def _child_id(path: str, suffix: str) -> str:
    """The id of a node a leaf module adds after itself: ``bn1`` + ``_act`` is ``bn1_act``; a numbered module
    (``features.1``) gives ``features.act1``, as a part may not start with a digit."""
    parent, _, last = path.rpartition(".")
    if not suffix.startswith("_") or not last.isdigit():
        return path + suffix
    word, _, rest = suffix[1:].partition(".")
    return f"{parent + '.' if parent else ''}{word}{last}{'.' + rest if rest else ''}"


def _on_map(step: Step, shape: tuple[int, ...] | None) -> dict[str, Any]:
    """The step's params; a Linear on a map (ConvNeXt's channels-last MLP) states its in_features, which is how a
    design takes a Linear over the last dimension of a map rather than asking for a Flatten."""
    if step.type_name != "Linear" or shape is None or len(shape) < 4 or not isinstance(step.module, nn.Linear):
        return step.params
    return {"in_features": step.module.in_features, **step.params}


def _frozen(step: Step) -> bool:
    """A node is frozen when its module has parameters and none of them is trained."""
    if step.module is None:
        return False
    params = list(step.module.parameters(recurse=not step.own_only))
    return bool(params) and not any(p.requires_grad for p in params)


def _class_name(cls: object) -> str:
    """A class's name as fx records it in ``nn_module_stack``: the class, or its qualified name as a string."""
    return getattr(cls, "__name__", str(cls).rsplit(".", 1)[-1].strip("'>"))


def _computed(value: Any) -> bool:
    """Whether a call's argument holds values the trace computes (``x.shape[-1]``) rather than numbers."""
    return isinstance(value, fx.Node) or (isinstance(value, (list, tuple)) and any(_computed(v) for v in value))
