"""Export a design as a standalone Python file: one ``nn.Module`` class that imports only torch and whose
``state_dict`` keys are the compiled module's (``<node id>.<tensor>``), so trained weights load into it as they are.

The constructor has one line per layer and the forward one line per node, written from the compiler's fx graph.
"""

from __future__ import annotations

import functools
import inspect
import json
import operator
import os
import textwrap
from collections.abc import Callable
from typing import Any

import torch
from torch import fx, nn

from ..analysis.validate import Analysis
from ..compiler import (
    DICT,
    LIST,
    MODULE,
    Group,
    argument_names,
    build_modules,
    class_name,
    module_layout,
    python_name,
    trace_nodes,
)
from ..layers.registry import fmt_shape
from ..model.fileformat import write_atomic
from ..model.graph import Graph, NodeId
from ._common import checked_analysis, fail
from ._layout import WIDTH, fit

_BODY = " " * 8

#: Arguments written by keyword even when required, as torch's own repr does: ``Conv2d(3, 64, kernel_size=3)``.
_BY_KEYWORD = frozenset({"kernel_size"})
_BINARY = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/", operator.matmul: "@"}


def export_python(graph: Graph, path: str | os.PathLike[str], analysis: Analysis | None = None) -> str:
    """Write the design as Python source to ``path`` (atomically); return the source."""
    source = python_source(graph, analysis)
    write_atomic(path, source.encode("utf-8"))
    return source


def python_source(graph: Graph, analysis: Analysis | None = None) -> str:
    """The design as the text of a Python module holding one ``nn.Module`` class.

    Raises:
        CompileError: the design has errors.
        ExportError: a layer has no plain ``torch.nn`` constructor to write.
    """
    analysis = checked_analysis(graph, analysis)
    name = class_name(graph.name)
    writer = _Writer(analysis)
    lines = [
        *textwrap.wrap(
            f'"""{name}: exported by CNN Designer from the design {_quote(graph.name)}.',
            WIDTH,
            break_long_words=False,
            break_on_hyphens=False,
        ),
        "",
        *_io_doc(analysis),
        '"""',
        "",
        "import torch",
        "from torch import nn",
        "",
        "",
        f"class {name}(nn.Module):",
        *_class_doc(graph),
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
        *writer.constructor(),
        "",
        *fit(f"def forward({writer.signature()}:", "    "),
        *writer.forward(),
    ]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _io_doc(analysis: Analysis) -> list[str]:
    graph = analysis.graph
    ins = ", ".join(f"{i} {_shape(analysis, i)}" for i in graph.input_ids())
    outs = ", ".join(f"{o} {_shape(analysis, o)}" for o in graph.output_ids())
    return [
        *textwrap.wrap(f"Inputs: {ins}. Outputs: {outs} (N is the batch).", WIDTH - 4),
        "The state_dict keys are the design's node ids, so a designer checkpoint's weights load with",
        '``model.load_state_dict(torch.load(path, weights_only=True)["state_dict"])``.',
    ]


def _shape(analysis: Analysis, node_id: str) -> str:
    shape = analysis.shape(node_id)
    return "[N, " + fmt_shape(shape)[1:] if shape else "[N, ...]"


def _class_doc(graph: Graph) -> list[str]:
    """The class docstring: the design's description (or a stock line), wrapped to the line width."""
    desc = graph.extra.get("description")
    text = desc if isinstance(desc, str) and desc.strip() else f"The {graph.name} network."
    text = " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"')
    lines = textwrap.wrap(f'"""{text}"""', WIDTH - 4, break_long_words=False, break_on_hyphens=False)
    if len(lines) > 1:  # a long docstring closes on a line of its own
        lines[-1:] = [lines[-1][:-3], '"""']
    return ["    " + line for line in lines]


