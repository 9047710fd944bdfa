"""Compile a design into a ``torch.fx.GraphModule``: one submodule per layer node, named by its (dotted) id, and a
generated ``forward`` with no interpretation left at run time."""

from __future__ import annotations

import contextlib
import functools
import keyword
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import torch
from torch import fx, nn

from .analysis.budgets import over_limit
from .analysis.validate import Analysis, analyze
from .layers.graph_ops import GraphOp
from .model import diagnostics as dg
from .model.diagnostics import Diagnostic, DiagnosticsError
from .model.graph import Graph, NodeId, port_ref

#: A static method a layer class may have: a load_state_dict pre-hook for the model holding it, which loads the
#: names other libraries give its tensors (``designer.modules.LayerScale``).
LOAD_HOOK = "load_bare_keys"
#: Container kinds of a dotted-id group: children 0..n-1 make a ``ModuleList`` (``model.layer1[0]``), other numeric
#: children a ``ModuleDict`` (``model.blocks["3"]``), names only a plain ``Module`` (``model.stem.conv``).
LIST, DICT, MODULE = "list", "dict", "module"


class CompileError(DiagnosticsError):
    """The design has errors; ``diagnostics`` lists them (each names its node)."""

    def __init__(self, diagnostics: list[Diagnostic]):
        lines = [str(d) for d in diagnostics if d.is_error]
        super().__init__(diagnostics, "the design has errors:\n  " + "\n  ".join(lines))


