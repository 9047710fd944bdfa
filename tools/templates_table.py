"""Print the README's templates table: every template's size as the designer counts it, and what its recipe learns.

Usage: python tools/templates_table.py [--check README.md]
With --check, exit 1 if the README does not contain the table as printed (tests/test_templates_classics.py runs it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from designer.analysis.validate import analyze
from designer.blocks.recipes import RECIPES
from designer.editing.templates import list_templates, load_template

HEADER = (
    "| Template | Design | Input | Parameters | Mult-adds | Learns on the built-in data (2-core CPU) |\n"
    "|---|---|---|---:|---:|---|"
)


def learns(name: str) -> str:
    """The recipe's stated figure, as ``bench/bench_templates.py`` checks it."""
    recipe = RECIPES.get(name)
    if recipe is None:
        return "needs a GPU (transfer: freeze all but the classifier)"
    if recipe.goal is None:
        return recipe.note
    epochs = recipe.training.get("epochs", 5)
    data = recipe.training.get("data", "shapes")
    on = "" if data == "shapes" else f" on `{data}`"
    what = {"val_acc": "", "val_miou": " mean IoU", "val_map50": " mAP@0.5"}.get(recipe.metric, f" {recipe.metric}")
    return f">= {recipe.goal:.0%}{what} in {epochs} epoch{'s' if epochs > 1 else ''}{on}".replace("%", " %")


def row(name: str, title: str) -> str:
    graph = load_template(name)
    analysis = analyze(graph)
    shape = "x".join(str(d) for d in graph[graph.input_ids()[0]].params["shape"])
    params = f"{analysis.total_params:,}"
    if analysis.trainable_params != analysis.total_params:
        params += f" ({analysis.trainable_params:,} trainable)"
    return f"| `{name}` | {title} | {shape} | {params} | {analysis.total_mult_adds:,} | {learns(name)} |"


def table() -> str:
    return "\n".join([HEADER, *(row(info.name, info.title) for info in list_templates())])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", type=Path, metavar="README", help="only check that README holds the table")
    args = parser.parse_args(argv)
    text = table()
    if args.check is None:
        print(text)
        return 0
    if text in args.check.read_text(encoding="utf-8"):
        return 0
    print(f"{args.check}: the templates table is out of date; run python tools/templates_table.py", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
