"""The block classes of a Python export, written as torchvision writes its blocks::

class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, downsample: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        ...
        self.downsample = nn.Sequential(...) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ...
"""

from __future__ import annotations

from typing import Any

from ._calls import Call, py, same
from ._forward import BODY, ForwardWriter, safe_name, used_values
from ._layout import WIDTH, fit
from ._model import ColumnWriter, Model
from ._params import NO_DEFAULT, WILD, Expr, Param, Path, Signature
from ._share import HOLDER, ITEMS, MODULE, RUN, BlockClass
from ._tree import Unit


def block_class(model: Model, cls: BlockClass) -> list[str]:
    """The source of one shared class."""
    sig = model.signature_of(cls)
    base = "nn.Module" if cls.form in (MODULE, HOLDER) else "nn.Sequential"
    lines = [f"class {cls.name}({base}):", f'    """{_summary(cls)}"""', ""]
    params = "".join(f", {_param_text(p)}" for p in sig.ordered())
    lines += fit(f"def __init__(self{params}) -> None:", "    ")
    column = model.class_column(cls)
    if cls.form == ITEMS:
        items = [model.render(model.call_of(c), (c.name,), column) for c in cls.base.children]
        return lines + fit(f"super().__init__({', '.join(items)})", BODY)
    lines.append(BODY + "super().__init__()")
    if cls.form == RUN:
        return lines + _run_loop(model, cls, sig)
    flags = model.flags.get(id(cls), {})
    steps = cls.base.steps
    children = {steps[i].via: flags[i] for i in cls.optional if steps[i].node_id is None}
    lines += body_lines(model, cls.base, column, children)
    lines += [BODY + f"self.{flags[i]} = {flags[i]}" for i in sorted(cls.optional) if steps[i].node_id is not None]
    return lines + (["", *_forward(model, cls, flags)] if cls.form == MODULE else [])


def body_lines(model: Model, unit: Unit, column: ColumnWriter, optional: dict[str, str] | None = None) -> list[str]:
    """``self.<child> = <call>`` for each child; an optional child is built only when its flag is set."""
    lines: list[str] = []
    for child in unit.children:
        value = model.render(model.call_of(child), (child.name,), column)
        flag = (optional or {}).get(child.name)
        one_line = _assign(child.name, value if flag is None else f"{value} if {flag} else None")
        if flag is None or len(BODY + one_line) <= WIDTH:
            lines += fit(one_line, BODY)
        else:  # left None unless the flag asks for it, as torchvision's blocks do with downsample
            lines += [BODY + _assign(child.name, "None"), BODY + f"if {flag}:"]
            lines += fit(_assign(child.name, value), BODY + "    ")
    return lines


def _assign(name: str, value: str) -> str:
    return f"self.{name} = {value}" if safe_name(name) else f"self.add_module({py(name)}, {value})"


def _forward(model: Model, cls: BlockClass, flags: dict[int, str]) -> list[str]:
    base = cls.base
    names = ["x"] if len(base.inputs) == 1 else [f"x{k + 1}" for k in range(len(base.inputs))]
    used = used_values(base.steps, base.outputs)
    writer = ForwardWriter(model, base, dict(zip(base.inputs, names)), len(cls.instances) == 1, used)
    steps = base.steps
    optional = {i: (pos, steps[i].via if steps[i].node_id is None else flags[i]) for i, pos in cls.optional.items()}
    n_out = len(base.outputs)
    result = "torch.Tensor" if n_out == 1 else f"tuple[{', '.join(['torch.Tensor'] * n_out)}]"
    lines = fit(f"def forward(self, {', '.join(f'{n}: torch.Tensor' for n in names)}) -> {result}:", "    ")
    return lines + writer.steps(steps, optional) + writer.returns(base.outputs)


def _run_loop(model: Model, cls: BlockClass, sig: Signature) -> list[str]:
    """``for i in range(num_layers): self.add_module(f"denselayer{i + 1}", DenseLayer(in_channels + i * 32))``."""
    loop = "i" if "i" not in {p.name for p in sig.params} else "index"
    count = next(iter(sig.exprs.values())).text
    stem, start = cls.run
    name = f'f"{stem}{{{loop}}}"' if start == 0 else f'f"{stem}{{{loop} + {start}}}"'

    def write(path: Path, call: Call, arg: str) -> Expr | None:
        listed, step = sig.exprs.get((arg, "list")), sig.exprs.get((arg, "step"))
        if listed is not None:
            return Expr(f"{listed.text}[{loop}]")
        first = sig.exprs[(arg,)]
        if step is not None:
            times = loop if step.literal and step.value == 1 else f"{loop} * {step.text}"
            return Expr(times if first.literal and first.value == 0 else f"{first.text} + {times}")
        at_default = first.literal and arg in call.defaults and same(first.value, call.defaults[arg])
        return None if at_default else first

    child = model.render(model.call_of(cls.base.children[0]), (), write)
    return [BODY + f"for {loop} in range({count}):", *fit(f"self.add_module({name}, {child})", BODY + "    ")]


def _summary(cls: BlockClass) -> str:
    paths = [u.path for u in cls.instances]
    for shown in range(min(4, len(paths)), 0, -1):
        more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
        text = f"Builds {', '.join(paths[:shown])}{more}."
        if len(text) <= WIDTH - 10 or shown == 1:
            return text
    return "Builds a block."


def _param_text(param: Param) -> str:
    text = f"{param.name}: {_annotation(param)}"
    return text if param.default is NO_DEFAULT else f"{text} = {py(param.default)}"


def _annotation(param: Param) -> str:
    kinds = [_type(v) for v in [*param.values, param.default] if v is not WILD and v is not NO_DEFAULT]
    return " | ".join(dict.fromkeys(kinds)) or "int"


def _type(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, tuple):
        inner = dict.fromkeys(_type(v) for v in value)
        return f"tuple[{next(iter(inner))}, ...]" if len(inner) == 1 else "tuple"
    return type(value).__name__
