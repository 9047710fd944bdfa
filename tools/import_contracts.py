"""An import-linter contract for "never imports X when imported": lazy imports inside functions are allowed.

The core may use torch in a function body (a layer's builder, the compiler), but importing ``designer.analysis`` must
not load torch, so that ``validate`` and ``summary`` start in milliseconds. import-linter's own ``forbidden`` contract
counts every import statement wherever it sits; this one first drops the imports made only inside a function (or under
``if TYPE_CHECKING:``, which the configuration already excludes), then checks exactly as ``forbidden`` does.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import cache

import grimp
from importlinter import ContractCheck
from importlinter.contracts.forbidden import ForbiddenContract


@cache
def _eager_import_lines(module: str) -> frozenset[int]:
    """Line numbers of the import statements that run when ``module`` is imported (not those in a function)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return frozenset()
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    lines: set[int] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                lines.add(child.lineno)
            pending.append(child)
    return frozenset(lines)


class EagerForbiddenContract(ForbiddenContract):
    """``forbidden``, counting only the imports that run at import time."""

    type_name = "forbidden_at_import"

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        for importer in sorted(graph.modules):
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                details = graph.get_import_details(importer=importer, imported=imported)
                if details and not any(d["line_number"] in _eager_import_lines(importer) for d in details):
                    graph.remove_import(importer=importer, imported=imported)
        return super().check(graph, verbose)
