"""What a torch.fx import cannot map, gathered as one line per construct: the operation, the module class and path
it sits in, and what to do. Repeats of one construct (the same call in every block) share a line."""

from __future__ import annotations

from dataclasses import dataclass

#: Lines a refusal may hold after its headline: the whole refusal stays within ten lines.
MAX_LINES = 9


@dataclass(frozen=True)
class Problem:
    """One construct with no design equivalent."""

    what: str  # the torch operation: "torch.cumsum", "Tensor.unfold", "module torch.nn.LSTM"
    owner: str  # the class of the module it is in (or is): "ResNet", "BatchNormAct2d"
    path: str  # that module's path in the model; "" at the top level
    fix: str  # what the user can do about it


class Problems:
    """The problems met while mapping, in the order met."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, what: str, owner: str, path: str, fix: str) -> None:
        self.items.append(Problem(what, owner, path, fix))

    def __bool__(self) -> bool:
        return bool(self.items)

    def headline(self) -> str:
        n = len(self.lines(limit=None))
        kinds = "construct has" if n == 1 else "constructs have"
        return f"{n} {kinds} no designer equivalent"

    def lines(self, limit: int | None = MAX_LINES) -> list[str]:
        groups: dict[tuple[str, str, str], list[str]] = {}
        for p in self.items:
            groups.setdefault((p.what, p.owner, p.fix), []).append(p.path)
        lines = []
        for (what, owner, fix), paths in groups.items():
            where = f"'{paths[0]}'" if paths[0] else "the top level"
            more = f" (and {len(paths) - 1} more like it)" if len(paths) > 1 else ""
            lines.append(f"{what} in {owner} at {where}{more}: {fix}")
        if limit is not None and len(lines) > limit:
            lines = [*lines[: limit - 1], f"... and {len(lines) - limit + 1} more constructs"]
        return lines
