"""Export a design as a standalone Python file that imports only torch and reads like torchvision's model code.

Groups of the same structure share one class (``BasicBlock``-like blocks, DenseNet's layers and blocks) whose
``__init__`` takes what differs between them; numbered groups that run one after the other are an
``nn.Sequential``; the model class builds them and its forward has one line per step. The ``state_dict`` keys are
the compiled module's (``<node id>.<tensor>``), so trained weights load into it with ``strict=True``.
"""

from __future__ import annotations

import inspect
import os
import textwrap

from ..analysis.collector import collector_paused
from ..analysis.validate import Analysis
from ..compiler import LOAD_HOOK, RESERVED_NAMES, argument_names, class_name
from ..model.fileformat import write_atomic
from ..model.graph import Graph, NodeId, ref_node
from ._blocks import block_class, body_lines
from ._calls import is_own_layer
from ._common import checked_analysis
from ._forward import BODY, ForwardWriter, access, shape_text, used_values
from ._layout import WIDTH, fit
from ._model import Model, value_column
from ._naming import name_classes
from ._tree import LAYER, Step, Unit


def export_python(graph: Graph, path: str | os.PathLike[str], analysis: Analysis | None = None) -> str:
    """Write the design as Python source to ``path`` (atomically); return the source."""
    source = python_source(graph, analysis)
    write_atomic(path, source.encode("utf-8"))
    return source


def python_source(graph: Graph, analysis: Analysis | None = None) -> str:
    """The design as the text of a Python module: its block classes, then the model class.

    Raises:
        CompileError: the design has errors.
        ExportError: a layer has no plain ``torch.nn`` constructor to write.
    """
    with collector_paused():
        return _python_source(graph, checked_analysis(graph, analysis))


def _python_source(graph: Graph, analysis: Analysis) -> str:
    model = Model(analysis)
    own = _own_layer_classes(model)
    name = class_name(graph.name)
    while name in own:  # a design named "layer scale" must not replace the LayerScale it uses
        name += "Model"
    name_classes(model.written_classes(), {name, *own, *RESERVED_NAMES}, lambda n: analysis.graph[n].type)
    lines = [*_module_doc(graph, analysis, name), "", "import torch", "from torch import nn"]
    for source in own.values():
        lines += ["", "", *source.rstrip().splitlines()]
    for cls in model.written_classes():
        lines += ["", "", *block_class(model, cls)]
    lines += ["", "", *_model_class(model, graph, name)]
    return "\n".join(lines) + "\n"


def _own_layer_classes(model: Model) -> dict[str, str]:
    """The source of each ``designer.modules`` class the design uses, by name, in the order first used."""
    return {n: inspect.getsource(cls) for n, cls in _own_classes(model).items()}


def _own_classes(model: Model) -> dict[str, type]:
    return {type(m).__name__: type(m) for m in model.modules.values() if is_own_layer(type(m))}


def _hook_lines(model: Model) -> list[str]:
    """The model's registration of each own layer class's hook (``compiler.LOAD_HOOK``), so that what loads into
    the compiled design loads into the exported one, with ``strict=True``."""
    hooked = [name for name, cls in _own_classes(model).items() if hasattr(cls, LOAD_HOOK)]
    if not hooked:
        return []
    lines = [BODY + "# Checkpoints of torchvision and timm name some tensors otherwise (see each hook): they load too."]
    return lines + [BODY + f"self.register_load_state_dict_pre_hook({name}.{LOAD_HOOK})" for name in hooked]


def aux_outputs(graph: Graph) -> list[NodeId]:
    """Outputs that only training uses: those under a top-level group named ``aux...`` (torchvision's ``aux1``,
    ``aux2``, ``AuxLogits``), as long as another output remains."""
    outs = graph.output_ids()
    aux = [o for o in outs if o.split(".")[0].lower().startswith("aux")]
    return aux if len(aux) < len(set(outs)) else []


