"""Make the README's insight pictures with the project itself: train the default template for a few epochs on the
built-in shapes dataset, then draw Grad-CAM and the feature maps of one validation sample with the insight CLI.

    python tools/readme_pictures.py        # writes docs/gradcam.png and docs/featuremaps.png (about a minute)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from designer.cli import main as cli  # noqa: E402  (after sys.path points at this checkout)
from designer.insight.images import write_png  # noqa: E402  (after sys.path points at this checkout)
from designer.training.data import load_data  # noqa: E402  (after sys.path points at this checkout)

TEMPLATE = ROOT / "templates" / "small_cnn.json"
SAMPLE = 7  # a validation sample; any index works


def _run(args: list[str]) -> None:
    code = cli(args)
    if code != 0:
        raise SystemExit(f"'{' '.join(args)}' exited {code}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        _run(["train", str(TEMPLATE), "--epochs", "3", "--lr", "0.003", "--out", str(run), "--quiet"])
        bundle = load_data("shapes", (1, 28, 28))  # the training run's defaults: the same validation split
        image, label = bundle.val[SAMPLE]
        sample = Path(tmp) / "sample.png"
        pixels = image.numpy()
        write_png(sample, pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
        print(f"sample {SAMPLE}: a {bundle.classes[label]}")
        _run(
            [
                "insight",
                str(run),
                "--image",
                str(sample),
                "--method",
                "gradcam",
                "-o",
                str(ROOT / "docs" / "gradcam.png"),
            ]
        )
        _run(
            [
                "insight",
                str(run),
                "--image",
                str(sample),
                "--method",
                "featuremaps",
                "--node",
                "relu1",
                "-o",
                str(ROOT / "docs" / "featuremaps.png"),
            ]
        )


if __name__ == "__main__":
    main()
