"""The stock torch optimisers without importing ``torch._dynamo`` when nothing is compiled.

Every ``torch.optim`` optimiser imports ``torch._dynamo`` (1.7 s on the issue's machine, longer than a small design's
epoch; it pulls in sympy and torch.distributed) the first time it is constructed, zeroes its gradients or steps, only
to mark those methods as not to be traced by ``torch.compile``: ``add_param_group``, ``zero_grad``, ``state_dict``
and ``load_state_dict`` are wrapped by ``torch._disable_dynamo``, which builds the disabled function on the first call
and caches it on the function as ``__dynamo_disable``; ``step`` by a wrapper that imports it to place graph breaks.
While ``torch._dynamo`` is not loaded nothing is being compiled, so the marks change nothing: the plain functions run
instead, which is exactly what the marked ones run outside ``torch.compile``. Once it is loaded (a compiled run), the
stock path is taken. Any change of these torch internals makes both helpers fall back to the stock path.
"""

from __future__ import annotations

import sys
from typing import Any

import torch

#: The ``Optimizer`` methods wrapped by ``torch._disable_dynamo``.
MARKED = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")


def dynamo_loaded() -> bool:
    """Whether ``torch._dynamo`` is imported in this process."""
    return "torch._dynamo" in sys.modules


def unmark_optimizers() -> bool:
    """Let the marked methods run plainly while ``torch._dynamo`` is not loaded; returns whether they will."""
    if dynamo_loaded():
        return False
    for name in MARKED:
        plain = getattr(getattr(torch.optim.Optimizer, name, None), "__wrapped__", None)
        if plain is None:
            return False
        if getattr(plain, "__dynamo_disable", None) is None:
            # torch._compile._disable_dynamo calls what it finds here instead of importing torch._dynamo
            setattr(plain, "__dynamo_disable", plain)
    return True


def step(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.step()``; while ``torch._dynamo`` is not loaded, without the wrapper that imports it."""
    plain = _plain_step(optimizer)
    if plain is None:
        optimizer.step()
        return
    with torch.set_grad_enabled(bool(optimizer.defaults.get("differentiable", False))):
        plain(optimizer)
    # What an LR scheduler's wrapper around ``optimizer.step`` records; it warns about the order of steps without it.
    optimizer._opt_called = True  # type: ignore[attr-defined]  # noqa: SLF001


def _plain_step(optimizer: torch.optim.Optimizer) -> Any:
    """The optimiser's own step under torch's two wrappers (profiling and hooks, then grad mode and graph breaks),
    or None where the stock path must run: dynamo loaded, step hooks registered, or wrappers not as expected."""
    from torch.optim import optimizer as module

    hooks = (
        module._global_optimizer_pre_hooks,  # noqa: SLF001 - a hook must see every step: then the stock path
        module._global_optimizer_post_hooks,  # noqa: SLF001
        optimizer._optimizer_step_pre_hooks,  # noqa: SLF001
        optimizer._optimizer_step_post_hooks,  # noqa: SLF001
    )
    if dynamo_loaded() or any(hooks):
        return None
    hooked = type(optimizer).step
    use_grad = getattr(hooked, "__wrapped__", None) if getattr(hooked, "hooked", False) else None
    if use_grad is None or getattr(use_grad, "__code__", None) is None or use_grad.__code__.co_name != "_use_grad":
        return None
    return getattr(use_grad, "__wrapped__", None)
