"""Which groups share one generated class.

Two groups share a class when they have the same structure: the same children (names, layer types, classes), the
same forward (the same calls and operations on the same values) and the same inputs and outputs. The values the
layers are built with may differ; they become the class's arguments (see ``_params``). A group may also lack a step
that another one has, when the step only transforms a value that is then used in its place (ResNet's
``downsample`` shortcut, MobileNet's residual ``add``): the class then builds that step only when asked to.

A group whose children are ``<stem>1``, ``<stem>2``, ... of one class, run one after the other, is a *run*: its
class builds them in a loop, so DenseNet's blocks of 6, 12, 24 and 16 layers share one class.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ._tree import CLASS, LAYER, SEQ, Step, Tree, Unit

#: How a class is written: an ``nn.Module`` with a forward; an ``nn.Sequential`` of named children (``chain``), of
#: children made in a loop (``run``) or of numbered layers (``items``); or a module whose members the forward
#: above calls one by one (``holder``).
MODULE, CHAIN, RUN, ITEMS, HOLDER = "module", "chain", "run", "items", "holder"

#: Steps one class may leave out: beyond a few, groups differ too much to read as one class.
_MAX_OPTIONAL = 2
_RUN_NAME = re.compile(r"^([A-Za-z_][A-Za-z_]*?)(\d+)$")
_SEQUENTIAL_ATTRS = frozenset(dir(nn.Sequential()))

Body = tuple[Any, ...]


@dataclass(eq=False)
class BlockClass:
    """A generated class and the groups it builds.

    Attributes:
        base: the instance whose forward the class is written from (it has every optional step).
        optional: base step index -> position of the input that stands in for it when the step is left out.
        present: instance path -> the optional steps it has.
        run: a run's child name stem and first number.
        inline: written in place as an ``nn.Sequential(...)`` instead (an ``items`` class used in one place).
    """

    form: str
    instances: list[Unit]
    base: Unit
    optional: dict[int, int] = field(default_factory=dict)
    present: dict[str, frozenset[int]] = field(default_factory=dict)
    run: tuple[str, int] = ("", 0)
    name: str = ""
    inline: bool = False


def share(tree: Tree, op_text: Callable[[Step], str]) -> dict[str, BlockClass]:
    """The class of every group that one builds, by the group's path (the root has none)."""
    candidates = [u for u in _postorder(tree.root) if u is not tree.root and _is_candidate(u)]
    merged: dict[Body, Body] = {}
    while True:
        keys = _class_keys(candidates, op_text, merged)
        bodies: dict[Body, list[Unit]] = {}
        for unit in candidates:
            bodies.setdefault(keys[unit.path], []).append(unit)
        new = _merges(bodies)
        if all(merged.get(k) == v for k, v in new.items()):
            break
        merged |= new
    classes = _classes(candidates, keys, op_text, merged)
    _mark_inline(tree, classes)
    return classes


def _postorder(unit: Unit) -> list[Unit]:
    return [u for child in unit.children for u in _postorder(child)] + [unit]


def _is_candidate(unit: Unit) -> bool:
    return unit.kind == CLASS or (unit.kind == SEQ and all(c.kind == LAYER for c in unit.children))


def _class_keys(candidates: list[Unit], op_text: Callable[[Step], str], merged: dict[Body, Body]) -> dict[str, Body]:
    keys: dict[str, Body] = {}
    for unit in candidates:
        body = _body(unit, lambda c: key_of(c, keys), op_text)
        while body in merged:
            body = merged[body]
        keys[unit.path] = body
    return keys


def key_of(unit: Unit, keys: dict[str, Body]) -> Hashable:
    """What a child contributes to its parent's structure: its class, its layer type or its container's items."""
    if unit.path in keys:
        return keys[unit.path]
    if unit.kind == LAYER:
        return (LAYER, unit.layer_type)
    return (unit.kind, tuple((c.name, key_of(c, keys)) for c in unit.children))


def form_of(unit: Unit, child_key: Callable[[Unit], Hashable]) -> str:
    """How a candidate group's structure is compared: a callable group by its forward (``module``), unless it is a
    run; the class may still be written as a ``chain`` (see ``_final_form``)."""
    if unit.kind == SEQ:
        return ITEMS
    if not unit.callable:
        return HOLDER
    return RUN if unit.chain and run_stem(unit, child_key) else MODULE


def run_stem(unit: Unit, child_key: Callable[[Unit], Hashable]) -> tuple[str, int] | None:
    """(stem, first number) when the children are ``<stem>k, <stem>k+1, ...`` (three or more, from 0 or 1), all
    groups of one class."""
    names = [_RUN_NAME.match(c.name) for c in unit.children]
    if len(names) < 3 or any(m is None for m in names) or unit.children[0].kind != CLASS:
        return None
    stems = {m[1] for m in names if m}
    numbers = [int(m[2]) for m in names if m]
    if len(stems) != 1 or numbers != list(range(numbers[0], numbers[0] + len(numbers))) or numbers[0] > 1:
        return None
    if len({child_key(c) for c in unit.children}) != 1:
        return None
    return stems.pop(), numbers[0]


def _body(unit: Unit, child_key: Callable[[Unit], Hashable], op_text: Callable[[Step], str]) -> Body:
    form = form_of(unit, child_key)
    children = tuple((c.name, child_key(c)) for c in unit.children)
    if form == RUN:
        return (RUN, run_stem(unit, child_key), child_key(unit.children[0]))
    if form != MODULE:
        return (form, children)
    refs: dict[str, tuple[Any, ...]] = {x: ("in", k) for k, x in enumerate(unit.inputs)}
    steps = []
    for j, step in enumerate(unit.steps):
        ins = tuple(refs[x] for x in step.inputs)
        refs |= {out: ("step", j, o) for o, out in enumerate(step.outputs)}
        steps.append((step.via, op_text(step) if step.unit is None else None, ins, len(step.outputs)))
    return (MODULE, len(unit.inputs), children, tuple(steps), tuple(refs[x] for x in unit.outputs))