def _module_doc(graph: Graph, analysis: Analysis, name: str) -> list[str]:
    title = f'"""{name}: exported by CNN Designer from the design {_quote(graph.name)}.'
    aux = aux_outputs(graph)
    main = [o for o in graph.output_ids() if o not in aux]
    ins = ", ".join(f"{i} {shape_text(analysis.shape(i))}" for i in graph.input_ids())
    outs = ", ".join(f"{o} {shape_text(analysis.shape(o))}" for o in main)
    io = f"Inputs: {ins}. Outputs: {outs} (N is the batch)."
    if aux:
        io += " In training mode also " + ", ".join(f"{o} {shape_text(analysis.shape(o))}" for o in aux) + "."
    return [
        *textwrap.wrap(title, WIDTH, break_long_words=False, break_on_hyphens=False),
        "",
        *textwrap.wrap(io, WIDTH - 4),
        "The state_dict keys are the design's node ids, so a designer checkpoint's weights load with",
        '``model.load_state_dict(torch.load(path, weights_only=True)["state_dict"])``.',
        '"""',
    ]


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _class_doc(graph: Graph) -> list[str]:
    """The class docstring: the design's description (or a stock line), wrapped to the line width."""
    desc = graph.extra.get("description")
    text = desc if isinstance(desc, str) and desc.strip() else f"The {graph.name} network."
    text = " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"')
    lines = textwrap.wrap(f'"""{text}"""', WIDTH - 4, break_long_words=False, break_on_hyphens=False)
    if len(lines) > 1:  # a long docstring closes on a line of its own
        lines[-1:] = [lines[-1][:-3], '"""']
    return ["    " + line for line in lines]


def _model_class(model: Model, graph: Graph, name: str) -> list[str]:
    root = model.tree.root
    lines = [f"class {name}(nn.Module):", *_class_doc(graph), "", "    def __init__(self) -> None:"]
    lines += [BODY + "super().__init__()"]
    lines += body_lines(model, root, value_column)
    lines += _frozen_lines(model, root)
    lines += _hook_lines(model)
    return lines + ["", *_forward(model, graph)]


def _frozen_lines(model: Model, root: Unit) -> list[str]:
    """``requires_grad_(False)`` on each largest part of the model whose weights are all frozen."""
    paths: list[str] = []

    def visit(unit: Unit) -> None:
        if unit is not root and _frozen(model, unit):
            paths.append(unit.path)
        else:
            for child in unit.children:
                visit(child)

    visit(root)
    if not paths:
        return []
    lines = [BODY + "# Frozen in the design: these weights are not trained."]
    return lines + [line for p in paths for line in fit(f"{access(model, root, p)}.requires_grad_(False)", BODY)]


def _frozen(model: Model, unit: Unit) -> bool:
    """Every layer with weights below ``unit`` is frozen, and there is one."""
    layers = [u for u in unit.walk() if u.kind == LAYER and any(True for _ in model.modules[u.path].parameters())]
    return bool(layers) and all(model.analysis.graph[u.path].frozen for u in layers)


def _forward(model: Model, graph: Graph) -> list[str]:
    """The model's forward; auxiliary outputs are computed and returned in training mode only."""
    args = argument_names(graph)
    aux = aux_outputs(graph)
    main = [o for o in graph.output_ids() if o not in aux]
    steps = model.tree.root.steps
    needed = _needed(model, main)
    head = [s for s in steps if not aux or any(o in needed for o in s.outputs)]
    writer = ForwardWriter(model, model.tree.root, args, True, used_values(steps, graph.output_ids()))
    params = "".join(f", {a}: torch.Tensor" for a in args.values())
    lines = fit(f"def forward(self{params}) -> {_returns(len(main), len(graph.output_ids()) if aux else 0)}:", "    ")
    lines += writer.steps(head)
    if aux:
        lines += [BODY + "if self.training:"]
        tail: list[Step] = [s for s in steps if s not in head]
        lines += writer.steps(tail, indent=BODY + "    ")
        lines += writer.returns(graph.output_ids(), BODY + "    ")
    return lines + writer.returns(main)


def _returns(n_main: int, n_all: int) -> str:
    def tensors(n: int) -> str:
        if n == 1:
            return "torch.Tensor"
        return f"tuple[{', '.join(['torch.Tensor'] * n)}]" if n <= 4 else "tuple[torch.Tensor, ...]"

    return tensors(n_main) if not n_all else f"{tensors(n_main)} | {tensors(n_all)}"


def _needed(model: Model, outputs: list[NodeId]) -> set[NodeId]:
    """The outputs and every value they are computed from."""
    graph = model.analysis.graph
    seen: set[NodeId] = set()
    stack = list(outputs)
    while stack:
        value = stack.pop()
        if value not in seen:
            seen.add(value)
            stack.extend(graph[ref_node(value)].inputs)
    return seen
