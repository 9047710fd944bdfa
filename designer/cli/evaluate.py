"""``python -m designer evaluate RUN [--data ...] -o DIR``: judge a trained model on a whole dataset from the shell.

Writes what the Insight dock shows for a dataset: the confusion matrix, per-class precision and recall (CSV and PNG),
the most confident mistakes as an image grid and the embedding projection. The numbers come from
``designer.insight`` (the dock's own functions); the PNGs are written by its numpy-only writer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.diagnostics import DiagnosticsError
from ..model.fileformat import ProjectError
from .common import EXIT_INVALID, EXIT_OK, SubCommands, exit_for, report

if TYPE_CHECKING:
    from .insight import Loaded

#: Pixels per confusion cell at the least, so that a 10-class matrix is readable.
CELL_PX = 24
#: Mistakes are enlarged to about this many pixels a side (small inputs such as 28x28 are unreadable as they are).
MISTAKE_PX = 96


def register(sub: SubCommands) -> None:
    """Add the ``evaluate`` sub-command."""
    p = sub.add_parser(
        "evaluate",
        help="confusion matrix, per-class precision/recall, confident mistakes and embedding of a trained model",
        description="Evaluate a run folder or checkpoint on the run's validation data (or --data) and write "
        "confusion.csv/.png, per_class.csv/.png, mistakes.csv/.png and embedding.csv/.png into DIR.",
    )
    p.add_argument("source", metavar="RUN", help="run folder (its best.pt, else last.pt) or checkpoint")
    p.add_argument("--data", help="dataset to evaluate on (default: the run's): shapes | mnist:ROOT | folder:PATH ...")
    p.add_argument("--split", choices=("val", "train"), default="val", help="which part of the data (val)")
    p.add_argument("--limit", type=int, help="evaluate at most this many samples (default: all)")
    p.add_argument("--top", type=int, default=16, help="most confident mistakes to show (16)")
    p.add_argument("--embedding-samples", type=int, default=1000, help="samples in the projection (1000)")
    p.add_argument("--projection", choices=("pca", "tsne", "auto"), default="pca", help="pca, or t-SNE (sklearn)")
    p.add_argument("--node", help="node whose outputs are projected (default: the penultimate layer)")
    p.add_argument("-o", "--out", required=True, help="folder for the files")
    p.set_defaults(run=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Load the model and its data, evaluate, write the files and print a summary."""
    from ..insight import InsightError
    from ..training.data import DataError
    from .insight import open_model

    try:
        loaded = open_model(args.source)
        data = _dataset(args, loaded)
        written = write_report(args, loaded, data)
    except ProjectError as exc:
        print(f"{args.source}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except DiagnosticsError as exc:  # the stored design has errors: one line per error, as validate prints them
        report(args.source, [d for d in exc.diagnostics if d.is_error])
        return EXIT_INVALID
    except (DataError, InsightError) as exc:
        print(f"{args.source}: {exc}", file=sys.stderr)
        return exit_for(exc.code)
    for line in written:
        print(line)
    return EXIT_OK


def _dataset(args: argparse.Namespace, loaded: Loaded) -> Any:
    """The run's data as it trained on it (its settings and seed), with ``--data`` in place of its dataset."""
    from ..training.config import TrainConfig
    from ..training.data import DataError
    from ..training.engine import load_run_data

    config = TrainConfig.from_dict(_run_config(Path(args.source), loaded), ignored=[])
    config = config.replace(data=args.data)
    shape = tuple(int(v) for v in loaded.graph[loaded.graph.input_ids()[0]].params["shape"])
    bundle = load_run_data(config, shape)
    if not loaded.classes:
        loaded.classes = list(bundle.classes)
    part = bundle.val if args.split == "val" and bundle.val is not None else bundle.train
    if part is None or not len(part):
        raise DataError("data.empty", f"the {args.split} split of {config.data} holds no samples")
    return part


def _run_config(path: Path, loaded: Loaded) -> dict[str, Any]:
    """The settings the run trained with: its config.json, else the checkpoint's, else the design's section."""
    from ..training import runs

    folder = path if path.is_dir() else path.parent
    if (folder / runs.CONFIG).is_file():
        config: dict[str, Any] = runs.read_json(folder / runs.CONFIG)["config"]
        return config
    section = loaded.graph.extra.get("training")
    return dict(section) if isinstance(section, dict) else {}


def write_report(args: argparse.Namespace, loaded: Loaded, data: Any) -> list[str]:
    """Evaluate ``data`` and write every file; the lines to print."""
    from ..insight import compose, confusion_view, embed, evaluate, iter_batches, mistakes_view, normalize, write_png
    from ..insight import report as rp

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mean, std, classes, graph = loaded.mean, loaded.std, loaded.classes, loaded.graph
    batches = iter_batches(data, mean, std, limit=args.limit)
    samples = len(data) if args.limit is None else min(args.limit, len(data))
    ev = evaluate(loaded.module, batches, len(classes) or None, graph=graph, top=args.top, samples=samples)
    names = rp.class_names(len(ev.confusion), classes)
    precision, recall = rp.precision_recall(ev.confusion)
    side = int(loaded.graph[loaded.graph.input_ids()[0]].params["shape"][-1])
    wrong = [normalize(data[m.index][0], mean, std) for m in ev.mistakes]
    files = {
        "confusion.csv": rp.confusion_csv(ev, names),
        "per_class.csv": rp.per_class_csv(ev, names),
        "mistakes.csv": rp.mistakes_csv(ev, names),
    }
    pictures = {
        "confusion.png": compose(confusion_view(ev, names), CELL_PX),
        "per_class.png": rp.bars_image(precision, recall),
        "mistakes.png": compose(mistakes_view(wrong, ev), max(1, MISTAKE_PX // side)),
    }
    limit = args.embedding_samples
    emb = embed(
        loaded.module, iter_batches(data, mean, std, limit=limit), args.node, graph=graph, method=args.projection
    )
    files["embedding.csv"] = rp.embedding_csv(emb, names)
    pictures["embedding.png"] = rp.scatter_image(emb.points, emb.labels)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    for name, img in pictures.items():
        write_png(out / name, img)
    weakest = int(min(range(len(recall)), key=lambda k: recall[k] if recall[k] == recall[k] else 2.0))
    return [
        f"accuracy {ev.accuracy:.1%} on {ev.samples} samples; weakest class {names[weakest]} "
        f"(recall {recall[weakest]:.1%}, "
        + (f"precision {precision[weakest]:.1%})" if precision[weakest] == precision[weakest] else "never predicted)"),
        f"ran on {ev.runtime.runtime}: {ev.runtime.reason}",
        f"embedding: {emb.method} of '{emb.node_id}' over {len(emb.points)} samples",
        f"wrote {', '.join(sorted([*files, *pictures]))} to {out}",
    ]
