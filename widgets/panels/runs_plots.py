"""The Runs view's plots (pyqtgraph, in the theme): overlaid epoch curves of the selected runs, accuracy against
parameters with the Pareto front, and the importance of each searched value."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from designer.palette import TAB10
from designer.sweep.table import RunRow, pareto_front
from designer.training.runs import read_metrics

from .plot_style import style_plots

#: Distinct colours for overlaid runs; runs beyond ten reuse them.
PALETTE = TAB10


class EpochAxis(pg.AxisItem):
    """An axis of whole epochs: no tick at 1.5 of an epoch, however far it is zoomed in."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:
        levels = [
            (spacing, [v for v in values if float(v).is_integer()])
            for spacing, values in super().tickValues(minVal, maxVal, size)
            if spacing >= 1
        ]
        if not levels:
            levels = [(1.0, [float(v) for v in range(math.ceil(minVal), math.floor(maxVal) + 1)])]
        return levels


class CurvesOverlay(pg.GraphicsLayoutWidget):
    """Validation loss and accuracy per epoch of several runs, one colour per run, against the epoch; the legend
    sits below the plots so that it never covers a curve."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = self.addPlot(row=0, col=0, title="Validation loss", axisItems={"bottom": EpochAxis("bottom")})
        self.acc_plot = self.addPlot(
            row=1, col=0, title="Validation accuracy", axisItems={"bottom": EpochAxis("bottom")}
        )
        self.acc_plot.setXLink(self.loss_plot)
        self.acc_plot.setLabel("bottom", "epoch")
        self.legend = pg.LegendItem(colCount=3)
        self.addItem(self.legend, row=2, col=0)
        self.shown: list[str] = []
        style_plots(self)

    def show_runs(self, rows: Sequence[RunRow]) -> None:
        """Overlay the epoch curves of ``rows`` (read from their ``metrics.csv``)."""
        for plot in (self.loss_plot, self.acc_plot):
            plot.clear()
        self.legend.clear()
        self.shown = []
        for k, row in enumerate(rows):
            metrics = read_metrics(row.path)
            pen = pg.mkPen(PALETTE[k % len(PALETTE)], width=2)
            for plot, column in ((self.loss_plot, "val_loss"), (self.acc_plot, "val_acc")):
                points = [
                    (float(r["epoch"]), float(r[column])) for r in metrics if r.get("kind") == "epoch" and r.get(column)
                ]
                xs, ys = [x for x, _ in points], [y for _, y in points]
                curve = plot.plot(xs, ys, pen=pen, symbol="o", symbolSize=5)
            self.legend.addItem(curve, row.name)
            self.shown.append(row.name)
        style_plots(self)


class ParetoScatter(pg.GraphicsLayoutWidget):
    """Validation accuracy against parameters, one point per run; the runs nothing cheaper beats joined in a line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = self.addPlot(title="Accuracy against parameters")
        self.plot.setLabel("bottom", "parameters")
        self.plot.setLabel("left", "validation accuracy")
        self.plot.setLogMode(x=True, y=False)
        # PlotDataItems, not a ScatterPlotItem: they follow the plot's log axis.
        self.points = pg.PlotDataItem(pen=None, symbol="o", symbolSize=8, symbolBrush=(31, 119, 180, 180))
        self.front_line = pg.PlotDataItem(
            pen=pg.mkPen((214, 39, 40), width=2),
            symbol="o",
            symbolSize=10,
            symbolBrush=None,
            symbolPen=pg.mkPen((214, 39, 40), width=2),
        )
        self.plot.addItem(self.points)
        self.plot.addItem(self.front_line)
        self.rows: list[RunRow] = []
        self.front: list[RunRow] = []
        style_plots(self)

    def show_runs(self, rows: Sequence[RunRow], metric: str = "best_val_acc") -> None:
        """Plot every row that has a parameter count and ``metric``; mark the Pareto front."""
        self.rows = [r for r in rows if r.params and r.get(metric) is not None]
        xy = [(float(r.params or 0), float(r.get(metric))) for r in self.rows]
        self.points.setData([x for x, _ in xy], [y for _, y in xy])
        self.front = [self.rows[i] for i in pareto_front(xy)]
        self.front_line.setData([float(r.params or 0) for r in self.front], [float(r.get(metric)) for r in self.front])


class ImportanceBars(pg.GraphicsLayoutWidget):
    """How much each searched value explains the objective (Optuna's fANOVA), as horizontal bars."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = self.addPlot(title="Parameter importance")
        self.plot.setLabel("bottom", "share of the objective's variance")
        self.bars: pg.BarGraphItem | None = None
        self.values: dict[str, float] = {}
        style_plots(self)

    def show_importances(self, values: dict[str, float]) -> None:
        """Draw one bar per searched value, the most important on top."""
        if self.bars is not None:
            self.plot.removeItem(self.bars)
            self.bars = None
        self.values = dict(values)
        names = list(reversed(list(values)))
        if not names:
            self.plot.getAxis("left").setTicks([[]])
            return
        self.bars = pg.BarGraphItem(
            x0=0,
            y=list(range(len(names))),
            height=0.6,
            width=[values[n] for n in names],
            brush=pg.mkBrush(*TAB10[0]),
        )
        self.plot.addItem(self.bars)
        self.plot.getAxis("left").setTicks([list(enumerate(names))])
        self.plot.setXRange(0, 1, padding=0.02)