@dataclass
class Group:
    """One level of the module hierarchy: a container and its children's names, in registration order."""

    path: str
    kind: str
    children: list[str] = field(default_factory=list)

    def child_path(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name


def module_layout(ids: Iterable[str]) -> dict[str, Group]:
    """The containers that dotted module ids need, by path (``""`` is the root), with their kind and children.

    Children keep the order in which the ids first name them, except list children, which are in index order.
    """
    groups: dict[str, Group] = {"": Group("", MODULE)}
    seen: set[str] = set()  # paths already listed as a child: a list scan per id was quadratic (531 ms at 20k ids)
    for node_id in ids:
        parts = node_id.split(".")
        for depth in range(len(parts)):
            path = ".".join(parts[: depth + 1])
            if path not in seen:
                seen.add(path)
                groups[".".join(parts[:depth])].children.append(parts[depth])
            if depth < len(parts) - 1:
                groups.setdefault(path, Group(path, MODULE))
    for group in groups.values():
        if group.path:
            group.kind = _kind(group.children)
            if group.kind == LIST:
                group.children.sort(key=int)
    return groups


#: ModuleDict's own attributes: a child with one of these names would be shadowed, so such a group stays a Module.
_DICT_ATTRS = frozenset(("clear", "items", "keys", "pop", "update", "values"))


def _kind(children: list[str]) -> str:
    if set(children) == {str(i) for i in range(len(children))}:
        return LIST
    if any(c.isdigit() for c in children) and not _DICT_ATTRS.intersection(children):
        return DICT
    return MODULE


def nest_modules(modules: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """Put modules keyed by dotted id into containers (see ``module_layout``); return the top-level children."""
    layout = module_layout(modules)

    def build(path: str) -> nn.Module:
        if path in modules:
            return modules[path]
        group = layout[path]
        children = [(name, build(group.child_path(name))) for name in group.children]
        if group.kind == LIST:
            return nn.ModuleList([child for _, child in children])
        if group.kind == DICT:
            return nn.ModuleDict(dict(children))
        container = nn.Module()
        for name, child in children:
            container.add_module(name, child)
        return container

    return {name: build(name) for name in layout[""].children}


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Seed weight initialisation without disturbing the caller's random state."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def build_modules(analysis: Analysis, seed: int | None = None, shared: bool = False) -> dict[str, nn.Module]:
    """One torch module per layer node, created in file order so that a seed fixes every initial weight.

    Each module keeps the initialisation its torch class gives it (``reset_parameters``); nothing is re-initialised.
    With ``shared``, nodes built from the same parameters and input shapes get one instance: for readers of the
    layers' classes and settings only (the Python export), to whom building 100k equal layers cost minutes.
    """
    modules: dict[str, nn.Module] = {}
    built: dict[tuple[object, ...], nn.Module] = {}
    with _seeded(seed):
        for node in analysis.graph:
            info = analysis.info[node.id]
            if info.spec is None or info.ctx is None or not info.spec.is_module:
                continue
            key = (node.type, repr(sorted(info.ctx.p.items())), info.ctx.x, node.frozen) if shared else None
            module = built.get(key) if key is not None else None
            if module is None:
                module = info.spec.build(info.ctx)
                if node.frozen:
                    module.requires_grad_(False)
                if key is not None:
                    built[key] = module
            modules[node.id] = module
    return modules


#: Names a generated forward uses itself (the Python export's calls ``torch.cat``); no variable may take them.
RESERVED_NAMES = ("self", "torch", "nn")


def argument_names(graph: Graph) -> dict[NodeId, str]:
    """The forward argument name of each Input: its id with dots made underscores, kept clear of keywords, of
    ``RESERVED_NAMES`` and of each other (``a.b`` -> ``a_b``, ``torch`` -> ``torch_2``)."""
    names: dict[NodeId, str] = {}
    for input_id in graph.input_ids():
        names[input_id] = python_name(input_id, set(names.values()))
    return names


def python_name(node_id: str, taken: set[str], reserved: Iterable[str] = RESERVED_NAMES) -> str:
    """A valid Python identifier for a node id, not in ``taken`` nor ``reserved``."""
    base = re.sub(r"\W", "_", node_id)  # dots of groups, and the '-' of RegNet's ``block1-0``
    if not base.isidentifier() or keyword.iskeyword(base):
        base = "n_" + base
    name, k = base, 2
    while name in taken or name in reserved:
        name, k = f"{base}_{k}", k + 1
    return name


def trace_nodes(analysis: Analysis) -> tuple[fx.Graph, dict[NodeId, fx.Node]]:
    """The dataflow as an ``fx.Graph``, and the fx node that holds each design node's value: by node id, and for a
    node with several outputs by the reference to each (``"split"``, ``"split:1"``, ...)."""
    graph = analysis.graph
    g = fx.Graph()
    env: dict[NodeId, fx.Node] = {}
    for input_id, name in argument_names(graph).items():
        env[input_id] = g.placeholder(name)
    for node_id in analysis.order:
        info = analysis.info[node_id]
        if info.node.type == "Input":
            continue
        args = [env[src] for src in info.node.inputs]
        assert info.spec is not None and info.ctx is not None
        if isinstance(info.spec, GraphOp):
            value = info.spec.emit(info.ctx, g, args)
        else:
            value = g.call_module(node_id, tuple(args))
        if info.ports:  # several outputs: each part is an item of the value, read by its reference
            for port in range(len(info.ports)):
                env[port_ref(node_id, port)] = g.call_function(operator.getitem, (value, port))
        else:
            env[node_id] = value
    outs = [env[o] for o in graph.output_ids()]
    g.output(outs[0] if len(outs) == 1 else tuple(outs))
    g.lint()
    return g, env


def build_fx_graph(analysis: Analysis) -> fx.Graph:
    """The dataflow of the design as an ``fx.Graph``: placeholders in Input order, outputs in ``outputs`` order."""
    return trace_nodes(analysis)[0]


def compile_graph(graph: Graph, seed: int | None = None, analysis: Analysis | None = None) -> fx.GraphModule:
    """Build the design as a module whose ``state_dict`` keys are ``<node id>.<tensor name>``.

    Raises:
        CompileError: the design has errors, or needs more memory than this machine has available.
    """
    analysis = analysis or analyze(graph)
    if not analysis.ok:
        raise CompileError(analysis.diagnostics)
    clashes = _attribute_clashes(analysis) + over_limit(analysis.info.values(), "building the model")
    if clashes:
        raise CompileError(clashes)
    modules = build_modules(analysis, seed)
    module = fx.GraphModule(modules, build_fx_graph(analysis), class_name=class_name(graph.name))
    # GraphModule fills the dotted paths with plain Modules, in depth order; swap in the containers, in file order,
    # so that ``model.layer1[0]`` indexes and the state_dict lists layers as the file does.
    for name in [name for name, _ in module.named_children()]:
        delattr(module, name)
    for name, child in nest_modules(modules).items():
        module.add_module(name, child)
    # A module class may give the model that holds it a load_state_dict pre-hook for the names other libraries use
    # (LayerScale: torchvision's bare ``layer_scale``, timm's ``gamma``); the Python export registers the same.
    for hook in load_hooks(module):
        module.register_load_state_dict_pre_hook(hook)  # type: ignore[no-untyped-call]  # not annotated
    return module


def load_hooks(module: nn.Module) -> list[Callable[..., None]]:
    """The ``LOAD_HOOK`` of each class of ``module``'s layers that has one, once per class."""
    classes = {type(m): None for m in module.modules()}
    return [getattr(cls, LOAD_HOOK) for cls in classes if hasattr(cls, LOAD_HOOK)]


def _attribute_clashes(analysis: Analysis) -> list[Diagnostic]:
    """Top-level layer names that a GraphModule's own attributes (``meta``) would overwrite."""
    taken = _graph_module_attributes()
    out = []
    for node_id, info in analysis.info.items():
        top = node_id.split(".")[0]
        if top in taken and info.spec is not None and info.spec.is_module:
            out.append(
                dg.error(
                    "graph.bad_id",
                    f"node id '{node_id}': part '{top}' is a reserved name",
                    node_id,
                    f"rename it, e.g. to '{top}_{node_id[len(top) :]}'",
                )
            )
    return out


@functools.lru_cache(maxsize=1)
def _graph_module_attributes() -> frozenset[str]:
    return frozenset(k for k in vars(fx.GraphModule(nn.Module(), fx.Graph())) if not k.startswith("_"))


def class_name(name: str) -> str:
    """A CamelCase Python class name for a design name (``"small cnn"`` -> ``SmallCnn``)."""
    words = "".join(ch if ch.isalnum() else " " for ch in name).split()
    text = "".join(w[:1].upper() + w[1:] for w in words) or "Model"
    text = "".join(ch for ch in text if ch.isascii())
    return text if text[:1].isalpha() else "Model" + text
