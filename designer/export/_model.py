"""Everything the Python export writes, worked out before any line is: the module tree, the shared classes, the
arguments of each class and the constructor call of every module."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch
from torch import fx, nn

from ..analysis.validate import Analysis
from ..compiler import build_modules, python_name, trace_nodes
from ..model.graph import NodeId
from ._calls import BY_KEYWORD, MODULE_DICT, MODULE_LIST, SEQUENTIAL, Call, layer_call, py, same
from ._expr import Expressions
from ._naming import camel
from ._params import NO_DEFAULT, WILD, Column, Expr, Param, Path, Signature, flatten, signature
from ._share import MODULE, RUN, BlockClass, share
from ._tree import LAYER, MDICT, MLIST, Step, Unit, build_tree

#: How a column is written at one place: its expression, or None to leave the argument out.
ColumnWriter = Callable[[Path, Call, str], "Expr | None"]
_CONTAINER = {MLIST: MODULE_LIST, MDICT: MODULE_DICT}
_UNSET: Any = object()


class Model:
    """The design laid out as classes and calls."""

    def __init__(self, analysis: Analysis):
        self.analysis = analysis
        with torch.device("meta"):  # only the layers' classes and settings are needed, not initial weights
            self.modules: dict[str, nn.Module] = build_modules(analysis, shared=True)
        self.fx_graph, self.env = trace_nodes(analysis)
        self.tree = build_tree(analysis, self.modules)
        self.classes = share(self.tree, self._op_skeleton)
        self.flags: dict[int, dict[int, str]] = {}
        self._calls: dict[str, Call] = {}
        self._signatures: dict[int, Signature] = {}

    def written_classes(self) -> list[BlockClass]:
        """The classes to write, each after the classes it uses."""
        unique = {id(c): c for c in self.classes.values()}
        return [c for c in unique.values() if not c.inline]

    def _op_skeleton(self, step: Step) -> str:
        assert step.node_id is not None
        names: dict[Any, str] = {}
        for k, x in enumerate(step.inputs):
            names.setdefault(self.env[x], f"_{k}")
        return Expressions(names).value(self.op_node(step.node_id))

    def op_node(self, node_id: NodeId) -> fx.Node:
        """The fx node that computes a graph operation: for one with several outputs, the call that gives them all
        (its parts are items of it)."""
        node = self.env[node_id]
        return node.args[0] if node_id in self.tree.parts else node  # type: ignore[return-value]

    # -- calls ----------------------------------------------------------------------------------------------------

    def call_of(self, unit: Unit) -> Call:
        """How ``unit`` is built: a layer's arguments, a class's argument values or a container's items."""
        if unit.path not in self._calls:
            self._calls[unit.path] = self._make_call(unit)
        return self._calls[unit.path]

    def _make_call(self, unit: Unit) -> Call:
        if unit.kind == LAYER:
            assert unit.node_id is not None
            return layer_call(self.analysis, unit.node_id, self.modules[unit.path])
        cls = self.classes.get(unit.path)
        if cls is not None and not cls.inline:
            return self.signature_of(cls).instance_call(cls, cls.instances.index(unit))
        items = [(c.name, self.call_of(c)) for c in unit.children]
        return Call(_CONTAINER.get(unit.kind, SEQUENTIAL), items=items)

    # -- class arguments ------------------------------------------------------------------------------------------

    def signature_of(self, cls: BlockClass) -> Signature:
        """The class's arguments and how it writes each value its layers are built with."""
        if id(cls) not in self._signatures:
            columns = self._run_columns(cls) if cls.form == RUN else self._columns(cls)
            sig = signature(columns, self._channels(cls))
            if cls.form == RUN:  # the count first, as torchvision's _DenseBlock(num_layers, ...)
                sig.params.sort(key=lambda p: (p.key,) != next(iter(columns)))
            if cls.form == MODULE and cls.optional:
                self.flags[id(cls)] = _add_flags(sig, cls)
            self._signatures[id(cls)] = sig
        return self._signatures[id(cls)]

    def _columns(self, cls: BlockClass) -> dict[Path, Column]:
        """Every value the instances' children are built with, by path; an argument an instance leaves out has the
        layer's default (and may be left out in the class too), a child the instance lacks is ``WILD``."""
        calls = [{c.name: self.call_of(c) for c in inst.children} for inst in cls.instances]
        columns: dict[Path, Column] = {}
        for child in cls.base.children:
            for i, by_name in enumerate(calls):
                for path, value, call in flatten(by_name[child.name], (child.name,)) if child.name in by_name else ():
                    default = call.defaults.get(path[-1], NO_DEFAULT)
                    blank = Column([_UNSET] * len(calls), default)
                    columns.setdefault(path, blank).values[i] = value
        for path, column in columns.items():
            for i, by_name in enumerate(calls):
                if column.values[i] is _UNSET:
                    column.droppable = column.droppable or path[0] in by_name
                    column.values[i] = column.default if path[0] in by_name else WILD
        return columns

    def _run_columns(self, cls: BlockClass) -> dict[Path, Column]:
        """A run's columns: how many children, and per argument of the child class either one value, a start and
        step (``in_channels + i * 32``) or a list of values."""
        calls = [[self.call_of(c) for c in inst.children] for inst in cls.instances]
        columns: dict[Path, Column] = {("num_" + _plural(cls.run[0]),): Column([len(c) for c in calls])}
        first = calls[0][0]
        for name in first.order:
            lists = [[c.value(name) for c in row] for row in calls]
            default = first.defaults.get(name, NO_DEFAULT)
            if all(all(same(v, row[0]) for v in row) for row in lists):
                columns[(name,)] = Column([row[0] for row in lists], default)
            elif all(_affine(row) for row in lists):
                columns[(name,)] = Column([row[0] for row in lists], default)
                columns[(name, "step")] = Column([row[1] - row[0] for row in lists])
            else:
                columns[(name, "list")] = Column([tuple(row) for row in lists])
        return columns

    def _channels(self, cls: BlockClass) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for side, ends in (("in", [u.inputs for u in cls.instances]), ("out", [u.outputs for u in cls.instances])):
            if any(len(e) != 1 for e in ends):
                continue
            shapes = [self.analysis.shape(e[0]) for e in ends]
            flat = all(s is not None and len(s) == 1 for s in shapes)
            out[f"{side}_features" if flat else f"{side}_channels"] = [s[0] if s else None for s in shapes]
        return out

    # -- writing calls --------------------------------------------------------------------------------------------

    def class_column(self, cls: BlockClass) -> ColumnWriter:
        """Writes a column of ``cls``'s body: its expression, or nothing where the layer's default gives it."""
        sig = self.signature_of(cls)

        def write(path: Path, call: Call, name: str) -> Expr | None:
            expr = sig.exprs.get(path)
            if expr is None or not expr.literal or name not in call.defaults:
                return expr
            leave_out = path in sig.droppable or isinstance(call.callee, BlockClass)
            return None if leave_out and same(expr.value, call.defaults[name]) else expr

        return write

    def render(self, call: Call, path: Path, column: ColumnWriter) -> str:
        """A call as source, e.g. ``nn.Conv2d(in_channels, 64, kernel_size=3, stride=stride)``."""
        if call.callee in (SEQUENTIAL, MODULE_LIST, MODULE_DICT):
            return _container(call, [(n, self.render(c, (*path, n), column)) for n, c in call.items])
        parts: list[str] = []
        by_keyword = False
        for name in call.order:
            expr = column((*path, name), call, name)
            if expr is None:
                continue
            if name in call.defaults or by_keyword or name in BY_KEYWORD:
                by_keyword = True
                parts.append(f"{name}={expr.text}")
            else:
                parts.append(expr.text)
        callee = call.callee.name if isinstance(call.callee, BlockClass) else str(call.callee)
        return f"{callee}({', '.join(parts)})"


