"""Does every template learn with its own training section? Train each on the built-in data and compare with its goal.

For each template with a recipe (designer/blocks/recipes.py) it runs the template's file as a user would press Start,
and prints the best validation accuracy against the recipe's goal and against chance (the baseline: what a design
that learned nothing scores). Templates whose recipe says they need a GPU get two timed training steps instead, and
the epoch time those imply on this machine. Exit status 1 when a recipe misses its goal.

    .venv/bin/python bench/bench_templates.py [--only NAME ...] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from designer.blocks.recipes import RECIPES
from designer.editing.templates import list_templates, load_template
from designer.training.api import EpochEnded, Event, Finished, read_section, train
from designer.training.task_data import parse_task_spec


def learn(name: str, runs: Path) -> tuple[float, float, int, int]:
    """Train the template with its own section: (best validation headline metric: accuracy, or mean IoU for
    segmentation; seconds, epochs, classes)."""
    graph = load_template(name)
    config = read_section(graph)
    best: list[float] = []

    def on_event(event: Event) -> None:
        if isinstance(event, EpochEnded) and event.headline in event.metrics:
            best.append(event.metrics[event.headline])

    t0 = time.perf_counter()
    end = train(graph, config, runs_root=runs, on_event=on_event)
    seconds = time.perf_counter() - t0
    if not isinstance(end, Finished) or not best:
        raise SystemExit(f"{name}: the run did not finish: {end}")
    return max(best), seconds, config.epochs, parse_task_spec(config.data).shape_classes


def epoch_estimate(name: str, samples: int = 10_000, batch: int = 4) -> float:
    """Seconds one epoch of ``samples`` images would take here, from two timed SGD steps (after one warm-up)."""
    from designer.compiler import compile_graph

    graph = load_template(name)
    model = compile_graph(graph, seed=0)
    shape = tuple(graph[graph.input_ids()[0]].params["shape"])
    x = torch.randn(batch, *shape)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        out = model(x)
        out = out[0] if isinstance(out, tuple) else out
        out.float().logsumexp(1).mean().backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t0)
    return min(times[1:]) * samples / batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="template names (default: all)")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = args.only or [info.name for info in list_templates()]
    print(f"torch {torch.__version__}, {args.threads} thread(s); the built-in shapes data; chance = 1 / classes")
    missed = []
    with tempfile.TemporaryDirectory() as runs:
        for name in names:
            recipe = RECIPES.get(name)
            if recipe is not None and recipe.goal is not None:
                acc, seconds, epochs, classes = learn(name, Path(runs))
                ok = acc >= recipe.goal
                missed += [] if ok else [name]
                # Mean IoU has no such chance level: predicting the background everywhere scores its share alone.
                chance = f"{acc * classes:.1f}x chance" if recipe.metric == "val_acc" else recipe.metric
                print(
                    f"{name:20s} {acc:6.1%} in {epochs} epoch(s), {seconds:5.0f} s; goal {recipe.goal:.0%} "
                    f"{'met' if ok else 'MISSED'}; {chance}"
                )
            elif recipe is not None and recipe.training and name in (args.only or ()):
                # a recipe still without a goal, asked for by name: measure what it reaches (validation accuracy,
                # or the task's first metric: mAP@0.5 for detection)
                acc, seconds, epochs, _ = learn(name, Path(runs))
                print(f"{name:20s} {acc:6.1%} in {epochs} epoch(s), {seconds:5.0f} s; no goal yet ({recipe.note})")
            elif recipe is not None and recipe.note:
                print(f"{name:20s} {recipe.note}")
            else:
                hours = epoch_estimate(name) / 3600
                print(f"{name:20s} needs a GPU: one epoch of 10,000 images takes ~{hours:.1f} h on this CPU")
    if missed:
        print("missed their goal: " + ", ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
