"""Live loss and accuracy curves of a run (pyqtgraph), redrawn at most a few times a second."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from designer.training.api import HEADLINES, METRIC_LABELS, metric_series

from .plot_style import style_plots


class CurvesView(pg.GraphicsLayoutWidget):
    """Loss and accuracy against the step: training per step (raw and smoothed) and per epoch, validation per epoch.

    The axes are fixed for a run (steps 0..total, accuracy 0..1, loss 0..a round ceiling that only grows), so a live
    update redraws the curves but not the axes, which cost most of a repaint.
    """

    def __init__(self, parent: QWidget | None = None, smoothing: float = 0.9):
        super().__init__(parent)
        self.smoothing = smoothing
        self.loss_plot = self.addPlot(row=0, col=0, title="Loss")
        self.acc_plot = self.addPlot(row=1, col=0, title="Accuracy")
        self.acc_plot.setXLink(self.loss_plot)
        self.acc_plot.setLabel("bottom", "step")
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        for plot, metric in ((self.loss_plot, "loss"), (self.acc_plot, "acc")):
            plot.addLegend(offset=(-10, 10))  # no grid: its translucent lines made each repaint five times slower
            plot.disableAutoRange()
            for name, label, pen, symbol in (
                ("train_step", "train (step)", (120, 160, 220, 90), None),
                ("train_smooth", "train (smoothed)", (30, 90, 200), None),
                ("train_epoch", "train (epoch)", (30, 90, 200), "o"),
                ("val_epoch", "validation (epoch)", (220, 90, 30), "s"),
            ):
                item = plot.plot(
                    name=label,
                    pen=pg.mkPen(pen, width=1 if name == "train_step" else 2),
                    symbol=symbol,
                    symbolSize=6,
                    symbolBrush=pen[:3] if symbol else None,
                )
                item.setDownsampling(auto=True, method="peak")
                item.setClipToView(True)
                self.curves[(name, metric)] = item
        # A task whose headline is not the accuracy (segmentation's mean IoU, detection's mAP@0.5) adds its curve.
        self.headline: str | None = None
        self.curves[("val_headline", "acc")] = self.acc_plot.plot(
            pen=pg.mkPen((40, 150, 60), width=2), symbol="t", symbolSize=7, symbolBrush=(40, 150, 60)
        )
        self.acc_plot.setYRange(0, 1, padding=0.02)
        style_plots(self)
        self.clear_data()

    def set_headline(self, metric: str | None) -> None:
        """Plot ``metric`` (a ``metrics.csv`` column such as ``val_miou``) beside the accuracy; None: none."""
        if metric == "val_acc":
            metric = None
        if metric == self.headline:
            return
        item, legend = self.curves[("val_headline", "acc")], self.acc_plot.legend
        if self.headline is not None:
            legend.removeItem(item)
        self.headline = metric
        if metric is not None:
            legend.addItem(item, f"validation {METRIC_LABELS.get(metric, metric)} (epoch)")
        self.acc_plot.setTitle("Accuracy" if metric is None else f"Accuracy and {METRIC_LABELS.get(metric, metric)}")
        style_plots(self)

    def clear_data(self, total_steps: int = 100) -> None:
        """Empty the plots for a run of ``total_steps``."""
        self.data: dict[tuple[str, str], tuple[list[float], list[float]]] = {k: ([], []) for k in self.curves}
        self._ema: dict[str, float | None] = {"loss": None, "acc": None}
        self._dirty = set(self.curves)
        self._loss_top = 0.0
        self.set_headline(None)
        self.loss_plot.setXRange(0, max(1, total_steps), padding=0.01)
        self.refresh()

    def add(self, series: str, metric: str, step: float, value: float | None) -> None:
        if value is None or not math.isfinite(value):
            return
        xs, ys = self.data[(series, metric)]
        xs.append(step)
        ys.append(value)
        self._dirty.add((series, metric))
        if metric == "loss" and value > self._loss_top:
            self._loss_top = _nice_ceiling(value)
            self.loss_plot.setYRange(0, self._loss_top, padding=0.02)
        if series == "train_step":
            prev = self._ema[metric]
            self._ema[metric] = value if prev is None else self.smoothing * prev + (1 - self.smoothing) * value
            self.add("train_smooth", metric, step, self._ema[metric])

    def load_rows(self, rows: list[dict[str, str]], total_steps: int | None = None) -> None:
        """Show a run from its ``metrics.csv`` rows (a past run, or the start of a resumed one)."""
        self.clear_data(total_steps or max((int(r["step"]) for r in rows), default=1))
        for kind, series in (("step", "train_step"), ("epoch", "train_epoch")):
            for metric in ("loss", "acc"):
                for x, y in zip(*metric_series(rows, kind, f"train_{metric}")):
                    self.add(series, metric, x, y)
        for metric in ("loss", "acc"):
            for x, y in zip(*metric_series(rows, "epoch", f"val_{metric}")):
                self.add("val_epoch", metric, x, y)
        columns = set(rows[0]) if rows else set()
        self.set_headline(next((h for h in HEADLINES.values() if h in columns and h != "val_acc"), None))
        if self.headline is not None:
            for x, y in zip(*metric_series(rows, "epoch", self.headline)):
                self.add("val_headline", "acc", x, y)
        self.refresh()

    def refresh(self) -> None:
        """Hand the curves that changed since the last refresh to pyqtgraph (which then repaints once)."""
        for key in self._dirty:
            xs, ys = self.data[key]
            self.curves[key].setData(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
        self._dirty = set()

    def points(self, series: str, metric: str) -> list[float]:
        return list(self.data[(series, metric)][1])


def _nice_ceiling(value: float) -> float:
    """1, 1.5, 2, 3, 5 or 7 times a power of ten, at least ``value``: the loss axis changes only a few times."""
    power = 10 ** math.floor(math.log10(value)) if value > 0 else 1.0
    return next(m * power for m in (1, 1.5, 2, 3, 5, 7, 10) if m * power >= value)
