"""Make docs/runs_view.png: a small sweep of small_cnn on the shapes dataset, shown in the Runs view.

Run: ``QT_QPA_PLATFORM=offscreen python tools/runs_view_picture.py [--trials N]`` (about a minute on 2 CPU cores),
or ``python tools/screenshots.py runs_view.png`` with the README's other pictures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("-o", "--out", default=str(ROOT / "docs" / "runs_view.png"))
    args = parser.parse_args()
    print(f"wrote {render(Path(args.out), args.trials)}")
    return 0


def render(out: Path, trials: int = 8) -> Path:
    """Sweep ``trials`` trials of small_cnn and grab the Runs view showing them, the three best selected, to ``out``."""
    from PySide6.QtWidgets import QApplication

    from designer import save
    from designer.editing.templates import load_template
    from designer.sweep.runner import Sweep, SweepOptions
    from widgets import theme
    from widgets.panels.runs_view import RunsPanel

    app = QApplication.instance() or QApplication([])
    theme.use(theme.LIGHT)
    app.setPalette(theme.application_palette(theme.LIGHT))
    graph = load_template("small_cnn")
    graph.extra["training"] = dict(samples=1500, epochs=3, device="cpu", workers=0, batch_size=64, seed=1)
    graph.extra["search"] = {
        "conv1.out_channels": {"int": [4, 32], "log": True},
        "conv2.out_channels": {"int": [8, 64], "log": True},
        "lr": {"float": [3e-4, 3e-2], "log": True},
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "small_cnn.json"
        save(graph, path)
        Sweep(graph, SweepOptions(trials=trials, pruner="none"), project_path=path).run()
        panel = RunsPanel(lambda: (graph, str(path)))
        panel.resize(1100, 760)
        panel.refresh()
        best = sorted(panel.rows, key=lambda r: -(r.get("val_acc") or 0))[:3]
        panel.select([r.name for r in best])
        panel.tabs.setCurrentIndex(0)
        panel.show()
        app.processEvents()
        panel.status.setText(f"sweep done: {trials} trials; the three best selected")
        panel.table.scrollToTop()  # selecting scrolled to the last row selected
        app.processEvents()
        panel.grab().save(str(out))
    return out


if __name__ == "__main__":
    sys.exit(main())