class _Writer:
    """Turns the analysed design into constructor and forward lines."""

    def __init__(self, analysis: Analysis):
        self.analysis = analysis
        self.modules = _layer_modules(analysis)
        self.layout = module_layout(self.modules)
        self.parent_kind = {g.child_path(c): g.kind for g in self.layout.values() for c in g.children}
        self.fx_graph, self.env = trace_nodes(analysis)
        self.args = argument_names(analysis.graph)
        self.names: dict[fx.Node, str] = {self.env[i]: n for i, n in self.args.items()}

    # -- constructor ----------------------------------------------------------------------------------------------

    def constructor(self) -> list[str]:
        lines: list[str] = []
        created: set[str] = {""}
        for node_id, module in self.modules.items():
            parts = node_id.split(".")
            for depth in range(1, len(parts)):
                self._create_group(".".join(parts[:depth]), created, lines)
            lines += fit(self._assign(node_id, _constructor_call(self.analysis, node_id, module)), _BODY)
            if self.analysis.graph[node_id].frozen:
                lines += fit(f"{self.access(node_id)}.requires_grad_(False)", _BODY, "frozen in the design")
        return lines

    def _create_group(self, path: str, created: set[str], lines: list[str]) -> None:
        if path in created:
            return
        created.add(path)
        group = self.layout[path]
        if self.parent_kind[path] == LIST and group.kind == MODULE:
            return  # the parent list was created with a plain Module in this slot
        lines += fit(self._assign(path, _container_call(group)), _BODY)

    def _assign(self, path: str, value: str) -> str:
        parent, _, name = path.rpartition(".")
        kind = self.parent_kind[path]
        if kind == LIST:
            return f"{self.access(parent)}[{name}] = {value}"
        if name.isidentifier():
            return f"{self.access(parent)}.{name} = {value}"
        if kind == DICT:
            return f'{self.access(parent)}["{name}"] = {value}'
        return f'{self.access(parent)}.add_module("{name}", {value})'

    def access(self, path: str) -> str:
        """The expression for a submodule: ``self.layer1[0].conv1``, ``self.blocks["3"]``."""
        expr = "self"
        parts = path.split(".") if path else []
        for depth, name in enumerate(parts):
            kind = self.layout[".".join(parts[:depth])].kind
            if kind == LIST:
                expr += f"[{name}]"
            elif name.isidentifier():
                expr += f".{name}"
            else:
                expr = f'{expr}["{name}"]' if kind == DICT else f'getattr({expr}, "{name}")'
        return expr

    # -- forward --------------------------------------------------------------------------------------------------

    def signature(self) -> str:
        args = "".join(f", {name}: torch.Tensor" for name in self.args.values())
        n_out = len(self.analysis.graph.output_ids())
        result = (
            "torch.Tensor"
            if n_out == 1
            else (f"tuple[{', '.join(['torch.Tensor'] * n_out)}]" if n_out <= 4 else "tuple[torch.Tensor, ...]")
        )
        return f"self{args}) -> {result}"

    def forward(self) -> list[str]:
        lines = []
        taken = set(self.args.values())
        for node_id in self.analysis.order:
            if node_id in self.args:
                continue
            fx_node = self.env[node_id]
            value = self.names[fx_node] if fx_node in self.names else self.expr(fx_node)
            var = python_name(node_id, taken)
            taken.add(var)
            self.names.setdefault(fx_node, var)
            lines += fit(f"{var} = {value}", _BODY, _shape(self.analysis, node_id))
        outs = [self.names[self.env[o]] for o in self.analysis.graph.output_ids()]
        code = "return " + ", ".join(outs)
        lines += fit(code if len(_BODY + code) <= WIDTH else f"return ({', '.join(outs)})", _BODY)
        return lines

    def expr(self, node: fx.Node) -> str:
        """The Python expression an fx node computes, with unnamed intermediate nodes written inline."""
        if node.op == "call_module":
            return f"{self.access(str(node.target))}({self._args(node.args)})"
        if node.op == "call_method":
            return f"{self.operand(node.args[0])}.{node.target}({self._args(node.args[1:], node.kwargs)})"
        if node.op == "call_function" and node.target in _BINARY:
            left, right = node.args
            same_op = isinstance(left, fx.Node) and left not in self.names and left.target is node.target
            lhs = self.expr(left) if same_op else self.operand(left)  # type: ignore[arg-type]
            return f"{lhs} {_BINARY[node.target]} {self.operand(right)}"  # type: ignore[index]
        if node.op == "call_function" and callable(node.target):
            return f"{_qualified(node.target)}({self._args(node.args, node.kwargs)})"
        raise fail("export.python_op", f"cannot write the operation {node.format_node()} as Python")

    def operand(self, arg: Any) -> str:
        """An argument of a binary operator: an inlined operator expression gets parentheses."""
        text = self.literal(arg)
        inlined = isinstance(arg, fx.Node) and arg not in self.names
        return f"({text})" if inlined and arg.op == "call_function" and arg.target in _BINARY else text

    def literal(self, value: Any) -> str:
        if isinstance(value, fx.Node):
            return self.names[value] if value in self.names else self.expr(value)
        if isinstance(value, list):
            return "[" + ", ".join(self.literal(v) for v in value) + "]"
        if isinstance(value, tuple):
            inner = ", ".join(self.literal(v) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return _py(value)

    def _args(self, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> str:
        parts = [self.literal(a) for a in args]
        parts += [f"{k}={self.literal(v)}" for k, v in (kwargs or {}).items()]
        return ", ".join(parts)


def _qualified(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", repr(fn))
    if getattr(torch, name, None) is not fn:
        raise fail("export.python_op", f"cannot write a call to {name} with torch alone")
    return f"torch.{name}"


def _layer_modules(analysis: Analysis) -> dict[str, nn.Module]:
    """The layer modules on the meta device: only their classes and settings are needed, not initial weights."""
    with torch.device("meta"):
        return build_modules(analysis)


def _container_call(group: Group) -> str:
    if group.kind == LIST:
        return f"nn.ModuleList([nn.Module() for _ in range({len(group.children)})])"
    return "nn.ModuleDict()" if group.kind == DICT else "nn.Module()"


def _constructor_call(analysis: Analysis, node_id: NodeId, module: nn.Module) -> str:
    """``nn.Conv2d(3, 64, kernel_size=3, padding=1)``: required arguments by position (``kernel_size`` by name, as
    torch's repr writes it), the others only where leaving them out would build a different layer."""
    info = analysis.info[node_id]
    cls = type(module)
    if getattr(nn, cls.__name__, None) is not cls or info.spec is None or info.ctx is None:
        raise fail(
            "export.python_layer",
            f"{info.node.type} '{node_id}' builds a {cls.__qualname__}, which is not "
            "a torch.nn layer the Python export can write",
            node_id,
        )
    kwargs = dict(_needed_kwargs(cls, tuple(info.spec.torch_kwargs(info.ctx).items())))
    parts: list[str] = []
    by_keyword = False
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name not in kwargs:
            continue
        value = kwargs.pop(name)
        if param.default is inspect.Parameter.empty and not by_keyword and name not in _BY_KEYWORD:
            parts.append(_py(value))
        else:
            parts.append(f"{name}={_py(value)}")
            by_keyword = True
    parts += [f"{k}={_py(v)}" for k, v in kwargs.items()]
    return f"nn.{cls.__name__}({', '.join(parts)})"


#: Arguments torch takes as one number for every axis: ``kernel_size=3`` reads better than ``(3, 3)``.
_PER_AXIS = frozenset(
    {"kernel_size", "stride", "padding", "dilation", "output_padding", "output_size", "size", "scale_factor"}
)


@functools.lru_cache(maxsize=1024)
def _needed_kwargs(cls: type[nn.Module], items: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    """The arguments to write: equal per-axis values as one number and defaults left out, as long as the layer
    built from them is the same layer (same settings, up to that shorthand, and the same tensors)."""
    kwargs = dict(items)
    defaults = {
        n: p.default
        for n, p in inspect.signature(cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }

    def settings(trial: dict[str, Any]) -> tuple[Any, ...]:
        with torch.device("meta"):
            return _settings(cls(**trial))

    target = settings(kwargs)
    short = {
        k: v[0] if k in _PER_AXIS and isinstance(v, tuple) and None not in v and len(set(v)) == 1 else v
        for k, v in kwargs.items()
    }
    if settings(short) == target:
        kwargs = short
    for name in [n for n in kwargs if n in defaults and kwargs[n] == defaults[n]]:
        trial = {k: v for k, v in kwargs.items() if k != name}
        if settings(trial) == target:
            kwargs = trial
    return tuple(kwargs.items())


def _settings(module: nn.Module) -> tuple[Any, ...]:
    """What defines a layer: its public attributes (a per-axis tuple of equal values counts as that value) and the
    names and shapes of its tensors."""
    attrs = {k: _canonical(v) for k, v in vars(module).items() if not k.startswith("_") and k != "training"}
    tensors = {k: tuple(v.shape) for k, v in [*module.named_parameters(), *module.named_buffers()]}
    return repr(sorted(attrs.items())), sorted(tensors.items())


def _canonical(value: Any) -> Any:
    return value[0] if isinstance(value, tuple) and value and len(set(value)) == 1 else value


def _py(value: Any) -> str:
    """A constructor argument as Python source, strings in double quotes as the rest of the file."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        inner = ", ".join(_py(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)
