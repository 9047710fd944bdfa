"""Make the README's segmentation and detection pictures with the project itself: train a template with its own
training section on the built-in data (or take a run folder already trained), then draw one validation sample with
``python -m designer predict`` (the true mask or boxes beside the prediction).

    python tools/task_pictures.py segmentation            # trains unet_shapes, writes docs/segmentation.png
    python tools/task_pictures.py detection --run RUN     # tiny_yolo's run folder, writes docs/detection.png
    python tools/task_pictures.py fast_rcnn               # trains fast_rcnn_shapes, writes docs/fast_rcnn.png
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from designer.cli import main as cli  # noqa: E402  (after sys.path points at this checkout)
from designer.insight.images import write_png  # noqa: E402
from designer.model.fileformat import load  # noqa: E402
from designer.training.config import read_section  # noqa: E402
from designer.training.task_data import load_task_data  # noqa: E402

TEMPLATES = {"segmentation": "unet_shapes", "detection": "tiny_yolo", "fast_rcnn": "fast_rcnn_shapes"}


def _run(args: list[str]) -> None:
    code = cli(args)
    if code != 0:
        raise SystemExit(f"'{' '.join(args)}' exited {code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=sorted(TEMPLATES))
    parser.add_argument("--run", type=Path, help="a run folder of the task's template (default: train one now)")
    parser.add_argument("--sample", type=int, default=3, help="the validation sample to draw (3)")
    args = parser.parse_args()
    template = ROOT / "templates" / f"{TEMPLATES[args.task]}.json"
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or Path(tmp) / "run"
        if args.run is None:
            _run(["train", str(template), "--out", str(run), "--quiet"])
        graph = load(template)
        cfg = read_section(graph)
        shape = graph[graph.input_ids()[0]].params["shape"]
        bundle = load_task_data(cfg.task, cfg.data, shape, val_split=cfg.val_split, seed=cfg.seed, samples=cfg.samples)
        image, target = bundle.val[args.sample]
        pixels = image.numpy()
        sample = Path(tmp) / "sample.png"
        write_png(sample, pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
        extra: list[str] = []
        if args.task == "segmentation":
            mask = Path(tmp) / "mask.png"
            write_png(mask, target.numpy().astype(np.uint8))
            extra = ["--mask", str(mask)]
        else:
            boxes = Path(tmp) / "boxes.txt"
            rows = [row for row in target.tolist() if row[0] >= 0]  # padded (label, x1, y1, x2, y2), -1 padding
            boxes.write_text("".join(f"{int(k)} {x1} {y1} {x2} {y2}\n" for k, x1, y1, x2, y2 in rows))
            extra = ["--boxes", str(boxes)]
        out = ROOT / "docs" / f"{args.task}.png"
        _run(["predict", str(run), "--image", str(sample), *extra, "-o", str(out)])


if __name__ == "__main__":
    main()