def value_column(path: Path, call: Call, name: str) -> Expr | None:
    """Writes the value a call was given (a class argument equal to its default is left out)."""
    if name not in call.args:
        return None
    value = call.args[name]
    if isinstance(call.callee, BlockClass) and name in call.defaults and same(value, call.defaults[name]):
        return None
    return Expr(py(value), value)


def _container(call: Call, items: list[tuple[str, str]]) -> str:
    if call.callee == MODULE_DICT:
        return "nn.ModuleDict({" + ", ".join(f"{py(n)}: {text}" for n, text in items) + "})"
    texts = _repeats([text for _, text in items])
    return (
        f"nn.ModuleList([{', '.join(texts)}])" if call.callee == MODULE_LIST else f"nn.Sequential({', '.join(texts)})"
    )


def _repeats(texts: list[str]) -> list[str]:
    """Three or more equal calls in a row as one ``*(call for _ in range(n))``."""
    out: list[str] = []
    i = 0
    while i < len(texts):
        j = i
        while j < len(texts) and texts[j] == texts[i]:
            j += 1
        out += [f"*({texts[i]} for _ in range({j - i}))"] if j - i >= 3 else texts[i:j]
        i = j
    return out


def _affine(row: list[Any]) -> bool:
    if len(row) < 2 or not all(type(v) is int for v in row):
        return False
    return all(b - a == row[1] - row[0] for a, b in zip(row, row[1:]))


def _plural(stem: str) -> str:
    """The run's count is ``num_<last word>s``: ``denselayer`` gives ``num_layers``."""
    words = re.findall(r"[A-Z][a-z0-9]*", camel(stem))
    return (words[-1].lower() if words else "layer") + "s"


def _add_flags(sig: Signature, cls: BlockClass) -> dict[int, str]:
    """One ``bool`` argument per optional step; steps of the same kind (a child's call, an operation) present in the
    same instances share one. A child's flag is named after it, an operation's ``use_<operation>``."""
    out: dict[int, str] = {}
    taken = {p.name for p in sig.params} | {c.name for c in cls.base.children}
    for index in sorted(cls.optional):
        step = cls.base.steps[index]
        kind = "?call" if step.node_id is None else "?op"
        values = [index in cls.present[u.path] for u in cls.instances]
        found = next((p for p in sig.params if p.key == kind and p.values == values), None)
        if found is None:
            free = step.node_id is None and step.via not in {p.name for p in sig.params}
            name = step.via if free else python_name("use_" + cls.base.relative(step.node_id or step.via), taken)
            found = Param(name, values, kind, False)
            taken.add(found.name)
            sig.params.append(found)
        out[index] = found.name
    return out
