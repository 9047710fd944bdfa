"""Import a torch ``nn.Module`` by tracing it with torch.fx: leaf modules become layer nodes named by their module
path, the functions between them (``+``, ``torch.cat``, ``torch.flatten``, ``F.relu``, ...) become graph nodes.
``fx_leaves`` says which modules stay whole, ``fx_mapper`` turns the traced graph into a design."""

from __future__ import annotations

import importlib

import torch
from torch import fx, nn

from . import ImportResult, ModelImportError
from .fx_leaves import LeafTracer
from .fx_mapper import FxMapper

#: Input sizes other than 224 x 224 that torchvision models need by default.
_TORCHVISION_SIZES = {"inception_v3": [3, 299, 299]}
_DEFAULT_SHAPE = [3, 224, 224]


def load_torch_source(kind: str, rest: str, weights: str | None) -> nn.Module:
    """Build the model named by a ``torchvision:``, ``timm:`` or ``module:`` source and load local weights into it."""
    loaders = {"torchvision": _torchvision_model, "timm": _timm_model}
    model = loaders.get(kind, _factory_model)(rest)
    if weights:
        from ..export.checkpoint import read_checkpoint

        missing, unexpected = model.load_state_dict(read_checkpoint(weights).state_dict, strict=False)
        if missing or unexpected:
            raise ModelImportError(
                f"weights {weights} do not fit the model",
                [f"missing: {k}" for k in missing] + [f"unexpected: {k}" for k in unexpected],
            )
    return model.eval()


def default_input_shape(kind: str, rest: str, model: nn.Module) -> list[int]:
    """The sample shape a source is imported at when none is given: the model's own (299 for Inception v3)."""
    if kind == "timm":
        size = getattr(model, "pretrained_cfg", {}).get("input_size")
        return list(size) if size else list(_DEFAULT_SHAPE)
    return list(_TORCHVISION_SIZES.get(rest, _DEFAULT_SHAPE)) if kind == "torchvision" else list(_DEFAULT_SHAPE)


def _torchvision_model(name: str) -> nn.Module:
    import torchvision

    try:
        model: nn.Module = torchvision.models.get_model(name, weights=None)
    except (ValueError, KeyError):
        raise ModelImportError(f"torchvision has no model {name!r}") from None
    return model


def _timm_model(name: str) -> nn.Module:
    try:
        import timm
    except ImportError:
        raise ModelImportError("timm is not installed: pip install 'cnn-designer[timm]'") from None
    try:
        model: nn.Module = timm.create_model(name, pretrained=False)
    except RuntimeError:  # timm's "Unknown model"
        raise ModelImportError(f"timm has no model {name!r}") from None
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
    traced = _trace(model, torch.randn(2, *input_shape, generator=torch.Generator().manual_seed(0)))
    _propagate_shapes(traced, input_shape)
    mapper = FxMapper(traced, input_shape, type(model).__name__)
    graph = mapper.run(name)
    state = _renamed({k: v.detach().clone() for k, v in model.state_dict().items()}, mapper.renames, mapper.keys)
    result = ImportResult(graph, state)
    _check_parity(result, model.eval(), input_shape)
    if any(n.frozen for n in graph):
        result.notes.append(f"{sum(n.frozen for n in graph)} layers with untrained parameters imported as frozen")
    return result


def _trace(model: nn.Module, example: torch.Tensor) -> fx.GraphModule:
    failures: list[str] = []
    for training in (True, False):
        tracer = LeafTracer(example)
        try:
            graph = tracer.trace(model.train(training))
            return fx.GraphModule(tracer.root, graph, type(model).__name__)
        except Exception as exc:
            path, cls = tracer.failed_in or ("", type(model).__name__)
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            where = f"'{path}'" if path else "the top level"
            failures.append(
                f"{cls} at {where}: torch.fx cannot follow its forward ({reason}); keep its forward free of "
                "branches on tensor values, or import the modules inside it"
            )
        finally:
            model.eval()
    raise ModelImportError(f"torch.fx cannot trace {type(model).__name__}", failures[-1:])


def _propagate_shapes(traced: fx.GraphModule, input_shape: list[int]) -> None:
    """Record each fx node's output shape (``tensor_meta``): reshapes are mapped from the shapes they give."""
    from torch.fx.passes.shape_prop import ShapeProp

    x = torch.zeros(2, *input_shape)
    training = traced.training
    try:
        with torch.no_grad():
            ShapeProp(traced.eval()).propagate(x)
    except Exception as exc:
        raise ModelImportError(
            f"the model does not run on a [N, {', '.join(map(str, input_shape))}] input: "
            f"{(str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]}",
            ["give the input size the model expects with --input-shape (e.g. 3,299,299 for Inception v3)"],
        ) from None
    finally:
        traced.train(training)


def _renamed(
    state: dict[str, torch.Tensor], renames: dict[str, str], keys: dict[str, tuple[str, tuple[int, ...]]]
) -> dict[str, torch.Tensor]:
    """State keys of modules that became nodes under another id (``bn1.act`` -> ``bn1_act``), moved there; tensor
    attributes held by a node (``layer_scale`` -> ``layer_scale.weight``) moved and shaped as the node holds them."""
    out = {}
    for key, value in state.items():
        if key in keys:
            new_key, shape = keys[key]
            out[new_key] = value.reshape(shape)
            continue
        parts = key.split(".")
        for k in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:k])
            if prefix in renames:
                key = ".".join([renames[prefix], *parts[k:]])
                break
        out[key] = value
    return out


def _check_parity(result: ImportResult, model: nn.Module, input_shape: list[int]) -> None:
    from ..compiler import CompileError, compile_graph

    try:
        design = compile_graph(result.graph).eval()
    except CompileError as exc:
        lines = [str(d) for d in exc.diagnostics if d.is_error]
        more = [f"... and {len(lines) - 8} more"] if len(lines) > 9 else []
        raise ModelImportError("the imported design does not validate", lines[: 8 if more else 9] + more) from None
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
        raise ModelImportError(
            "the imported design does not reproduce the model's outputs",
            ["a module's forward does more than its layers show; import the modules inside it instead"],
        )
    worst = max(float((a - b).abs().max()) for a, b in zip(want, got))
    result.notes.append(f"outputs match the model within {worst:.1e}")
    if len(got) > len(want):
        extra = ", ".join(result.graph.output_ids()[len(want) :])
        result.notes.append(f"outputs used only in training kept as extra outputs: {extra}")