def _merges(bodies: dict[Body, list[Unit]]) -> dict[Body, Body]:
    """Bodies that are another body less some optional steps, mapped to that body."""
    modules = sorted((b for b in bodies if b[0] == MODULE), key=lambda b: -len(b[3]))
    bases: list[Body] = []
    chosen: dict[Body, dict[int, int]] = {}
    out: dict[Body, Body] = {}
    for body in modules:
        for base in bases:
            removed = align(base, body)
            if removed and all(chosen[base].get(i, p) == p for i, p in removed.items()):
                chosen[base] |= removed
                out[body] = base
                break
        else:
            bases.append(body)
            chosen[body] = {}
    return out


def align(a: Body, b: Body, limit: int = _MAX_OPTIONAL) -> dict[int, int] | None:
    """The steps of ``a`` that ``b`` lacks (index -> position of the input used in its place), when ``b`` is ``a``
    without them; else None."""
    _, n_in, children, steps_a, outs_a = a
    if b[1] != n_in or len(steps_a) <= len(b[3]):
        return None
    calls = [s[0] for s in steps_a if s[1] is None]
    names = {name for name, _ in children}

    def removable(step: tuple[Any, ...]) -> bool:
        via, op, ins, n_out = step
        return n_out == 1 and bool(ins) and (op is not None or (via in names and calls.count(via) == 1))

    def walk(i: int, j: int, refs: dict[Any, Any], removed: dict[int, int]) -> dict[int, int] | None:
        if i == len(steps_a):
            done = j == len(b[3]) and tuple(refs[r] for r in outs_a) == b[4]
            return removed if done else None
        via, op, ins, n_out = steps_a[i]
        mapped = tuple(refs[r] for r in ins)
        if j < len(b[3]) and b[3][j] == (via, op, mapped, n_out):
            found = walk(i + 1, j + 1, refs | {("step", i, o): ("step", j, o) for o in range(n_out)}, removed)
            if found is not None:
                return found
        if len(removed) < limit and removable(steps_a[i]):
            for pos, ref in enumerate(mapped):
                found = walk(i + 1, j, refs | {("step", i, 0): ref}, removed | {i: pos})
                if found is not None:
                    return found
        return None

    removed = walk(0, 0, {("in", k): ("in", k) for k in range(n_in)}, {})
    if not removed:
        return None
    optional = {steps_a[i][0] for i in removed if steps_a[i][1] is None}
    return removed if tuple(c for c in children if c[0] not in optional) == b[2] else None


def _classes(
    candidates: list[Unit], keys: dict[str, Body], op_text: Callable[[Step], str], merged: dict[Body, Body]
) -> dict[str, BlockClass]:
    by_key: dict[Body, BlockClass] = {}
    out: dict[str, BlockClass] = {}
    for unit in candidates:
        key = keys[unit.path]
        cls = by_key.get(key)
        if cls is None:
            cls = by_key[key] = BlockClass(key[0], [], unit, run=key[1] if key[0] == RUN else ("", 0))
        cls.instances.append(unit)
        out[unit.path] = cls
    for key, cls in by_key.items():
        if cls.form == MODULE:
            _settle_optional(cls, key, lambda u: _body(u, lambda c: key_of(c, keys), op_text))
            cls.form = _final_form(cls)
    return out


def _final_form(cls: BlockClass) -> str:
    """A class whose forward only runs its children in order is an ``nn.Sequential`` of them (when no child name
    is one of Sequential's own attributes)."""
    chain = not cls.optional and all(u.chain for u in cls.instances)
    return CHAIN if chain and not _SEQUENTIAL_ATTRS.intersection(c.name for c in cls.base.children) else MODULE


def _settle_optional(cls: BlockClass, key: Body, body_of: Callable[[Unit], Body]) -> None:
    """Pick the instance with every step as the base; note which optional steps each instance has."""
    bodies = {u.path: body_of(u) for u in cls.instances}
    cls.base = next(u for u in cls.instances if bodies[u.path] == key)
    removed: dict[str, dict[int, int]] = {}
    for path, body in bodies.items():
        found = {} if body == key else align(key, body, limit=len(key[3]))
        if found is None or any(cls.optional.get(i, p) != p for i, p in found.items()):
            raise RuntimeError(f"the Python export could not lay out the class of '{path}'")  # a bug, not the design's
        cls.optional |= found
        removed[path] = found
    cls.present = {path: frozenset(set(cls.optional) - set(r)) for path, r in removed.items()}


def _mark_inline(tree: Tree, classes: dict[str, BlockClass]) -> None:
    """An ``items`` class written in one place only reads better as ``nn.Sequential(...)`` there."""
    places: dict[int, int] = {}
    written = [tree.root] + list({id(c): c.base for c in classes.values()}.values())
    for scope in written:
        for child in _direct(scope, classes):
            places[id(classes[child.path])] = places.get(id(classes[child.path]), 0) + 1
    for cls in classes.values():
        cls.inline = cls.form == ITEMS and places.get(id(cls), 0) < 2


def _direct(scope: Unit, classes: dict[str, BlockClass]) -> list[Unit]:
    """The groups with a class that a scope's constructor writes (through containers it writes in place)."""
    out: list[Unit] = []
    children = scope.children[:1] if scope.path in classes and classes[scope.path].form == RUN else scope.children
    for child in children:
        if child.path in classes:
            out.append(child)
        elif child.kind != LAYER:
            out.extend(_direct(child, classes))
    return out
