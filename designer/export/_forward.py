"""Forward methods: one line per step, each value named after its node (relative to the class), with the output
shape as a comment where the code builds one module only."""

from __future__ import annotations

import keyword
from collections.abc import Iterable

from torch import fx

from ..compiler import python_name
from ..layers.registry import fmt_shape
from ..model.graph import NodeId
from ._expr import Expressions
from ._layout import fit
from ._model import Model
from ._share import ITEMS
from ._tree import MDICT, MLIST, SEQ, Step, Unit

BODY = " " * 8


def safe_name(name: str) -> bool:
    """A child name usable as ``self.<name>``."""
    return name.isidentifier() and not keyword.iskeyword(name)


def access(model: Model, scope: Unit, path: str) -> str:
    """The expression for a module below ``scope``: ``self.layer1[0].conv1``, ``self.blocks["3"]``."""
    expr, unit = "self", scope
    for name in path.split(".") if path else []:
        cls = model.classes.get(unit.path)
        if unit.kind in (MLIST, SEQ) or (cls is not None and cls.form == ITEMS and unit is not scope):
            expr += f"[{name}]"
        elif unit.kind == MDICT:
            expr += f'["{name}"]'
        elif safe_name(name):
            expr += f".{name}"
        else:
            expr = f'getattr({expr}, "{name}")'
        unit = unit.child(name)
    return expr


def used_values(steps: Iterable[Step], returned: Iterable[NodeId]) -> set[NodeId]:
    """The values a forward reads again: step inputs and what it returns."""
    return {x for s in steps for x in s.inputs} | set(returned)


class ForwardWriter:
    """Writes a scope's steps, naming each value once."""

    def __init__(self, model: Model, scope: Unit, args: dict[NodeId, str], comments: bool, used: set[NodeId]):
        self.model, self.scope, self.comments, self.used = model, scope, comments, used
        self.var: dict[NodeId, str] = dict(args)
        self.names: dict[fx.Node, str] = {}
        for node_id, name in args.items():
            self.names.setdefault(model.env[node_id], name)
        self.taken = set(args.values())

    def steps(
        self, steps: Iterable[Step], optional: dict[int, tuple[int, str]] | None = None, indent: str = BODY
    ) -> list[str]:
        """Lines for ``steps``; ``optional`` maps a step's index to (the input used in its place, the flag or
        child that says whether it runs)."""
        lines: list[str] = []
        for index, step in enumerate(steps):
            lines += self.step(step, (optional or {}).get(index), indent)
        return lines

    def step(self, step: Step, optional: tuple[int, str] | None = None, indent: str = BODY) -> list[str]:
        """One step as ``name = expression  # shape``."""
        value = self._value(step)
        if optional is not None:
            pos, flag = optional
            instead = self.var[step.inputs[pos]]
            value = (
                f"{value} if self.{flag} else {instead}"
                if step.unit is None
                else (f"{instead} if self.{flag} is None else {value}")
            )
        comment = ", ".join(self._shape(out) for out in step.outputs) if self.comments else ""
        if not self.used.intersection(step.outputs):  # computed as the compiled design does, but used by nothing
            return fit(value, indent, comment)
        targets = [self._new_name(step, out) for out in step.outputs]
        for out, name in zip(step.outputs, targets):
            self.var[out] = name
            self.names.setdefault(self.model.env[out], name)
        return fit(f"{', '.join(targets)} = {value}", indent, comment)

    def returns(self, node_ids: list[NodeId], indent: str = BODY) -> list[str]:
        """``return a, b``."""
        outs = [self.var[o] for o in node_ids]
        code = "return " + ", ".join(outs)
        return fit(code if len(indent + code) <= 120 else f"return ({', '.join(outs)})", indent)

    def _value(self, step: Step) -> str:
        if step.unit is None:
            assert step.node_id is not None
            return Expressions(self.names).value(self.model.op_node(step.node_id))
        args = ", ".join(self.var[x] for x in step.inputs)
        return f"{access(self.model, self.scope, step.via)}({args})"

    def _new_name(self, step: Step, out: NodeId) -> str:
        single = step.node_id is None and step.unit is not None and len(step.outputs) == 1
        name = python_name(step.via if single else self.scope.relative(out), self.taken)
        self.taken.add(name)
        return name

    def _shape(self, node_id: NodeId) -> str:
        return shape_text(self.model.analysis.shape(node_id))


def shape_text(shape: tuple[int, ...] | None) -> str:
    """``[N, 64, 56, 56]``: a value's shape with its batch."""
    if shape is None:
        return "[N, ...]"
    return "[N, " + fmt_shape(shape)[1:] if shape else "[N]"
